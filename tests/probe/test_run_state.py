"""The state word of a whole run, as `lorplan probe list` and `status` show it (RunStatus.state): running,
done, or cancelled.

Before: a run the user cancelled was listed as `done` (its counts said "2 cancelled"), `status` named no state
at all, and a ladder's run was `done` in `list --json` between two passes (every probe so far ended, while its
driver was about to add the next pass)."""

from __future__ import annotations

import json

from test_status_views import _driver_lock, _finish, _ladder_run

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.runs import create_run


def _listed(capsys) -> tuple[str, dict]:
    """(the run's line of `probe list`, its row of `probe list --json`) for the only run."""
    assert main(["probe", "list"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert main(["probe", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["runs"]
    return line, row


def _status(capsys, run_id: str) -> tuple[str, dict]:
    """(the first line of `probe status RUN`, `probe status RUN --json`)."""
    assert main(["probe", "status", run_id]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert main(["probe", "status", run_id, "--json"]) == 0
    return header, json.loads(capsys.readouterr().out)


def test_a_run_the_user_cancelled_is_listed_and_shown_cancelled(state_home, capsys):
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu", run="20261205-010000-aaaa"), state_home)
    _finish(run, "r4", eval_loss=0.5, acc=0.8)
    line, row = _listed(capsys)
    assert row["state"] == "running"  # two probes queued (no scheduler here: nothing launches them)
    assert main(["probe", "cancel", run.id]) == 0
    capsys.readouterr()
    line, row = _listed(capsys)
    assert line.startswith(f"{run.id}  cancelled ranks 4,8,16  1 finished, 2 cancelled  "), line
    assert row["state"] == "cancelled" and row["counts"] == {"finished": 1, "cancelled": 2}
    header, obj = _status(capsys, run.id)
    assert header.startswith(f"run {run.id}  cancelled  scheduler stopped  model "), header
    assert obj["state"] == "cancelled" and obj["ladder"] is None


def test_a_run_with_one_rank_cancelled_and_the_rest_finished_is_done(state_home, capsys):
    """Cancelling one rank (--rank) is not cancelling the run: once the others finished, the run is done, as is
    a run cancelled after every probe finished; with every rank cancelled one by one, nothing trained to its
    end and the run is cancelled."""
    run = create_run(runner.make_plan((4, 8), steps=10, device="cpu", run="20261205-020000-bbbb"), state_home)
    assert main(["probe", "cancel", run.id, "--rank", "8"]) == 0
    _finish(run, "r4", eval_loss=0.5, acc=0.8)
    capsys.readouterr()
    line, row = _listed(capsys)
    assert line.startswith(f"{run.id}  done      ranks 4,8  1 finished, 1 cancelled  "), line
    assert row["state"] == "done"
    header, obj = _status(capsys, run.id)
    assert header.startswith(f"run {run.id}  done  scheduler stopped"), header
    assert obj["state"] == "done"

    finished = create_run(runner.make_plan((4,), steps=10, device="cpu", run="20261205-020002-dddd"), state_home)
    _finish(finished, "r4", eval_loss=0.5, acc=0.8)
    # the whole run cancelled after every probe had finished: it cancelled nothing, the run is done
    assert main(["probe", "cancel", finished.id]) == 0
    assert "nothing to cancel" in capsys.readouterr().out
    assert finished.run_cancel_marker.exists() and runner.status(finished).state == "done"

    other = create_run(runner.make_plan((4, 8), steps=10, device="cpu", run="20261205-020001-cccc"), state_home)
    for rank in ("4", "8"):
        assert main(["probe", "cancel", other.id, "--rank", rank]) == 0
    capsys.readouterr()
    assert runner.status(other).state == "cancelled" and not other.run_cancel_marker.exists()


def test_a_ladder_between_passes_is_running_while_its_driver_lives(state_home, capsys):
    """Every probe of the first pass ended; the driver (holding the run's driver lock, as
    lorplan.recommend.driver.drive does) is about to add the next pass: the run is running, not done, in list and
    status and to runner.wait; once the driver is gone it is done (the ladder itself says stopped)."""
    from lorplan.core.errors import LorplanError

    run, files, _ = _ladder_run(state_home)
    assert files.lock_path == run.driver_lock  # the probe layer looks where the driver holds its lock
    with _driver_lock(files):
        st = runner.status(run)
        assert st.probes_ended and st.driver_alive and not st.done and st.state == "running"
        line, row = _listed(capsys)
        assert row["state"] == "running" and row["ladder"] == {"state": "running"}
        assert line.startswith(f"{run.id}  running   ladder, ranks base,4  2 finished"), line
        header, obj = _status(capsys, run.id)
        assert header.startswith(f"run {run.id}  running  scheduler stopped"), header
        assert obj["state"] == "running"
        try:
            runner.wait(run, timeout=0.5, poll_s=0.1)
            raise AssertionError("runner.wait returned while the driver lived")
        except LorplanError as exc:
            assert "timed out after 0.5 s (its driver about to add probes)" in str(exc)
    st = runner.status(run)
    assert st.done and st.state == "done" and not st.driver_alive
    line, row = _listed(capsys)
    # --json's "state" is the word the line shows: the ladder's own (its probes ended, its driver is gone)
    assert row["state"] == "stopped"
    assert row["ladder"] == {"state": "stopped", "resume": f"lorplan recommend --run {run.id}"}
    assert line.startswith(f"{run.id}  stopped   ladder, ranks base,4"), line
    header, obj = _status(capsys, run.id)
    assert header.startswith(f"run {run.id}  stopped  ") and obj["state"] == "stopped", (header, obj["state"])


def test_a_cancelled_ladder_is_listed_cancelled_not_done(state_home, capsys):
    """The driver marks a ladder the user cancelled done, with when it was cancelled: list and status say
    cancelled. A driver killed before it saw the cancel left the ladder not done: still cancelled, not stopped."""
    from lorplan.recommend.ladder_spec import LadderState

    run, files, first = _ladder_run(state_home)
    run.run_cancel_marker.write_text("1.0\n")
    line, row = _listed(capsys)
    assert line.startswith(f"{run.id}  cancelled ladder, ranks base,4"), line
    # both probes finished, but the run is the ladder's, which was cancelled: --json says what the line says
    assert row["state"] == "cancelled" and row["ladder"] == {"state": "cancelled"}
    files.write_state(LadderState(passes=(first,), done=True, cancelled=12.5))
    line, row = _listed(capsys)
    assert row["ladder"] == {"state": "cancelled"} and " cancelled ladder, " in line
    header, obj = _status(capsys, run.id)
    assert header.startswith(f"run {run.id}  cancelled  scheduler stopped"), header
    assert obj["ladder"] == {"state": "cancelled"} and obj["state"] == "cancelled"
    assert main(["probe", "status", run.id]) == 0
    assert f"note: run {run.id} is a probe ladder (cancelled): `lorplan recommend --run {run.id}`" in capsys.readouterr().out
    assert main(["probe", "wait", run.id, "--timeout", "5"]) == 1  # ended, but not done: exit 1
    capsys.readouterr()
    assert main(["probe", "wait", run.id, "--timeout", "5", "--json"]) == 1
    waited = json.loads(capsys.readouterr().out)
    assert waited["state"] == "cancelled" and waited["ladder"] == {"state": "cancelled"}
