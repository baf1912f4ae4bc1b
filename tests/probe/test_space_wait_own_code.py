"""The space-wait note of a run that asks for its model's own code (trust_remote_code) names the command that
starts its probes: `lorplan probe status RUN --trust-remote-code`. It named `lorplan probe status RUN`, which for
such a run refuses to start them ("... start again with `lorplan probe status RUN --trust-remote-code`"), in
probe status, probe wait (its note and its timeout), recommend --run and the Probes tab (all read
RunStatus.space_wait), and in the scheduler's scheduler.log line. The full disk is simulated at the OS boundary
(tests/conftest.py's nearly_full: os.statvfs answering 64 KiB free)."""

from __future__ import annotations

import pytest
from test_retry_consent import NoSpawnBackend  # the local backend minus the scheduler's launch

from lorplan.cli import main
from lorplan.core.errors import LorplanError
from lorplan.probe import runner, scheduler
from lorplan.probe.consent import RemoteCodeRefused
from lorplan.probe.runs import create_run


def _own_code_run(state_home, run_id):
    return create_run(runner.make_plan((4,), steps=3, device="cpu", model="/models/remote-code-model",
                                       trust_remote_code=True, run=run_id), state_home)


def test_the_space_note_of_a_run_asking_for_its_models_code_names_the_flag(state_home, nearly_full, capsys):
    run = _own_code_run(state_home, "20261205-100000-aaaa")
    flagged = f"lorplan probe status {run.id} --trust-remote-code"

    wait = runner.status(run).space_wait
    assert wait["resume"] == flagged
    assert wait["message"].endswith(f"free space there, then `{flagged}` starts them")

    assert main(["probe", "status", run.id]) == 0
    out, err = capsys.readouterr()
    assert f"note: {wait['message']}" in out.splitlines() and "refuse" not in err
    assert not run.scheduler_log.exists()  # nothing started while the disk is short

    with pytest.raises(LorplanError, match=f"then `{flagged}` starts them$"):
        runner.wait(run, timeout=0.2, poll_s=0.1)
    assert main(["probe", "wait", run.id, "--timeout", "0"]) != 0
    err = capsys.readouterr().err.splitlines()
    assert f"then `{flagged}` starts them;" in err[0] and err[-1].endswith(f"then `{flagged}` starts them")

    scheduler.schedule(run, trusted=True)  # as the flagged command starts it: the disk stops it, and it says how
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "launched nothing more" in ln]
    assert line.endswith(f"1 probe stays queued: free space there, then `{flagged}` starts them")


def test_the_named_command_is_the_one_that_starts_the_probes_once_there_is_space(state_home, nearly_full):
    """With space back, the plain command refuses the run and the flagged one (its consent) does not."""
    run = _own_code_run(state_home, "20261205-100000-bbbb")
    resume = runner.status(run).space_wait["resume"]
    nearly_full()  # space freed
    with pytest.raises(RemoteCodeRefused):
        runner.restart_stalled(run, backend=NoSpawnBackend())
    assert resume.endswith("--trust-remote-code")
    assert runner.restart_stalled(run, backend=NoSpawnBackend(trust_remote_code=True)) is True


def test_a_run_that_asks_for_no_code_keeps_the_plain_command(state_home, nearly_full):
    run = create_run(runner.make_plan((4,), steps=3, device="cpu", run="20261205-100000-cccc"), state_home)
    assert runner.status(run).space_wait["resume"] == f"lorplan probe status {run.id}"
