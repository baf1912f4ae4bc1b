"""The Data tab when the plan's sequence length changes while a profile runs (DataPanel.set_context). A profile is
cut at the length the plan had when it was asked for; a new length re-cuts the profile in hand, but one still
running had none to re-cut, so its answer was shown, and sent up as the plan's dataset (DatasetProfiled, which the
Recommend tab's truncation note and the export read), at the old length: figures, histogram line and suggestion
button all for a length the plan no longer has. And while a second profile ran, the re-cut of the first one set
the bar to full and replaced the 'Profiling …' status. Each profile is held by a gate (tui_helpers.ProfileGate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import ProgressBar
from tui_helpers import ProfileGate, wait_until

from lorplan.tui.messages import DatasetProfiled
from lorplan.tui.panels.data_panel import DataPanel

pytestmark = pytest.mark.anyio


class PanelApp(App):
    def __init__(self):
        super().__init__()
        self.sent: list = []  # the profiles of the DatasetProfiled messages the panel sent up

    def compose(self) -> ComposeResult:
        yield DataPanel()

    def on_dataset_profiled(self, message: DatasetProfiled) -> None:
        self.sent.append(message.data.profile)


@pytest.fixture
def gate(monkeypatch):
    g = ProfileGate(monkeypatch)
    yield g
    g.open_all()


def _long(path: Path) -> Path:
    """Examples of a few to a few hundred characters: some lie beyond 16 tokens, none beyond 4,096."""
    path.write_text("".join(f'{{"prompt": "question {i} ", "completion": "{"answer " * (1 + 9 * (i % 9))}"}}\n'
                            for i in range(60)))
    return path


def _idle(panel: DataPanel) -> bool:
    return panel.profile is not None and not panel.has_class("-running")


def _figures(panel: DataPanel) -> str:
    return str(panel.query_one("#data-figures").render())


def _status(panel: DataPanel) -> str:
    return str(panel.query_one("#data-status").render())


async def test_a_seq_len_changed_during_the_first_profile_cuts_its_answer(tmp_path, gate):
    data = _long(tmp_path / "long.jsonl")
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 16)
        panel.query_one("#data-path").value = str(data)
        panel.start_profile()
        await wait_until(pilot, lambda: len(gate.calls) == 1)
        panel.set_context(None, 4096)  # the plan's seq len changes while the profile runs
        await pilot.pause()
        gate.let_through(data)
        await wait_until(pilot, lambda: _idle(panel), timeout=60)
        await pilot.pause()
        assert len(gate.calls) == 1  # re-cut, not re-tokenized
        assert panel.profile.seq_len == 4096 and panel.profile.truncated_tokens == 0, panel.profile.seq_len
        assert "seq len    4,096: 0 tokens truncated" in _figures(panel), _figures(panel)
        assert [p.seq_len for p in app.sent] == [4096]  # what the plan and the Recommend tab are handed
        assert panel.plan_data().profile.seq_len == 4096
        use = panel.query_one("#data-use-seq")
        assert not use.display or "it has 4,096" in str(use.label), use.label


async def test_a_seq_len_changed_during_a_later_profile_keeps_its_progress(tmp_path, gate):
    first, second = _long(tmp_path / "first.jsonl"), _long(tmp_path / "second.jsonl")
    gate.let_through(first)
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 16)
        panel.query_one("#data-path").value = str(first)
        panel.start_profile()
        await wait_until(pilot, lambda: _idle(panel), timeout=60)
        assert panel.profile.truncated_tokens > 0
        panel.query_one("#data-path").value = str(second)
        panel.start_profile()
        await wait_until(pilot, lambda: len(gate.calls) == 2)
        await pilot.pause()
        panel.set_context(None, 4096)
        await pilot.pause()
        # the figures on screen (the first file's) follow the new length; the run's state is not touched
        assert "seq len    4,096: 0 tokens truncated" in _figures(panel), _figures(panel)
        assert panel.has_class("-running") and f"Profiling {second}" in _status(panel), _status(panel)
        assert panel.query_one("#data-progress", ProgressBar).progress < 100
        gate.let_through(second)
        await wait_until(pilot, lambda: _idle(panel) and panel.profile.path == str(second), timeout=60)
        await pilot.pause()
        assert panel.profile.seq_len == 4096 and [p.seq_len for p in app.sent] == [16, 4096]
        assert "seq len    4,096: 0 tokens truncated" in _figures(panel), _figures(panel)
