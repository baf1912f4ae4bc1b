"""The ladder's driver wakes when a probe it saw running exits, rather than sleeping out its poll: the pass's
last probe ending is what the next pass waits for. A real process holds the probe's alive.lock, as a probe's
process does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

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


def test_the_driver_wakes_when_a_running_probe_exits(state_home):
    """The demo ladder's first probe runs (its alive.lock held); Driver.wait(600) keeps waiting while it does and
    returns once its process is killed."""
    ladder = demo_ladder(demo_examples())
    run = create_run(ladder.plan, state_home)
    LadderFiles(run).write_spec(ladder.spec)
    LadderFiles(run).write_state(LadderState(passes=(ladder.first,)))
    first = ladder.first.specs[0]["id"]
    run.probe_dir(first).mkdir(parents=True, exist_ok=True)
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
