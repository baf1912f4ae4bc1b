"""A probe ladder's driver is launched as a detached process and takes the run's ladder.lock only after its
imports (seconds on a busy machine). In that window everything that asked "is a driver alive?" (the lock alone)
said no: `lorplan probe status RUN` reported the ladder stopped and told the user to resume it, `lorplan
recommend --run RUN` (ensure_driver) launched a second driver, and restart_stalled's guard treated the run as
driverless. Now a launch is stamped (runner.mark_driver_launched) and runner.driver_alive counts a driver
launched in the last grace_s seconds as starting; one that never took the lock by then is gone. The stamp's
time is set here (os.utime), never waited out."""

from __future__ import annotations

import fcntl
import json
import os
import time

import pytest
from test_restart_guard import NoSpawnBackend
from test_stopped_ladder_note import _note, _stopped_ladder

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.consent import RemoteCodeRefused


def _stamp_age(run, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(runner.driver_launch_stamp(run), (t, t))


def _status_json(run, capsys) -> dict:
    assert main(["probe", "status", run.id, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["ladder"]


def test_a_just_launched_driver_is_starting_and_one_past_the_grace_is_gone(state_home, capsys):
    run = _stopped_ladder(state_home)
    resume = f"lorplan recommend --run {run.id} --trust-remote-code"
    assert not runner.driver_alive(run)
    assert _status_json(run, capsys) == {"state": "stopped", "resume": resume}

    runner.mark_driver_launched(run)  # what launch_driver does before its process is started
    assert runner.driver_alive(run) and not runner.driver_alive(run, grace_s=0)
    assert _status_json(run, capsys) == {"state": "running"}  # no resume: nothing to resume
    assert main(["probe", "status", run.id]) == 0
    out, err = capsys.readouterr()
    assert f"run {run.id} is a probe ladder: its driver adds probes as the ones before end" in out
    assert "has stopped" not in out + err and "--trust-remote-code" not in out + err  # no resume, no refusal

    _stamp_age(run, runner.DRIVER_START_GRACE_S - 5)  # still within the grace
    assert runner.driver_alive(run)
    assert runner.driver_alive(run, grace_s=10) is False  # the grace is the caller's to choose

    _stamp_age(run, runner.DRIVER_START_GRACE_S + 1)  # it never took the lock: gone
    assert not runner.driver_alive(run)
    assert _status_json(run, capsys) == {"state": "stopped", "resume": resume}
    assert main(["probe", "status", run.id]) == 0
    out, err = capsys.readouterr()
    assert _note(run, resume) in out.splitlines()
    assert f"lorplan probe status {run.id} --trust-remote-code" in err  # its scheduler is not left to a driver


def test_a_stamp_does_not_outlive_a_driver_that_holds_the_lock(state_home):
    run = _stopped_ladder(state_home)
    runner.mark_driver_launched(run)
    _stamp_age(run, 3600)
    fd = os.open(run.driver_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a live driver holds, whatever the stamp says
        assert runner.driver_alive(run)
    finally:
        os.close(fd)
    assert not runner.driver_alive(run)


def test_restart_stalled_leaves_a_starting_driver_to_restart_the_scheduler(state_home):
    run = _stopped_ladder(state_home)  # asks for its model's code; queued probes, no scheduler: stalled
    backend = NoSpawnBackend()
    assert runner.status(run, backend).stalled
    runner.mark_driver_launched(run)
    assert runner.restart_stalled(run, backend=backend) is False  # the starting driver restarts it
    with pytest.raises(RemoteCodeRefused):  # the driver itself is still told
        runner.restart_stalled(run, backend=backend, by_driver=True)
    _stamp_age(run, runner.DRIVER_START_GRACE_S + 1)
    with pytest.raises(RemoteCodeRefused, match=f"lorplan probe status {run.id} --trust-remote-code"):
        runner.restart_stalled(run, backend=backend)
    assert backend.submitted == []


def test_ensure_driver_starts_no_second_driver_while_one_is_starting(state_home):
    from lorplan.recommend.driver import ensure_driver
    from lorplan.recommend.ladder_spec import LadderFiles

    run = _stopped_ladder(state_home)
    runner.mark_driver_launched(run)
    _stamp_age(run, 1)
    launched = runner.driver_launch_stamp(run).stat().st_mtime
    assert ensure_driver(run, resume="X") is None  # neither launched nor refused: one is on its way
    assert runner.driver_launch_stamp(run).stat().st_mtime == launched and not LadderFiles(run).log_path.exists()
    _stamp_age(run, runner.DRIVER_START_GRACE_S + 1)
    with pytest.raises(RemoteCodeRefused):  # now it would start one, and asks for the consent first
        ensure_driver(run, resume=f"lorplan recommend --run {run.id} --trust-remote-code")


def test_a_driver_that_exits_without_the_lock_removes_its_stamp(state_home):
    from lorplan.recommend.driver import drive

    run = _stopped_ladder(state_home)
    stamp = runner.driver_launch_stamp(run)
    runner.mark_driver_launched(run)
    assert drive(run) == 4 and not stamp.exists()  # no consent on its command line: nothing drives the ladder
    assert not runner.driver_alive(run)

    runner.mark_driver_launched(run)
    fd = os.open(run.driver_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another driver holds the lock
        assert drive(run, trust_remote_code=True) == 3 and not stamp.exists()
        assert runner.driver_alive(run)  # the lock says it
    finally:
        os.close(fd)
    assert not runner.driver_alive(run)


def test_the_run_status_counts_a_starting_driver_as_the_commands_do(state_home):
    # RunStatus.driver_alive decides RunStatus.done (probe wait's end): it read the lock alone, so a ladder whose
    # driver was just started again between passes (every probe ended) read "done" until the driver took the lock
    run = _stopped_ladder(state_home)
    assert runner.status(run).driver_alive is False
    runner.mark_driver_launched(run)
    assert runner.status(run).driver_alive is True
    _stamp_age(run, runner.DRIVER_START_GRACE_S + 1)
    assert runner.status(run).driver_alive is False
