"""ensure_driver (`lorplan recommend --run RUN`) on a ladder whose driver ends it just then, with a probe cut short.

ensure_driver read the ladder's state (not done) before it asked whether a driver lives: a driver that marked
the ladder done and exited between the two looked like a killed one. ensure_driver then queued the cut-short
probe again through runner.retry, which refuses a probe of an ended ladder (cf56482) with its user-facing line
("its probe ladder has ended ... start a new ladder"): `recommend --run` exited 2 on it, for a probe the user had
not asked to retry. The liveness is now read first (a driver writes done before it lets its lock go), and
requeue_cut_short queues nothing on an ended ladder, as on a cancelled run or a spent budget.

Run folders written from recorded state (no probe trains); the driver's launch is the test boundary."""

from __future__ import annotations

import pytest
from ladder_folders import CountingBackend, ladder_run

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json
from lorplan.probe.status import run_status
from lorplan.recommend import driver
from lorplan.recommend.ladder_spec import LadderFiles, LadderState


def _ladder(state_home):
    """A ladder's first pass of ranks 2 and 4: r2 killed mid-training (no result, no process), r4 finished."""
    run, files = ladder_run(state_home)
    atomic_write_json(run.proc_path("r2"), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path("r2"), {"type": "loading", "pid": 999999})
    append_event(run.events_path("r2"), {"type": "step", "step": 1, "loss": 1.0, "tokens_per_second": 100.0})
    atomic_write_json(run.proc_path("r4"), {"pid": 999998, "pgid": 999998, "device": "cpu", "slot": 0})
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 10, "loss": 1.0})
    assert {p.id: p.state for p in run_status(run).probes} == {"r2": "died", "r4": "finished"}
    return run, files


def _end(files) -> None:
    files.write_state(LadderState(passes=files.state().passes, done=True))


def test_requeue_cut_short_queues_nothing_on_an_ended_ladder(state_home):
    run, files = _ladder(state_home)
    _end(files)
    backend = CountingBackend()
    assert driver.requeue_cut_short(run, backend=backend) == []  # was runner.retry's BadInput
    assert backend.launches == 0 and runner.attempts(run, "r2") == 0
    assert run_status(run).probes[0].state == "died"


def test_a_driver_ending_the_ladder_as_ensure_driver_looks_starts_nothing(state_home, monkeypatch):
    """The driver marks the ladder done and exits between ensure_driver's two looks: nothing is queued again
    nor launched, and nothing is refused."""
    run, files = _ladder(state_home)
    launched: list[str] = []

    def ended_just_now(r) -> bool:  # the live driver wrote done, then let its lock go
        _end(LadderFiles(r))
        return False

    monkeypatch.setattr(driver, "driver_alive", ended_just_now)
    monkeypatch.setattr(driver, "launch_driver", lambda r, trust_remote_code=False: launched.append(r.id))
    assert driver.ensure_driver(run) is None
    assert launched == [] and runner.attempts(run, "r2") == 0 and not run.scheduler_log.exists()
    assert run_status(run).probes[0].state == "died"


@pytest.mark.parametrize("done", [False, True])
def test_ensure_driver_on_a_stopped_ladder_still_requeues_and_restarts(state_home, monkeypatch, done):
    """Guards: a stopped ladder (no driver, not done) gets its cut-short probe queued again and a driver; an
    ended one gets neither."""
    run, files = _ladder(state_home)
    if done:
        _end(files)
    launched: list[str] = []
    submitted: list[str] = []
    monkeypatch.setattr(driver, "launch_driver", lambda r, trust_remote_code=False: launched.append(r.id))
    monkeypatch.setattr(LocalProcessBackend, "submit", lambda self, r: submitted.append(r.id))
    got = driver.ensure_driver(run)
    if done:
        assert got is None and launched == [] and submitted == [] and runner.attempts(run, "r2") == 0
    else:
        assert got == driver.Restarted(("r2",)) and launched == [run.id] and submitted == [run.id]
        assert runner.attempts(run, "r2") == 1 and run_status(run).probes[0].state == "queued"
