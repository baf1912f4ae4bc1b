"""`lorplan probe wait` on a probe ladder that has ended with a probe it never ran (queued when the ladder ended,
no scheduler: RunStatus.not_run, "not run: its probe ladder has ended ..."). The wait returned 0, the code that
says every probe finished, though that probe never trained: a script took the run as complete. A probe that
never ran is not a finished one, so the wait now exits 1, as for any probe that ended otherwise; a done ladder
whose probes all ran still exits 0. Run folders written from recorded state: no probe trains."""

from __future__ import annotations

import json

from ladder_folders import failed_probe, ladder_run

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.runs import atomic_write_json
from lorplan.recommend.ladder_spec import LadderState


def _finished(run, probe_id: str) -> None:
    """The probe launched (a process that is gone) and finished its 10 steps."""
    atomic_write_json(run.proc_path(probe_id), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    atomic_write_json(run.result_path(probe_id), {"state": "finished", "step": 10, "eval_loss": 1.5})


def _wait(capsys, run, *flags: str) -> tuple[int, str]:
    code = main(["probe", "wait", run.id, "--timeout", "30", *flags])
    return code, capsys.readouterr().out


def test_a_done_ladder_with_a_probe_not_run_exits_1(state_home, capsys):
    run, files = ladder_run(state_home)
    _finished(run, "r2")  # r4 still queued when the ladder ended: nothing will run it
    files.write_state(LadderState(passes=files.state().passes, done=True))
    assert runner.status(run).not_run == ("r4",)
    code, out = _wait(capsys, run)
    assert code == 1
    assert "not run: its probe ladder has ended (done), and nothing starts it" in out
    code, out = _wait(capsys, run, "--json")
    got = json.loads(out)
    assert code == 1 and got["ladder"] == {"state": "done"}
    assert {p["id"]: p["state"] for p in got["probes"]} == {"r2": "finished", "r4": "queued"}
    assert not run.scheduler_log.exists()  # the wait started nothing for it


def test_a_done_ladder_whose_probes_all_ran_exits_0(state_home, capsys):
    """The guard: a ladder done with every probe it queued run (one failed: the ladder's own finding, not a
    probe left out) is a finished wait."""
    run, files = ladder_run(state_home)
    _finished(run, "r2")
    failed_probe(run, "r4")
    files.write_state(LadderState(passes=files.state().passes, done=True))
    assert runner.status(run).not_run == ()
    assert _wait(capsys, run)[0] == 0
