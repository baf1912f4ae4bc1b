"""The Probes tab on a probe ladder that has ended (done) with a failed probe and a probe still queued (run folders
written from recorded state; the tab's backend starts no scheduler).

The summary said "stalled" for the queued probe, which nothing will ever start (`probe status`, `wait` and
`recommend --run` start nothing for an ended ladder), and `t` queued the failed probe again and started a scheduler
that would also have trained the queued one. Now the summary says the ladder is done and its queued probes are not
run, the probe's detail says why, and `t` is refused with runner.retry's one line, nothing moved or started."""

from __future__ import annotations

import pytest
from ladder_folders import failed_probe, ladder_run
from textual.widgets import DataTable, Static
from tui_helpers import NoSpawnBackend, PanelApp, wait_until

from lorplan.probe import runner
from lorplan.tui.panels.probes_panel import ProbesPanel

pytestmark = pytest.mark.anyio


def _done_ladder(runs):
    """A done ladder of ranks 2 and 4: r2 failed, r4 still queued, no driver or scheduler."""
    run, _ = ladder_run(runs, done=True)
    failed_probe(run, "r2")
    return run


def _text(panel, selector: str) -> str:
    return str(panel.query_one(selector, Static).render())


async def test_an_ended_ladder_is_not_stalled_and_its_retry_is_refused(tmp_path):
    run = _done_ladder(tmp_path)
    backend = NoSpawnBackend()
    app = PanelApp(tmp_path, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(ProbesPanel)
        table = panel.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2 and "1 failed" in _text(panel, "#probes-summary"))
        summary = _text(panel, "#probes-summary")
        assert "stalled" not in summary
        assert "1 queued, 1 failed · ladder done: queued not run · 10 steps" in summary

        table.focus()
        table.move_cursor(row=1)  # r4, queued: its detail says why it stays so
        await wait_until(pilot, lambda: _text(panel, "#probes-detail").startswith("r4: queued"))
        assert _text(panel, "#probes-detail").splitlines()[0] == (
            "r4: queued — not run: its probe ladder has ended (done), and nothing starts it")

        table.move_cursor(row=0)  # r2, failed: `t` is refused with runner.retry's reason
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("t")
        await wait_until(pilot, lambda: list(app._notifications))
        (note,) = list(app._notifications)
        assert note.severity == "error"
        assert note.message.startswith(f"probe r2 of run {run.id}: its probe ladder has ended (done)")
        assert backend.submitted == [] and runner.attempts(run, "r2") == 0 and run.result_path("r2").exists()
