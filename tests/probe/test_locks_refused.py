"""A runs folder on a file system that refuses flock outright (ENOLCK from a network file system without its
lock service, EOPNOTSUPP): every liveness test and queue of a probe run rests on flock, so a run there cannot be
run. `lorplan probe start`, `probe status` and a ladder's start say so in one line naming the run folder and
XDG_STATE_HOME (where runs go), not with a traceback, nor by starting a scheduler that dies of it unseen; a start
leaves no run folder. The refusal is simulated where the OS reports it (fcntl.flock), so the test runs on any disk."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import subprocess

import pytest

from lorplan.cli import main
from lorplan.probe import backend, runner
from lorplan.probe.runs import create_run


@contextlib.contextmanager
def _refuse_locks(monkeypatch, code: int = errno.ENOLCK):
    """flock refused until the block ends (state_home's clean-up tests the run's locks after the test)."""
    def refused(fd, op):
        raise OSError(code, os.strerror(code))

    def no_scheduler(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[0]}")

    with monkeypatch.context() as m:
        m.setattr(fcntl, "flock", refused)
        m.setattr(subprocess, "Popen", no_scheduler)  # nothing may start a scheduler that would die of it
        yield


def _one_line(err: str) -> str:
    err = err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP])
def test_lock_held_names_the_run_folder(state_home, monkeypatch, code):
    run = create_run(runner.make_plan((4,), steps=2, device="cpu", run="20260101-000000-aaaa"), state_home)
    run.scheduler_lock.touch()
    run.alive_lock("r4").touch()
    for lock in (run.scheduler_lock, run.alive_lock("r4")):
        with _refuse_locks(monkeypatch, code), pytest.raises(backend.LocksRefused) as got:
            backend.lock_held(lock)
        assert str(got.value) == (f"probe run folder {run.path}: its file system refuses file locks ({lock.name}: "
                                  f"Errno {code} {os.strerror(code)}); put runs on a local disk: point XDG_STATE_HOME "
                                  "at a folder there")
    assert not backend.lock_held(run.path / "missing.lock")  # no file: nothing to test, as before


def test_probe_start_is_one_line_and_starts_no_scheduler(state_home, monkeypatch, capsys):
    with _refuse_locks(monkeypatch):
        assert main(["probe", "start", "--ranks", "4", "--steps", "2"]) == 2  # as a runs folder that is full
    err = _one_line(capsys.readouterr().err)
    assert err.startswith(f"lorplan probe start: error: probe run folder {state_home}{os.sep}")
    assert err.endswith(": its file system refuses file locks (queue.lock: Errno 37 No locks available); put runs "
                        "on a local disk: point XDG_STATE_HOME at a folder there")
    assert not list(state_home.glob("*/scheduler.log"))
    # a run that could never run is not left to list (and say the line again) as a ladder's start leaves none
    assert [p.name for p in state_home.iterdir() if not p.name.startswith(".")] == []


def test_probe_status_is_one_line(state_home, monkeypatch, capsys):
    run = create_run(runner.make_plan((4,), steps=2, device="cpu", run="20260101-000000-aaaa"), state_home)
    run.scheduler_lock.touch()  # a scheduler was here: its lock is tested
    with _refuse_locks(monkeypatch):
        assert main(["probe", "status", run.id]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith(f"lorplan probe status: error: probe run folder {run.path}: its file system refuses file "
                          "locks")
    assert "XDG_STATE_HOME" in err


@pytest.mark.parametrize("argv", [["probe", "wait", "--timeout", "5"], ["probe", "list"], ["probe", "list", "--json"],
                                  ["probe", "cancel", "20260101-000000-aaaa"], ["recommend"]])
def test_every_command_says_it_as_bad_input(state_home, monkeypatch, capsys, argv):
    """Exit 2, the runs folder's setting (XDG_STATE_HOME) being what the user must change, as for a runs folder
    that cannot be written (tests/probe/test_full_disk_start.py): `probe wait`'s 1 says a probe failed or the
    timeout passed, `recommend` exits 0 or 2 (README), and `probe list` skips a run it cannot read (a damaged
    plan.json) but says this one, which no run there escapes, rather than "no probe runs yet"."""
    run = create_run(runner.make_plan((4,), steps=2, device="cpu", run="20260101-000000-aaaa"), state_home)
    run.scheduler_lock.touch()
    run.alive_lock("r4").touch()
    with _refuse_locks(monkeypatch):
        assert main(argv) == 2
    out, err = capsys.readouterr()
    err = _one_line(err)
    assert out == ""
    assert err.startswith(f"lorplan {argv[0] if argv[0] == 'recommend' else ' '.join(argv[:2])}: error: probe run "
                          f"folder {state_home}{os.sep}")
    assert err.endswith("Errno 37 No locks available); put runs on a local disk: point XDG_STATE_HOME at a folder "
                        "there")
    assert [p.name for p in state_home.iterdir() if not p.name.startswith(".")] == [run.id]  # recommend's removed


def test_a_ladder_start_leaves_no_run(state_home, monkeypatch):
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.driver import start_ladder
    from lorplan.recommend.launch import demo_ladder

    ladder = demo_ladder(demo_examples())
    with _refuse_locks(monkeypatch), pytest.raises(backend.LocksRefused, match="its file system refuses file locks"):
        start_ladder(ladder.spec, ladder.plan, ladder.first, state_home)
    assert [p.name for p in state_home.iterdir() if not p.name.startswith(".")] == []


def test_the_scheduler_says_a_refusal_in_one_line(state_home, monkeypatch, capsys):
    """Behind submit's test (a file system that stopped taking locks since, a scheduler started by hand): a probe's
    launch and a device slot's lock are refused as LocksRefused, and the scheduler ends on its one line (its
    scheduler.log), not a traceback."""
    from lorplan.probe import scheduler

    run = create_run(runner.make_plan((4,), steps=2, device="cpu", run="20260101-000000-aaaa"), state_home)
    slot = backend.device_slots("cpu", 1)[0]
    with _refuse_locks(monkeypatch):
        with pytest.raises(backend.LocksRefused, match=rf"^probe run folder {run.path}: .*\(alive\.lock: Errno 37 "):
            scheduler.launch(run, "r4", 0, slot, 1)  # was: OSError [Errno 37]
        with pytest.raises(backend.LocksRefused, match=r"\(cpu-0\.lock: Errno 37 .*XDG_STATE_HOME"):
            backend.try_lock(run.slot_lock("cpu-0"))
        assert scheduler.main([str(run.path)]) == 1
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and out.endswith(f" probe run folder {run.path}: its file system refuses file locks "
                                            "(scheduler.lock: Errno 37 No locks available); put runs on a local "
                                            "disk: point XDG_STATE_HOME at a folder there")


def test_a_ladder_driver_says_a_refusal_and_stops(state_home, monkeypatch, capsys):
    """The driver of a ladder whose folder refuses locks (started before submit's test could refuse it, or by
    hand) says so in one line in its log and exits 5 without the launch stamp, which would count it as starting."""
    from lorplan.probe.backend import driver_launch_stamp, mark_driver_launched
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.driver import drive
    from lorplan.recommend.ladder_spec import LadderFiles, LadderState
    from lorplan.recommend.launch import demo_ladder

    ladder = demo_ladder(demo_examples())
    run = create_run(ladder.plan, state_home)
    LadderFiles(run).write_spec(ladder.spec)
    LadderFiles(run).write_state(LadderState(passes=(ladder.first,)))
    mark_driver_launched(run)
    with _refuse_locks(monkeypatch):
        assert drive(run) == 5  # was: OSError [Errno 37] from its ladder.lock
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and out.endswith(f" probe run folder {run.path}: its file system refuses file locks "
                                            "(ladder.lock: Errno 37 No locks available); put runs on a local disk: "
                                            "point XDG_STATE_HOME at a folder there")
    assert not driver_launch_stamp(run).exists()
