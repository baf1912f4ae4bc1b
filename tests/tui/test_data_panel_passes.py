"""The Data tab's status names the pass of a large JSON file's two (the bar fills once for each): "checking the
file" while the first pass reads its bytes, then "reading rows". Before, both said "Profiling FILE …"."""

from __future__ import annotations

import json

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from lorplan.core.data import json_array, readers
from lorplan.tui.messages import ProfileProgressed
from lorplan.tui.panels.data_panel import DataPanel

pytestmark = pytest.mark.anyio


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield DataPanel()


async def test_the_status_names_the_pass_of_a_large_json_file(tmp_path, monkeypatch):
    path = tmp_path / "under_key.json"
    path.write_text(json.dumps({"version": 1, "data": [{"text": f"row {i}"} for i in range(3000)]}))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        shown: list[str] = []
        status = panel._status
        monkeypatch.setattr(panel, "_status", lambda text, **kw: (shown.append(text), status(text, **kw)))
        panel.query_one("#data-path").value = str(path)
        panel.start_profile()
        for _ in range(600):
            if not panel.has_class("-running"):
                break
            await pilot.pause(0.05)
        assert not panel.has_class("-running")
        checking = f"Profiling {path} … checking the file (pass 1 of 2)"
        reading = f"Profiling {path} … reading rows (pass 2 of 2)"
        assert shown[0] == f"Profiling {path} …" and checking in shown and reading in shown
        assert shown.index(checking) < shown.index(reading)
        assert "Profile failed" not in str(panel.query_one("#data-status", Static).content)


async def test_a_one_pass_file_keeps_the_profiling_status():
    app = PanelApp()
    async with app.run_test(size=(120, 40)):
        panel = app.query_one(DataPanel)
        panel.set_class(True, "-running")
        panel._profiled = ("rows.jsonl", "auto", None)
        panel._status("Profiling rows.jsonl …")
        panel.on_profile_progressed(ProfileProgressed(10, 100, "bytes"))
        assert str(panel.query_one("#data-status", Static).content) == "Profiling rows.jsonl …"
        panel.on_profile_progressed(ProfileProgressed(10, 100, json_array.CHECKING))
        assert str(panel.query_one("#data-status", Static).content).endswith("checking the file (pass 1 of 2)")
        panel.on_profile_progressed(ProfileProgressed(1, 100, "rows"))
        assert str(panel.query_one("#data-status", Static).content).endswith("reading rows (pass 2 of 2)")


def test_a_progress_message_of_one_pass_does_not_replace_one_of_the_other():
    """Waiting progress messages replace each other (one repaint for a backlog), but not across passes: else a
    short first pass's messages could all be replaced by the rows' and the status would never name it."""
    checking = ProfileProgressed(5, 10, json_array.CHECKING)
    assert not checking.can_replace(ProfileProgressed(1, 10, "rows"))
    assert not ProfileProgressed(1, 10, "rows").can_replace(checking)
    assert ProfileProgressed(6, 10, json_array.CHECKING).can_replace(checking)


async def test_the_first_pass_is_told_by_the_core_s_unit_not_a_copy_of_it(monkeypatch):
    """The status names the checking pass from json_array.CHECKING as the core spells it (through bridge), so a
    new spelling there is followed here. Before, the panel compared the unit to its own literal "bytes checked"."""
    monkeypatch.setattr(json_array, "CHECKING", "bytes read to check")
    app = PanelApp()
    async with app.run_test(size=(120, 40)):
        panel = app.query_one(DataPanel)
        panel.set_class(True, "-running")
        panel._profiled = ("rows.json", "auto", None)
        panel._status("Profiling rows.json …")
        panel.on_profile_progressed(ProfileProgressed(10, 100, "bytes checked"))
        assert str(panel.query_one("#data-status", Static).content) == "Profiling rows.json …"
        panel.on_profile_progressed(ProfileProgressed(10, 100, "bytes read to check"))
        assert str(panel.query_one("#data-status", Static).content).endswith("checking the file (pass 1 of 2)")
