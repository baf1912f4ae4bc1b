"""The ladder's driver wakes when a probe it saw running exits, rather than sleeping out its poll: the pass's
last probe ending is what the next pass waits for. A real process holds the probe's alive.lock, as a probe's
process does, or this process through an open file of its own (lock_held tests it through another)."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

from lorplan.probe.backend import exclusive
from lorplan.probe.demo import demo_examples
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.recommend.driver import Driver
from lorplan.recommend.ladder_spec import LadderFiles, LadderState
from lorplan.recommend.launch import demo_ladder

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(600)\n")


def _demo_run(state_home):
    """The demo ladder's run with its first pass queued and its first probe's folder made: the run and that
    probe's id."""
    ladder = demo_ladder(demo_examples())
    run = create_run(ladder.plan, state_home)
    LadderFiles(run).write_spec(ladder.spec)
    LadderFiles(run).write_state(LadderState(passes=(ladder.first,)))
    first = ladder.first.specs[0]["id"]
    run.probe_dir(first).mkdir(parents=True, exist_ok=True)
    return run, first


def test_the_driver_wakes_when_a_running_probe_exits(state_home):
    """The demo ladder's first probe runs (its alive.lock held); Driver.wait(600) keeps waiting while it does and
    returns once its process is killed."""
    run, first = _demo_run(state_home)
    probe = subprocess.Popen([sys.executable, "-c", HOLD, str(run.alive_lock(first))], stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert probe.stdout.readline().strip() == b"held"
        atomic_write_json(run.proc_path(first), {"pid": probe.pid, "pgid": probe.pid, "device": "cpu", "slot": 0,
                                                 "slot_name": "cpu-0"})
        with exclusive(run.scheduler_lock):  # a scheduler lives: the driver starts none for the queued probes
            driver = Driver(run)
            assert driver.step() is False
            waiter = threading.Thread(target=driver.wait, args=(600.0,), daemon=True)
            waiter.start()
            waiter.join(1.0)
            assert waiter.is_alive()  # the probe still runs: nothing to look at
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
            waiter.join(120.0)
            assert not waiter.is_alive()
            states = {o.id: o.state for o in driver.observer.observe()}
            assert states[first] == "died"
    finally:
        if probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()


def _first_running(state_home):
    """The demo ladder's run with its first probe running: its alive.lock held by this process's own open file
    (lock_held tests it through another, as for a probe's process). Returns the run, the probe and that file."""
    run, first = _demo_run(state_home)
    fd = os.open(run.alive_lock(first), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    # no such process group: nothing here ends it (the driver cancels no probe of a first pass)
    atomic_write_json(run.proc_path(first), {"pid": 2**22 + 1, "pgid": 2**22 + 1, "device": "cpu", "slot": 0,
                                             "slot_name": "cpu-0"})
    return run, first, fd


def test_a_probe_lock_that_cannot_be_waited_for_leaves_the_poll(state_home, monkeypatch):
    """The running probe's blocking flock fails (ENOLCK: a network file system's lock service gone, while the
    non-blocking test still works): the driver's waits last their interval (no spin, one try) and the watcher's
    error reaches no traceback ('Exception in thread ... OSError: [Errno 37] No locks available')."""
    run, first, fd = _first_running(state_home)
    real, tries, raised = fcntl.flock, [], []

    def no_wait(f, op):
        if op == fcntl.LOCK_SH:  # the watcher's blocking wait
            tries.append(op)
            raise OSError(errno.ENOLCK, "No locks available")
        return real(f, op)

    try:
        with exclusive(run.scheduler_lock):  # a scheduler lives: the driver starts none for the queued probes
            driver = Driver(run)
            assert driver.step() is False
            assert {o.id: o.state for o in driver.observer.observe()}[first] == "running"
            with monkeypatch.context() as m:
                m.setattr(fcntl, "flock", no_wait)
                m.setattr(threading, "excepthook", raised.append)
                start = time.monotonic()
                for _ in range(4):
                    driver.wait(0.1)
                took = time.monotonic() - start
    finally:
        os.close(fd)
    assert raised == [] and tries == [fcntl.LOCK_SH]
    assert took >= 0.4


def test_a_probe_that_exits_before_the_wait_wakes_it_at_once(state_home):
    """A probe the step saw running, whose process exits before `wait` begins (its lock let go meanwhile), wakes
    the driver at once: it is no holder still starting, so the 600 s poll is not slept out."""
    run, first, fd = _first_running(state_home)
    try:
        with exclusive(run.scheduler_lock):
            driver = Driver(run)
            assert driver.step() is False
            os.close(fd)  # the probe's process exits
            fd = None
            waiter = threading.Thread(target=driver.wait, args=(600.0,), daemon=True)
            waiter.start()
            waiter.join(30.0)
            assert not waiter.is_alive()
            assert {o.id: o.state for o in driver.observer.observe()}[first] == "died"
    finally:
        if fd is not None:
            os.close(fd)
