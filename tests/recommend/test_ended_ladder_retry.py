"""A probe ladder that has ended (done, or cancelled: RunDir.ladder_ended) and what is left of it: a retry, and
its probes still queued (run folders written from recorded state: no probe trains).

The retry (runner.retry: the Probes tab's `t`) queued a probe of an ended ladder again and started a scheduler
for it: that scheduler also launched every other probe still queued in the ladder's plan (what `probe status`,
`wait` and `recommend --run` no longer start), a cancelled ladder lost its run-cancel marker, and nothing
restarted the scheduler if it died. The ladder's recommendation would not have taken the result in either: its
driver has ended. It is now refused in one line saying why and what measures again; nothing is moved or started.

Probes an ended ladder left queued, with no scheduler, were "stalled" (RunStatus.stalled, the Probes tab) and the
run "running", while nothing would ever start them, and no line of `probe status` said so. Their message now says
they are not run and why, and the run's probes count as ended."""

from __future__ import annotations

import json

import pytest
from ladder_folders import failed_probe, ladder_run

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.runs import create_run
from lorplan.recommend.ladder_spec import LadderState


class NoSpawnBackend(LocalProcessBackend):
    """The local backend minus the scheduler's launch (a test boundary): records submit calls."""

    def __init__(self) -> None:
        super().__init__(False)
        self.submitted: list[str] = []

    def submit(self, run) -> None:
        self.submitted.append(run.id)


def _ladder(state_home):
    """A ladder's run of ranks 2 and 4 (its first pass), r2 failed, r4 still queued; no driver or scheduler."""
    run, files = ladder_run(state_home)
    failed_probe(run, "r2")
    return run, files


def _done(state_home):
    run, files = _ladder(state_home)
    files.write_state(LadderState(passes=files.state().passes, done=True))
    return run, files


def _cancelled(state_home):
    """`lorplan probe cancel RUN` as the ladder's driver leaves it (Driver.step): the run's cancel marker, the
    ladder cancelled after 12 s, its queued r4 cancelled."""
    run, files = _ladder(state_home)
    run.run_cancel_marker.write_text("")
    files.write_state(LadderState(passes=files.state().passes, done=True, cancelled=12.0))
    assert runner.cancel(run, probe_id="r4", reason="the user cancelled the run") == ["r4"]
    return run, files


@pytest.mark.parametrize("ended, word", [(_done, "done"), (_cancelled, "cancelled")])
def test_a_retry_on_an_ended_ladder_is_refused_in_one_line(state_home, ended, word):
    run, _ = ended(state_home)
    backend = NoSpawnBackend()
    with pytest.raises(BadInput) as refused:
        runner.retry(run, "r2", backend=backend)
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith(f"probe r2 of run {run.id}: its probe ladder has ended ({word})")
    assert "takes no new result" in line and "`lorplan recommend" in line and "`lorplan probe start" in line
    assert backend.submitted == [] and not run.scheduler_log.exists()  # no scheduler asked for
    assert runner.attempts(run, "r2") == 0 and run.result_path("r2").exists()  # nothing moved aside
    assert run.run_cancel_marker.exists() == (word == "cancelled")  # a cancelled ladder stays cancelled
    assert runner.status(run, backend).probes[0].state == "failed"


def test_a_retry_on_a_ladder_still_going_is_queued_as_before(state_home):
    """A ladder not done (its driver stopped, or between passes) takes a retry: its driver reads the result."""
    run, _ = _ladder(state_home)
    backend = NoSpawnBackend()
    runner.retry(run, "r2", backend=backend)
    assert backend.submitted == [run.id] and runner.attempts(run, "r2") == 1
    assert runner.status(run, backend).probes[0].state == "queued"


def test_an_ended_ladders_queued_probe_is_not_run_and_says_why(state_home, capsys):
    run, _ = _done(state_home)
    st = runner.status(run)
    r2, r4 = st.probes
    assert r4.state == "queued"  # what its files say: never launched
    assert r4.message == "not run: its probe ladder has ended (done), and nothing starts it"
    assert st.ladder_end == "done" and st.not_run == ("r4",)
    assert not st.stalled  # nothing will ever start it: not a scheduler to restart
    assert st.probes_ended and st.done and st.state == "done"

    assert main(["probe", "status", run.id]) == 0
    out = capsys.readouterr().out
    assert "stalled" not in out and "restarted" not in out
    assert f"{'':<10} not run: its probe ladder has ended (done), and nothing starts it" in out.splitlines()
    assert main(["probe", "status", run.id, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["state"] == "done" and got["scheduler"] == "stopped"
    assert {p["id"]: p["message"] for p in got["probes"]}["r4"] == r4.message
    assert not run.scheduler_log.exists()


def test_a_plain_runs_and_a_going_ladders_queued_probes_are_still_stalled(state_home):
    """Guards: only an ended ladder's queued probes are not run; a killed scheduler's elsewhere is restarted."""
    run, _ = _ladder(state_home)
    st = runner.status(run)
    assert st.ladder_end is None and st.not_run == () and st.stalled and not st.done
    assert st.probes[1].message is None
    plain = create_run(runner.make_plan((4,), steps=10, device="cpu", model="/models/not-here"), state_home)
    st = runner.status(plain)
    assert st.ladder_end is None and st.stalled and st.state == "running"
