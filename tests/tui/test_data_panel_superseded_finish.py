"""The Data tab's answer from a profile superseded after it was sent. A worker checks that it was not cancelled and
posts its ProfileFinished (or ProfileFailed); a new profile asked for before the panel reads that message cancels a
worker that is already done, and the message was still taken: the running state ended while the new file was being
profiled, and the old file's figures were shown (and handed to the plan as the dataset) until the new one's came. A
message whose path, schema and options are not those of the profile asked for last is now dropped.

The race is made deterministic: the old profile is held by a gate around the real bridge.profile_dataset
(tui_helpers), let through, and the event loop waits (blocked, as a busy UI is) until the worker has posted its
answer; the new profile is asked for before the loop runs again, so the answer is read after it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from tui_helpers import ProfileGate, wait_until

from lorplan.tui.messages import DatasetProfiled, ProfileFailed, ProfileFinished
from lorplan.tui.panels.data_panel import DataPanel

pytestmark = pytest.mark.anyio


class PanelApp(App):
    def __init__(self):
        super().__init__()
        self.profiled: list[str] = []  # the paths of the DatasetProfiled messages the panel sent up

    def compose(self) -> ComposeResult:
        yield DataPanel()

    def on_dataset_profiled(self, message: DatasetProfiled) -> None:
        self.profiled.append(Path(message.data.path).name)


@pytest.fixture
def gate(monkeypatch):
    g = ProfileGate(monkeypatch)
    yield g
    g.open_all()


def _pairs(path: Path) -> Path:
    path.write_text("".join(f'{{"prompt": "q {i} ", "completion": "{"a " * (1 + i % 5)}"}}\n' for i in range(30)))
    return path


def _answers_posted(monkeypatch, panel: DataPanel) -> threading.Event:
    """Set once the panel's worker has posted a ProfileFinished or ProfileFailed (from its thread)."""
    posted = threading.Event()
    real = panel.post_message

    def post(message):
        sent = real(message)
        if isinstance(message, ProfileFinished | ProfileFailed):
            posted.set()
        return sent

    monkeypatch.setattr(panel, "post_message", post)
    return posted


async def _supersede_after_the_answer(pilot, monkeypatch, gate, old: Path, new: Path) -> DataPanel:
    panel = pilot.app.query_one(DataPanel)
    panel.set_context(None, 64)
    path = panel.query_one("#data-path")
    path.value = str(old)
    panel.start_profile()
    await wait_until(pilot, lambda: len(gate.calls) == 1)
    posted = _answers_posted(monkeypatch, panel)
    gate.let_through(old)
    assert posted.wait(60), "the old profile never answered"  # the loop is held: the answer waits in line
    path.value = str(new)  # the user asks for another file before the panel read the answer
    panel.start_profile()
    await pilot.pause(0.3)
    assert [call[0] for call in gate.calls] == [str(old), str(new)]
    return panel


async def test_a_finished_profile_superseded_before_it_is_read_is_dropped(tmp_path, monkeypatch, gate):
    old, new = _pairs(tmp_path / "old.jsonl"), _pairs(tmp_path / "new.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await _supersede_after_the_answer(pilot, monkeypatch, gate, old, new)
        assert panel.has_class("-running"), "the running state ended while the new file was being profiled"
        assert panel.profile is None and app.profiled == [], app.profiled  # the old file was not taken
        assert str(new) in str(panel.query_one("#data-status").render())
        gate.let_through(new)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"), timeout=60)
        await pilot.pause()
        assert panel.profile.path == str(new) and app.profiled == ["new.jsonl"]


async def test_a_failed_profile_superseded_before_it_is_read_says_nothing(tmp_path, monkeypatch, gate):
    gone, new = tmp_path / "gone.jsonl", _pairs(tmp_path / "new.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await _supersede_after_the_answer(pilot, monkeypatch, gate, gone, new)
        status = str(panel.query_one("#data-status").render())
        assert panel.has_class("-running") and "Profile failed" not in status and str(new) in status, status
        gate.let_through(new)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"), timeout=60)
        assert panel.profile.path == str(new)


async def test_a_finished_profile_of_the_same_file_asked_again_is_dropped_too(tmp_path, monkeypatch, gate):
    """The same file asked for again (after an edit on disk, say): the answer of the first ask is not the second's."""
    same = _pairs(tmp_path / "same.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 64)
        panel.query_one("#data-path").value = str(same)
        panel.start_profile()
        await wait_until(pilot, lambda: len(gate.calls) == 1)
        posted = _answers_posted(monkeypatch, panel)
        gate.let_through(same)
        assert posted.wait(60)
        first = gate.calls[0]
        gate._events.clear()  # the second ask is held again
        panel.start_profile()
        await pilot.pause(0.3)
        assert gate.calls == [first, first] and panel.has_class("-running") and panel.profile is None
        gate.let_through(same)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"), timeout=60)
        assert app.profiled == ["same.jsonl"]


async def test_progress_of_a_superseded_profile_is_dropped_too(tmp_path, gate):
    """A progress message posted by the old run before it saw its cancel is read after the new ask: it moved the
    new run's bar, and the first pass of an old large JSON file made the status say '… checking the file (pass 1 of
    2)', then '… reading rows (pass 2 of 2)', of a new file read in one pass."""
    from lorplan.core.data import json_array
    from lorplan.tui.messages import ProfileProgressed

    old, new = _pairs(tmp_path / "old.jsonl"), _pairs(tmp_path / "new.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 64)
        path = panel.query_one("#data-path")
        path.value = str(old)
        panel.start_profile()
        await wait_until(pilot, lambda: len(gate.calls) == 1)
        first = panel._profiled.generation
        path.value = str(new)
        panel.start_profile()
        await wait_until(pilot, lambda: len(gate.calls) == 2)
        # what the old run's worker posted before its cancel, read now
        panel.post_message(ProfileProgressed(40, 100, json_array.CHECKING, first))
        await pilot.pause(0.2)
        status = str(panel.query_one("#data-status").render())
        assert status == f"Profiling {new} …", status
        assert panel.query_one("#data-progress").progress == 0
        panel.post_message(ProfileProgressed(30, 100, "bytes", panel._profiled.generation))  # the new run's own
        await pilot.pause(0.2)
        assert panel.query_one("#data-progress").progress == 30
        assert str(panel.query_one("#data-status").render()) == f"Profiling {new} …"
        gate.let_through(old)  # the cancelled run ends (its answer dropped) and the new one's is read
        gate.let_through(new)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"), timeout=60)
        assert app.profiled == ["new.jsonl"]
