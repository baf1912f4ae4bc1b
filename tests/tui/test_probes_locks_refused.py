"""The Probes tab on a run folder whose file system refuses flock (ENOLCK from a network file system without its
lock service, EOPNOTSUPP): each read of a run tests its locks (scheduler, driver, a running probe's alive.lock),
and the refusal (probe.backend.LocksRefused) ended the panel's read in its worker: the tab stopped updating and
the planner reported a failed job ('_read failed: LocksRefused: ...'). Now the read carries the one line as its
problem: the panel says it once and keeps the run list, the table and the curves it had. The refusal is
simulated where the OS reports it (fcntl.flock)."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest
from textual.widgets import DataTable, Select
from tui_helpers import NoSpawnBackend, PanelApp, wait_until

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.tui import probe_bridge
from lorplan.tui.panels.probes_panel import ProbesPanel

pytestmark = pytest.mark.anyio


def _refused(fd, op):
    raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))


def _run(root):
    """A run whose r4 finished (20 steps) and whose r8 ran 3 steps; a scheduler was here (its lock is tested)."""
    run = create_run(runner.make_plan((4, 8), steps=20, device="cpu", run="20261128-100000-abcd"), root)
    for pid, steps in (("r4", 20), ("r8", 3)):
        atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        append_event(run.events_path(pid), {"type": "started", "lr": 0.002, "device": "cpu"})
        for s in range(1, steps + 1):
            append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 0.7 - 0.01 * s})
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 20, "eval_loss": 0.41,
                                              "wall_seconds": 75.0, "lr": 0.002})
    run.scheduler_lock.touch()
    return run


def _line(run, lock: str) -> str:
    return (f"probe run folder {run.path}: its file system refuses file locks ({lock}: Errno {errno.ENOLCK} "
            f"{os.strerror(errno.ENOLCK)}); put runs on a local disk: point XDG_STATE_HOME at a folder there")


def test_a_read_says_the_refusal_and_lists_the_runs(tmp_path, monkeypatch):
    run = _run(tmp_path)
    feed = probe_bridge.ProbeFeed(tmp_path, NoSpawnBackend())
    monkeypatch.setattr(fcntl, "flock", _refused)
    read = feed.read(None)  # was: LocksRefused raised out of the read
    assert read.problem == _line(run, "scheduler.lock")
    assert read.run == run and read.status is None
    assert [run_id for run_id, _ in read.runs] == [run.id]


async def test_the_panel_keeps_what_it_showed_and_says_the_line_once(tmp_path, monkeypatch):
    run = _run(tmp_path)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        table = app.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: panel.plotted.get("r4") == 20 and table.row_count == 2)
        shown = {key.value: [str(c) for c in table.get_row(key)] for key in table.rows}
        plotted = dict(panel.plotted)
        assert shown["r8"][1] == "died"  # its process (no lock holder) is gone
        with monkeypatch.context() as m:
            m.setattr(fcntl, "flock", _refused)
            await wait_until(pilot, lambda: any(n.message == _line(run, "scheduler.lock") for n in app._notifications))
            reads = panel._reads
            await wait_until(pilot, lambda: panel._reads >= reads + 3)  # refused read after refused read
            await app.workers.wait_for_complete()
            await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages == [_line(run, "scheduler.lock")]  # once, as it is: no failed job, no class name
        assert app.is_running
        assert app.query_one("#probes-run", Select).value == run.id
        assert {key.value: [str(c) for c in table.get_row(key)] for key in table.rows} == shown
        assert panel.plotted == plotted
