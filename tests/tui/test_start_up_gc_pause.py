"""Python's cyclic collector is paused from the planner's import to its first frame (lorplan.tui.start_up_gc_pause,
which launch() and benchmarks/tui_latency.py use): it ran about 80 times over the import's objects (~14 ms of the
first frame on a 2-core machine). Whatever happens, it is on again afterwards."""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys

import pytest

from lorplan.core.errors import BadInput
from lorplan.tui import launch, start_up_gc_pause, take_start_up_gc_pause
from lorplan.tui.screens.main_screen import MainScreen

pytestmark = pytest.mark.anyio

SIZE = (120, 40)

# launch() as `lorplan` runs it, with Textual's run() made headless: what the collector did up to the first frame
LAUNCH_CHILD = r"""
import asyncio, gc, json, sys
import textual.app
runs = []
gc.callbacks.append(lambda phase, info: runs.append(info["generation"]) if phase == "start" else None)
from lorplan.tui import launch, terminal

terminal.need_terminal = lambda: None  # the test's stdin is not a terminal
seen = {}

def headless_run(self):
    from lorplan.tui.screens.main_screen import MainScreen
    display = self._display

    def first_frame(screen, renderable):
        if renderable is not None and isinstance(screen, MainScreen) and not self._batch_count:
            seen.setdefault("first_frame", {"runs": len(runs), "gc_on": gc.isenabled(),
                                            "plan_schema": "lorplan.core.plan.schema" in sys.modules})
        display(screen, renderable)

    self._display = first_frame

    async def run():
        async with self.run_test(size=(120, 40)) as pilot:
            while "first_frame" not in seen:
                await pilot.pause(0.01)
            for _ in range(100):
                if gc.isenabled():
                    break
                await pilot.pause(0.01)
            seen["gc_on_after_first_frame"] = gc.isenabled()
            self.exit(0)

    asyncio.run(run())

textual.app.App.run = headless_run
runs.clear()
assert launch() == 0
seen["gc_on_after_launch"] = gc.isenabled()
print(json.dumps(seen))
"""


def test_launch_pauses_the_collector_from_the_import_to_the_first_frame(tmp_path):
    result = subprocess.run([sys.executable, "-c", LAUNCH_CHILD], capture_output=True, text=True, timeout=120,
                            env={"XDG_CONFIG_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    # before: ~80 collections during the import; the first frame needed none of plan's schema (~10 ms) either
    assert seen["first_frame"] == {"runs": 0, "gc_on": False, "plan_schema": False}
    assert seen["gc_on_after_first_frame"] is True
    assert seen["gc_on_after_launch"] is True


def test_the_pause_ends_with_its_block_even_when_the_block_fails():
    assert gc.isenabled()
    with start_up_gc_pause():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), start_up_gc_pause():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    assert take_start_up_gc_pause() is False  # nothing left held for a later app


def test_a_collector_already_off_is_left_off_and_not_handed_to_the_app():
    gc.disable()
    try:
        with start_up_gc_pause():
            assert take_start_up_gc_pause() is False
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_the_app_takes_the_pause_over_and_resumes_it_after_its_first_frame(make_app):
    seen = {}
    with start_up_gc_pause():
        app = make_app()
        display = app._display

        def first_frame(screen, renderable):
            if renderable is not None and isinstance(screen, MainScreen) and not app._batch_count:
                seen.setdefault("gc_at_first_frame", gc.isenabled())
            display(screen, renderable)

        app._display = first_frame
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert seen["gc_at_first_frame"] is False
            for _ in range(50):  # resumed by the main screen once its first refresh is done, inside the block
                if gc.isenabled():
                    break
                await pilot.pause(0.02)
            assert gc.isenabled()
        assert take_start_up_gc_pause() is False
    assert gc.isenabled()


async def test_an_app_that_ends_before_its_first_frame_inside_the_pause_turns_the_collector_on(tmp_path):
    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp

    class EndsAtOnce(LorplanApp):
        def on_mount(self, event) -> None:
            event.prevent_default()  # LorplanApp's on_mount (which pushes the main screen) does not run
            self.exit()

    with start_up_gc_pause():
        app = EndsAtOnce(gpu_source=bridge.no_gpu("test"), config_path=tmp_path / "config.toml")
        async with app.run_test(size=SIZE):
            pass
        assert gc.isenabled()  # the app's own resume, not the block's end


@pytest.mark.parametrize("kwargs", [{"theme": "no-such-theme"}, {}], ids=["unknown theme", "no terminal"])
def test_launch_refused_leaves_the_collector_on(kwargs, monkeypatch):
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal, whatever runs the tests
    with pytest.raises(BadInput):
        launch(**kwargs)
    assert gc.isenabled()
    assert take_start_up_gc_pause() is False
