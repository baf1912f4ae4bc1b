"""A ladder's driver that holds its ladder.lock, whose run folder's file system then refuses flock (a network file
system whose lock service went away since): its step tests its probes' and scheduler's locks (status, restart,
wait), and that LocksRefused escaped drive() as a traceback in ladder.log. Now it is the one line every command
says (lorplan.probe.backend.locks_refused), the driver exits 5 as for a refusal of its own lock, and the ladder
reads "stopped" (no driver, not done) with the command that starts its driver again once locks work. The refusal
is simulated where the OS reports it (fcntl.flock), for every lock but the driver's own, so it runs on any disk."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess

from lorplan.probe.backend import driver_launch_stamp, mark_driver_launched
from lorplan.probe.demo import demo_examples
from lorplan.probe.runs import create_run
from lorplan.recommend.driver import drive
from lorplan.recommend.ladder_spec import LadderFiles, LadderState
from lorplan.recommend.launch import demo_ladder


def test_a_refusal_after_the_driver_holds_its_lock_is_one_line_and_the_ladder_stopped(state_home, monkeypatch,
                                                                                        capsys):
    ladder = demo_ladder(demo_examples())
    run = create_run(ladder.plan, state_home)
    files = LadderFiles(run)
    files.write_spec(ladder.spec)
    files.write_state(LadderState(passes=(ladder.first,)))
    mark_driver_launched(run)
    run.scheduler_lock.touch()  # a scheduler was here: its lock is tested
    for p in run.plan().probes:
        run.alive_lock(p.id).touch()
    files.lock_path.touch()
    own = os.stat(files.lock_path).st_ino
    real = fcntl.flock

    def refused_but_the_drivers(fd, op):
        if os.fstat(fd).st_ino == own:
            return real(fd, op)
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[0]}")

    with monkeypatch.context() as m:
        m.setattr(fcntl, "flock", refused_but_the_drivers)
        m.setattr(subprocess, "Popen", no_process)
        assert drive(run, poll_s=0.01) == 5  # was: LocksRefused's traceback
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].endswith(f" driver {os.getpid()} for run {run.id}"), out
    (line,) = out[1:]
    said = line.split(" ", 1)[1]  # after the time
    assert said.startswith(f"probe run folder {run.path}: its file system refuses file locks ("), line
    assert said.endswith(f".lock: Errno {errno.ENOLCK} {os.strerror(errno.ENOLCK)}); put runs on a local disk: point "
                         f"XDG_STATE_HOME at a folder there; the ladder stopped: `lorplan recommend --run {run.id}` "
                         "starts its driver again once locks work there"), line
    assert not driver_launch_stamp(run).exists() and not files.state().done

    # locks work again: the ladder reads stopped (its driver gone, not done), with the command that resumes it, as
    # probe status --json says it (read here without status, which would start the stalled run's scheduler)
    from lorplan.cli.probe import _ladder_json, _ladder_state

    assert _ladder_json(run, _ladder_state(run)) == {"state": "stopped", "resume": f"lorplan recommend --run {run.id}"}
