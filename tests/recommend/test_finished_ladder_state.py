"""A ladder that has ended, as `lorplan recommend --run RUN` and `lorplan probe` see it (run folders written from
recorded state: no probe trains).

A ladder the user cancelled (`lorplan probe cancel RUN`) read `"state": "done"` (with `cancelled_after`) in
recommend's JSON and `"cancelled"` in `probe status`, `list` and `wait` JSON for the same run: a script reading both
got two answers. Both now say "cancelled"; cancelled_after is kept, and a recommendation.json an older driver wrote
("done" with cancelled_after) reads "cancelled" too.

A ladder marked done with a probe still queued (no scheduler): `recommend --run RUN` started a scheduler for it
(restart_stalled), which trained it after the ladder had ended; a driver started on a done ladder did the same at
its first step. Re-attaching to an ended ladder now starts nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from ladder_folders import ladder_run

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.recommend import measured
from lorplan.recommend.driver import Driver, drive
from lorplan.recommend.ladder_spec import LadderState
from lorplan.recommend.observe import RunObserver


def _json(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def _cancelled_ladder(state_home):
    """`lorplan probe cancel RUN` on the ladder, and its driver's step that sees it (as the live driver does)."""
    run, files = ladder_run(state_home)
    run.run_cancel_marker.write_text("")
    assert Driver(run).step() is True
    assert files.state().done and files.state().cancelled is not None
    return run, files


def test_a_cancelled_ladder_reads_cancelled_in_recommend_and_in_probe(state_home, capsys):
    run, files = _cancelled_ladder(state_home)
    assert files.recommendation()["state"] == "cancelled"  # recommendation.json as the driver wrote it

    code, rec = _json(capsys, ["recommend", "--run", run.id, "--json"])
    assert code == 0
    assert rec["state"] == "cancelled" and isinstance(rec["cancelled_after"], float)
    code, status = _json(capsys, ["probe", "status", run.id, "--json"])
    assert code == 0 and status["ladder"] == {"state": "cancelled"} and status["state"] == "cancelled"
    code, listed = _json(capsys, ["probe", "list", "--json"])
    (row,) = listed["runs"]
    assert row["ladder"]["state"] == rec["state"] == status["ladder"]["state"]

    assert main(["recommend", "--run", run.id]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(f"run {run.id}: cancelled by the user after 0 s (the recommendation rests on what "
                          "finished)")


def test_wait_returns_for_a_cancelled_ladder(state_home):
    """--wait waited for "done": a cancelled ladder's recommendation says "cancelled", and is as final."""
    run, _ = _cancelled_ladder(state_home)
    got = subprocess.run([sys.executable, "-m", "lorplan", "recommend", "--run", run.id, "--wait", "--json"],
                         capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["state"] == "cancelled"


def test_an_older_drivers_done_with_cancelled_after_reads_cancelled(state_home, capsys):
    run, files = _cancelled_ladder(state_home)
    old = {**files.recommendation(), "state": "done"}  # what the driver wrote before: done, and cancelled_after
    files.write_recommendation(old)
    code, rec = _json(capsys, ["recommend", "--run", run.id, "--json"])
    assert code == 0 and rec["state"] == "cancelled" and rec["cancelled_after"] == old["cancelled_after"]


def _done_with_a_queued_probe(state_home):
    """A ladder marked done (not cancelled) whose probes are still queued, no scheduler or driver alive: what a
    probe queued again on a done ladder leaves, or a ladder whose files say done while its plan has more."""
    run, files = ladder_run(state_home)
    files.write_state(LadderState(passes=files.state().passes, done=True))
    spec = files.spec()
    obs = RunObserver(run, spec.learning_rate).observe()
    files.write_recommendation(measured.recommendation_json(spec, obs, files.state(), run_id=run.id))
    assert {p.state for p in runner.status(run).probes} == {"queued"}
    return run, files


def test_reattaching_to_a_done_ladder_starts_nothing(state_home, capsys):
    run, files = _done_with_a_queued_probe(state_home)
    code, rec = _json(capsys, ["recommend", "--run", run.id, "--json"])
    assert code == 0 and rec["state"] == "done"
    code, rec = _json(capsys, ["recommend", "--run", run.id, "--wait", "--json"])
    assert code == 0 and rec["state"] == "done"
    assert not run.scheduler_log.exists()  # no scheduler was asked for (LocalProcessBackend.submit writes it)
    assert not files.log_path.exists()  # nor a driver (launch_driver writes ladder.log)
    assert {p.state for p in runner.status(run).probes} == {"queued"}


def test_a_driver_started_on_a_done_ladder_starts_nothing(state_home):
    """ensure_driver reads "not done" and starts a driver just as another ends the ladder: that driver's first
    step restarted a stalled scheduler (restart_stalled) and trained the queued probes."""
    run, files = _done_with_a_queued_probe(state_home)
    assert drive(run, poll_s=0.1) == 0
    assert not run.scheduler_log.exists()
    assert files.state().done and {p.state for p in runner.status(run).probes} == {"queued"}


def test_probe_status_and_wait_start_nothing_on_a_done_ladder(state_home, capsys):
    """`lorplan probe status RUN` (and `wait`, which restarts a stalled scheduler in its loop) started a scheduler
    for a done ladder's queued probes, which then trained after the ladder had ended, as `recommend --run` did."""
    run, files = _done_with_a_queued_probe(state_home)
    code, st = _json(capsys, ["probe", "status", run.id, "--json"])
    assert code == 0 and st["ladder"] == {"state": "done"} and st["scheduler"] == "stopped"
    # the wait ends with the ladder (done): its queued probes are no one's to start, so it waits for nothing; it
    # exits 1, as a probe that never ran did not finish (tests/probe/test_wait_ended_ladder_not_run.py)
    code, waited = _json(capsys, ["probe", "wait", run.id, "--json", "--timeout", "30"])
    assert code == 1 and waited["ladder"] == {"state": "done"}
    assert not run.scheduler_log.exists()  # no scheduler was asked for (LocalProcessBackend.submit writes it)
    assert {p.state for p in runner.status(run).probes} == {"queued"}
    assert not runner.restart_stalled(run, grace_s=0)  # what both call: False, and nothing started
    assert not run.scheduler_log.exists()


def test_a_stopped_ladders_stalled_scheduler_is_still_restarted(state_home, capsys):
    """A ladder not done whose driver and scheduler were killed (a reboot): `probe status` starts its scheduler
    again, as before (only an ended ladder's queued probes are left alone)."""
    run, _ = ladder_run(state_home)
    assert runner.restart_stalled(run, grace_s=0) is True
    assert run.scheduler_log.exists()


def test_gpu_recommend_check_takes_a_cancelled_ladders_own_recommendation(state_home):
    """benchmarks/gpu_recommend_check.py took recommendation.json only when it said "done": a cancelled ladder's
    (now "cancelled") was recomputed without the driver's signals, run seed or "updated" stamp."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_recommend_check.py"
    loaded = importlib.util.spec_from_file_location("gpu_recommend_check_for_test", path)
    script = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(script)
    run, files = _cancelled_ladder(state_home)
    assert script.final_recommendation(run) == files.recommendation()  # the driver's file, "updated" and all
    assert "updated" in files.recommendation()
