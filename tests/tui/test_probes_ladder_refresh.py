"""The Probes tab follows a probe ladder's run as its driver adds probes (lorplan.probe.runs.add_probes, as
lorplan.recommend.driver does when a pass starts), and hides the keys that need a run while there is none.

Before: the tab read a run's plan.json once, so it stayed on the first pass ("r0,16,16,16 · 4 finished · done",
and `v` compared those four) while the Recommend tab and `lorplan probe list` counted 8 probes; and with no run
c, C, t and v did nothing without a word (then said only "No probe run yet"; now they are not offered)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static
from tui_helpers import PanelApp, wait_until

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import ProbeSpec, add_probes, atomic_write_json, create_run
from lorplan.tui.panels.probes_panel import ProbesPanel
from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio

RUN = "20261204-100000-1add"


def _finished(run, pid, eval_loss):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    for s in range(1, 4):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": eval_loss + 0.1, "seconds": 0.1})
    atomic_write_json(run.result_path(pid), {"state": "finished", "step": 3, "eval_loss": eval_loss,
                                             "eval_accuracy": 0.9, "train_seconds": 1.0, "load_seconds": 2.0})


def _summary(panel) -> str:
    return str(panel.query_one("#probes-summary", Static).render())


async def test_probes_a_ladder_adds_later_are_shown_labelled_counted_and_compared(tmp_path):
    plan = runner.make_plan((16,), seeds=(0, 1, 2), steps=3, device="cpu", run=RUN)
    run = create_run(replace(plan, probes=(ProbeSpec("base", 0), *plan.probes)), tmp_path)  # the first pass
    for pid in ("base", "r16-s0", "r16-s1", "r16-s2"):
        _finished(run, pid, 0.5)
    app = PanelApp(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        table = panel.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: "4 finished" in _summary(panel) and len(panel.ranks) == 2)
        assert f"{RUN} · base, r16×3 · demo" in screen_text(app)  # was r0,16,16,16

        # the driver's next pass (driver._specs -> runs.add_probes): four more ranks, queued
        add_probes(run, [ProbeSpec(f"r{r}-s0", r, None, 0) for r in (1, 4, 64, 256)])
        await wait_until(pilot, lambda: table.row_count == 8)
        await wait_until(pilot, lambda: f"{RUN} · base, r1,4,16×3,64,256 · demo" in screen_text(app))
        await wait_until(pilot, lambda: "4 queued, 4 finished" in _summary(panel))
        assert "done" not in _summary(panel)

        for pid, loss in (("r1-s0", 0.9), ("r4-s0", 0.6), ("r64-s0", 0.3), ("r256-s0", 0.31)):
            _finished(run, pid, loss)
        await wait_until(pilot, lambda: "8 finished" in _summary(panel) and "done" in _summary(panel))
        await wait_until(pilot, lambda: [r.rank for r in panel.ranks] == [0, 1, 4, 16, 64, 256])
        table.focus()
        await pilot.press("v")
        await pilot.pause()
        text = str(panel.query_one("#probes-compare-table", Static).content)
        assert [line.split()[0] for line in text.splitlines()[1:7]] == ["base", "1", "4", "16", "64", "256"]


def _offered(app) -> set[str]:
    """The keys the footer offers (shown bindings whose check_action allows them)."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


async def test_keys_that_need_a_run_are_not_offered_while_there_is_none(tmp_path):
    """c, t and v were in the footer with no run, each answering only "No probe run yet"; they are hidden
    until a run is shown (c while a probe is queued or running, t once one has ended)."""
    app = PanelApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(ProbesPanel)
        await wait_until(pilot, lambda: panel.has_class("-empty") and app.focused is panel)
        assert "p" in _offered(app) and not _offered(app) & {"c", "t", "v"}, _offered(app)
        for key in ("c", "C", "t", "v"):
            await pilot.press(key)
        await pilot.pause(0.3)
        assert not list(app._notifications) and not panel.has_class("-compare")  # nothing acted
        assert "No probe runs yet. Press p" in screen_text(app)  # the panel says what to do instead
        run = create_run(runner.make_plan((4, 8), steps=3, device="cpu", run=RUN), tmp_path)
        await wait_until(pilot, lambda: {"c", "v"} <= _offered(app))
        assert "t" not in _offered(app)  # every probe is queued: none to retry
        _finished(run, "r4", 1.2)
        _finished(run, "r8", 1.1)
        await wait_until(pilot, lambda: {"t", "v"} <= _offered(app) and "c" not in _offered(app))  # none to cancel


async def test_the_summary_says_the_ladder_runs_between_its_passes_and_cancelled_once_cancelled(tmp_path):
    """Every probe of a pass has ended and the scheduler has exited, but the ladder's driver lives (it holds
    the run's driver lock and is about to add the next pass): the summary said "done"; it says "ladder running",
    "done" once the driver is gone (one probe the ladder stopped), and "cancelled" for a run the user
    cancelled."""
    import fcntl
    import os

    plan = runner.make_plan((16,), seeds=(0, 1, 2), steps=3, device="cpu", run=RUN)
    run = create_run(replace(plan, probes=(ProbeSpec("base", 0), *plan.probes)), tmp_path)
    for pid in ("base", "r16-s0", "r16-s1"):
        _finished(run, pid, 0.5)
    atomic_write_json(run.result_path("r16-s2"), {"state": "cancelled", "step": 1, "message": "stopped by the ladder"})
    fd = os.open(run.driver_lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    app = PanelApp(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        try:
            await wait_until(pilot, lambda: "3 finished, 1 cancelled" in _summary(panel))
            await pilot.pause(0.5)  # a few polls
            assert "ladder running" in _summary(panel) and "done" not in _summary(panel)
        finally:
            os.close(fd)
        await wait_until(pilot, lambda: "1 cancelled · done" in _summary(panel))
        run.run_cancel_marker.write_text("1.0\n")
        await wait_until(pilot, lambda: "1 cancelled · cancelled" in _summary(panel))
