"""Shared fixtures for the TUI tests: an isolated config dir and an app with no GPU (deterministic)."""

from __future__ import annotations

import pytest
from tui_helpers import until_started

from lorplan.tui import bridge

SNAPSHOT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every TUI test gets its own XDG dirs and HF cache: never the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


@pytest.fixture(autouse=True)
def collector_back_on():
    """The planner pauses the cyclic garbage collector from its import to its first frame
    (lorplan.tui.start_up_gc_pause, LorplanApp.on_load): whatever a test did with the app, it is on again after."""
    import gc

    assert gc.isenabled(), "the garbage collector was off before the test"
    yield
    assert gc.isenabled(), "the planner left the garbage collector off"


@pytest.fixture
def make_app(tmp_path):
    """Build a LorplanApp with no GPU, a config file in tmp_path, and a fixed model.

    Its run_test() returns once the GPU panel has its first answer, so every test starts from the same state.
    """
    from contextlib import asynccontextmanager

    from lorplan.tui.app import LorplanApp

    class StartedApp(LorplanApp):
        @asynccontextmanager
        async def run_test(self, *args, **kwargs):
            async with super().run_test(*args, **kwargs) as pilot:
                await until_started(pilot)
                yield pilot

    def factory(**kwargs):
        kwargs.setdefault("gpu_source", bridge.no_gpu("no NVIDIA driver (test)"))
        kwargs.setdefault("config_path", tmp_path / "config" / "lorplan" / "config.toml")
        kwargs.setdefault("model", SNAPSHOT_MODEL)
        return StartedApp(**kwargs)

    return factory


@pytest.fixture
def anyio_backend():
    """Pilot tests run on asyncio (anyio's pytest plugin drives `async def` tests marked anyio)."""
    return "asyncio"
