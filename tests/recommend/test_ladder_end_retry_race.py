"""A retry (`lorplan probe retry`, the Probes tab's `t`) in the moment a probe ladder ends.

The scheduler launches nothing on an ended ladder (tests/probe/test_scheduler_ended_ladder.py), but two windows
were left on either side of its check:

- the driver decides the ladder is done from what it observed at the start of its step; a probe queued again
  after that look (and launched: the ladder still read "going") was trained for a ladder that then wrote done, its
  result read by nothing;
- runner.retry read the ladder's state before it took the run's queue lock and moved the probe's files aside: a
  ladder that ended between the two had its failed probe's result moved to attempt-1/ and the probe queued, read
  `not run` from then on (its failure no longer in `probe status`), though the retry was the one refused.

The driver now writes done under the queue lock, only when a fresh look still finds every probe ended, and the
retry reads the ladder's state again under that lock. Run folders written from recorded state (the model is not
there: a probe launched fails, leaving its proc.json); the moment is made by running the other side inside it."""

from __future__ import annotations

import time

import pytest
from ladder_folders import CountingBackend, failed_probe, ladder_run

from lorplan.core.errors import BadInput
from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend, lock_held
from lorplan.probe.runs import atomic_write_json, read_json
from lorplan.recommend import measured
from lorplan.recommend.driver import Driver
from lorplan.recommend.ladder_spec import LadderState


def _finished(run, probe_id: str) -> None:
    atomic_write_json(run.proc_path(probe_id), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    atomic_write_json(run.result_path(probe_id), {"state": "finished", "step": 10, "eval_loss": 1.5})


def _scheduler_done(run, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = run.scheduler_log.read_text() if run.scheduler_log.exists() else ""
        if "scheduler done" in log and not lock_held(run.scheduler_lock):
            return
        time.sleep(0.1)
    raise AssertionError(f"the scheduler did not end within {timeout_s:g} s")


def test_a_probe_retried_during_the_drivers_last_step_keeps_the_ladder_going(state_home, monkeypatch):
    run, files = ladder_run(state_home)
    failed_probe(run, "r2")
    _finished(run, "r4")  # every probe ended: this step ends the ladder

    decide = measured.recommendation
    retried = []

    def retried_meanwhile(*args, **kwargs):
        # after the step's look, before its decision is written (once: recommendation.json's write decides too):
        # r2 queued again, and launched by the scheduler the retry started, which still reads the ladder going
        if retried:
            return decide(*args, **kwargs)
        retried.append("r2")
        runner.retry(run, "r2", backend=LocalProcessBackend())
        deadline = time.monotonic() + 60
        while not run.proc_path("r2").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.proc_path("r2").exists(), run.scheduler_log.read_text()
        return decide(*args, **kwargs)

    monkeypatch.setattr(measured, "recommendation", retried_meanwhile)
    driver = Driver(run)
    assert driver.step() is False  # r2 runs again: not done, so the ladder reads its new result
    assert not files.state().done
    monkeypatch.setattr(measured, "recommendation", decide)
    _scheduler_done(run)  # r2 ends (its model is not there)
    assert read_json(run.result_path("r2")) is not None
    assert driver.step() is True and files.state().done  # with every probe ended again, the ladder is done


def test_a_ladder_that_ends_as_a_retry_starts_refuses_it_and_keeps_the_failure(state_home, monkeypatch):
    run, files = ladder_run(state_home)
    failed_probe(run, "r2")
    _finished(run, "r4")
    consent = runner._check_retry_consent

    def ended_meanwhile(*args, **kwargs):  # after the retry's first look at the ladder, before it moves files
        files.write_state(LadderState(passes=files.state().passes, done=True))
        return consent(*args, **kwargs)

    monkeypatch.setattr(runner, "_check_retry_consent", ended_meanwhile)
    counted = CountingBackend()
    with pytest.raises(BadInput, match=r"its probe ladder has ended \(done\).*is not queued again"):
        runner.retry(run, "r2", backend=counted)
    assert counted.launches == 0 and runner.attempts(run, "r2") == 0  # nothing moved or started
    st = runner.status(run)
    assert st.not_run == () and {p.id: p.state for p in st.probes} == {"r2": "failed", "r4": "finished"}
