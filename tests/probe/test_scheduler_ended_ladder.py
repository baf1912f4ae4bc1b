"""The scheduler on a probe ladder that has ended (done, or cancelled: RunDir.ladder_end).

A retry (`probe retry`, the Probes tab's `t`) refuses a probe of an ended ladder (runner.retry), but a retry that
passed that check in the moment the ladder ended still queued the probe and started a scheduler, which launched
it, and every other probe the ladder had left queued, for a driver that no longer reads their results. The
scheduler now reads the ladder's state before it launches and launches nothing on an ended ladder, saying so in
scheduler.log with the retry's own refusal; the probes stay queued, `not run` (RunStatus.not_run).

Run folders written from recorded state and a real scheduler process (LocalProcessBackend.submit); the model is
not there, so a probe launched by mistake fails, but leaves its proc.json."""

from __future__ import annotations

import time

import pytest
from ladder_folders import CountingBackend, failed_probe, ladder_run

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend, lock_held
from lorplan.probe.runs import read_json
from lorplan.recommend.ladder_spec import LadderState


def _scheduler_ran(run, timeout_s: float = 60.0) -> str:
    """scheduler.log once the scheduler started for `run` has exited (its lock let go after "scheduler done")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = run.scheduler_log.read_text() if run.scheduler_log.exists() else ""
        if "scheduler done" in log and not lock_held(run.scheduler_lock):
            return log
        time.sleep(0.1)
    raise AssertionError(f"the scheduler did not end within {timeout_s:g} s; its log: {log!r}")


def _retried_as_the_ladder_ends(state_home, cancelled: bool):
    """r2 failed and r4 queued in the ladder's first pass; the retry of r2 passes its check (the ladder still
    going) and queues it, then the ladder ends (done, or cancelled by the user) before the scheduler starts."""
    run, files = ladder_run(state_home)
    failed_probe(run, "r2")
    counted = CountingBackend()
    runner.retry(run, "r2", backend=counted)
    assert counted.launches == 1 and runner.attempts(run, "r2") == 1  # queued again; its scheduler asked for
    if cancelled:
        run.run_cancel_marker.write_text("")
    files.write_state(LadderState(passes=files.state().passes, done=True, cancelled=12.0 if cancelled else None))
    return run


@pytest.mark.parametrize("cancelled, word", [(False, "done"), (True, "cancelled")])
def test_a_scheduler_launches_nothing_on_an_ended_ladder(state_home, cancelled, word):
    run = _retried_as_the_ladder_ends(state_home, cancelled)
    LocalProcessBackend().submit(run)  # the scheduler the retry started, as a real process
    log = _scheduler_ran(run)
    assert [p.id for p in run.plan().probes if run.proc_path(p.id).exists()] == []  # nothing launched
    lines = [line for line in log.splitlines() if "launched nothing" in line]
    assert len(lines) == 1, log
    # the retry's refusal (runner.retry), said for the launch of every probe left queued (it named r2 alone)
    assert (f"launched nothing: probes r2 and r4 of run {run.id}: its probe ladder has ended ({word}) and its "
            "recommendation takes no new result, so the probes are not launched; to measure again start a new "
            "ladder (`lorplan recommend ...`) or probe run (`lorplan probe start ...`)") in lines[0]
    st = runner.status(run)
    assert st.not_run == ("r2", "r4") and st.done
    assert {p.message for p in st.probes} == {f"not run: its probe ladder has ended ({word}), and nothing starts it"}
    assert read_json(run.waiting_path) is None


def test_a_scheduler_still_launches_on_a_ladder_going(state_home):
    """The guard: the same retry on a ladder not ended (its driver stopped, or between passes) is launched."""
    run, _ = ladder_run(state_home)
    failed_probe(run, "r2")
    runner.retry(run, "r2", backend=CountingBackend())
    LocalProcessBackend().submit(run)
    deadline = time.monotonic() + 60
    while not run.proc_path("r2").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_json(run.proc_path("r2")) is not None, run.scheduler_log.read_text()
    runner.cancel(run, grace_s=1.0)
