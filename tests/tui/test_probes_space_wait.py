"""The Probes tab on a run whose queued probes wait for disk space (RunStatus.space_wait, as `lorplan probe status`
says it): the summary said "waiting" with no word of what for, and a queued probe's detail said only "queued".
The full disk is simulated at the OS boundary (os.statvfs answering 64 KiB free), as in
tests/probe/test_space_wait_status.py."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static
from tui_helpers import NoSpawnBackend, PanelApp, wait_until

from lorplan.probe import runner
from lorplan.probe.runs import create_run

pytestmark = pytest.mark.anyio


async def test_the_summary_and_a_queued_probe_say_the_run_waits_for_space(tmp_path, nearly_full):
    run = create_run(runner.make_plan((4, 8), steps=3, device="cpu", run="20261205-090000-abcd"), tmp_path)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        summary = app.query_one("#probes-summary", Static)
        await wait_until(pilot, lambda: "steps" in str(summary.render()))
        assert "waiting for disk space" in str(summary.render())
        app.query_one("#probes-table", DataTable).move_cursor(row=0)
        await pilot.pause()
        detail = str(app.query_one("#probes-detail", Static).render())
        assert "r4: queued" in detail and f"run {run.id} waits for disk space" in detail, detail
        assert "free space there" in detail and f"lorplan probe status {run.id}" in detail, detail
