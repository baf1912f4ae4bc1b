"""The Data tab's "train on prompts too" against profiles in flight and a path typed back (review of 985faf1).

- Ticked while a profile ran and another path was typed (not submitted), it profiled the typed text (half a path,
  perhaps) in place of the file being profiled: the choice now waits for the typed file's profile, as it does
  with no profile running.
- Ticked with another path typed, then the profiled file's path typed back: the box said "on" beside figures and
  an export made with the prompts masked, for the file in the field (before 985faf1 the tick re-profiled that
  file at once). The choice now applies to it: it is profiled again with it.
- A profile superseded by another (exclusive worker, cancelled) that then failed still said "Profile failed" and
  ended the running state while the second profile was still being made.

Each profile is held at its start by a gate around the real bridge.profile_dataset (which then runs, unchanged),
so "in flight" is a state of the test, not a matter of timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import ProfileGate, paste_into, wait_until

from lorplan.tui.panels.data_panel import DataPanel
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = pytest.mark.anyio


def _chat(path: Path) -> Path:
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i} " * 4},
                                                     {"role": "assistant", "content": "answer " * (1 + i % 5)}]})
                            + "\n" for i in range(30)))
    return path


@pytest.fixture
def gate(monkeypatch):
    g = ProfileGate(monkeypatch)
    yield g
    g.open_all()


async def _open(pilot) -> tuple[DataPanel, Checkbox]:
    await pilot.press("f6")
    await pilot.pause()
    panel = pilot.app.screen.query_one(DataPanel)
    return panel, panel.query_one("#data-train-all", Checkbox)


async def _tick(pilot, box: Checkbox) -> None:
    before = box.value
    await pilot.click("#data-train-all")
    await pilot.pause(0.3)
    assert box.value is not before  # the click toggled it


def _idle_on(panel: DataPanel, path: Path) -> bool:
    return panel.profile is not None and panel.profile.path == str(path) and not panel.has_class("-running")


async def test_ticked_while_a_profile_runs_with_another_path_typed(make_app, tmp_path, gate):
    first, second = _chat(tmp_path / "first.jsonl"), _chat(tmp_path / "second.jsonl")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, box = await _open(pilot)
        await paste_into(pilot, "#data-path", str(first), submit=True)
        await wait_until(pilot, lambda: gate.asked == [(str(first), True)])
        assert panel.has_class("-running")
        half = str(second)[:-4]  # being typed: not a file yet
        await paste_into(pilot, "#data-path", half)
        await _tick(pilot, box)
        assert [path for path, _ in gate.asked] == [str(first)], gate.asked  # the half-typed path not profiled
        assert panel.query_one("#data-path").value == half
        gate.let_through(first)
        await wait_until(pilot, lambda: _idle_on(panel, first), timeout=60)
        await pilot.pause()
        assert "Profile failed" not in str(panel.query_one("#data-status").render())

        gate.let_through(second)  # the typed file, submitted: profiled with the choice made for it
        await paste_into(pilot, "#data-path", str(second), submit=True)
        await wait_until(pilot, lambda: _idle_on(panel, second), timeout=60)
        assert gate.asked[-1] == (str(second), False) and panel.plan_data().train_on == "all"


async def test_the_profiled_path_typed_back_takes_the_choice_made_meanwhile(make_app, tmp_path, gate):
    first, second = _chat(tmp_path / "first.jsonl"), _chat(tmp_path / "second.jsonl")
    gate.let_through(first)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, box = await _open(pilot)
        await paste_into(pilot, "#data-path", str(first), submit=True)
        await wait_until(pilot, lambda: _idle_on(panel, first), timeout=60)
        masked = panel.profile.trained_tokens
        await paste_into(pilot, "#data-path", str(second))
        await _tick(pilot, box)  # waits for second's profile
        assert len(gate.asked) == 1 and panel.plan_data().train_on == "completion"
        await paste_into(pilot, "#data-path", str(first))  # back on the profiled file: the box says on
        await wait_until(pilot, lambda: len(gate.asked) == 2 and _idle_on(panel, first), timeout=60)
        assert gate.asked[-1] == (str(first), False)
        assert box.value is True and panel.plan_data().train_on == "all" and panel.profile.trained_tokens > masked
        await paste_into(pilot, "#data-path", str(second))  # away and back again, nothing changed: no new profile
        await paste_into(pilot, "#data-path", str(first))
        await pilot.pause(0.3)
        assert len(gate.asked) == 2 and not panel.has_class("-running")


async def test_a_superseded_profile_that_fails_says_nothing(make_app, tmp_path, gate):
    missing, chat = tmp_path / "gone.jsonl", _chat(tmp_path / "chat.jsonl")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _box = await _open(pilot)
        await paste_into(pilot, "#data-path", str(missing), submit=True)
        await wait_until(pilot, lambda: len(gate.asked) == 1)
        await paste_into(pilot, "#data-path", str(chat), submit=True)  # the first is cancelled
        await wait_until(pilot, lambda: len(gate.asked) == 2)
        gate.let_through(missing)  # it fails now, superseded
        await pilot.pause(0.5)
        assert panel.has_class("-running"), "the running state ended while the second profile was being made"
        status = str(panel.query_one("#data-status").render())
        assert "Profile failed" not in status and str(chat) in status, status
        gate.let_through(chat)
        await wait_until(pilot, lambda: _idle_on(panel, chat), timeout=60)
        assert "Profile failed" not in str(panel.query_one("#data-status").render())
