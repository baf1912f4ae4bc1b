"""The scheduler reuses a slot its own probe freed, and launches probes added to the run while it lives.

Before: the scheduler read plan.json once, when it started, so a probe added to a running run (a ladder's next
pass, added while the previous pass's last process was still exiting) waited for a second scheduler, which
waited for the first one's lock, which it held until every probe it knew had ended. Real scheduler and worker
processes; the workers are ended (cancelled) as soon as they are launched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from lorplan.probe import runner
from lorplan.probe.backend import get_backend, lock_held
from lorplan.probe.runs import ProbeSpec, add_probes, atomic_write_json, create_run, read_json

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(120)\n")


def _until(check, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(check())


def test_a_probe_added_to_a_running_run_is_launched_by_its_scheduler(state_home, monkeypatch):
    """r4 runs (a process holds its alive.lock) on slot 0 of two; r8 is added to plan.json without asking for
    another scheduler: the running one launches it on slot 1 while r4 still runs."""
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")  # r8, once launched, stays mid-run until cancelled
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=2, run="20261205-050000-aaaa"), state_home)
    run.probe_dir("r4").mkdir(parents=True, exist_ok=True)
    r4 = subprocess.Popen([sys.executable, "-c", HOLD, str(run.alive_lock("r4"))], stdout=subprocess.PIPE,
                          start_new_session=True)
    try:
        assert r4.stdout.readline().strip() == b"held"
        atomic_write_json(run.proc_path("r4"), {"pid": r4.pid, "pgid": r4.pid, "device": "cpu", "slot": 0,
                                                "slot_name": "cpu-0"})
        backend = get_backend()
        backend.submit(run)
        assert _until(lambda: backend.scheduler_alive(run))
        scheduler_pid = int(run.scheduler_lock.read_text())
        assert add_probes(run, [ProbeSpec("r8", 8)]) == ["r8"]  # no submit: the living scheduler must see it
        assert _until(lambda: run.proc_path("r8").exists())
        launched = read_json(run.proc_path("r8"))
        assert (launched["slot"], launched["scheduler_pid"]) == (1, scheduler_pid)
        assert lock_held(run.alive_lock("r4"))  # while r4 still runs
    finally:
        os.killpg(r4.pid, signal.SIGKILL)
        r4.wait()
        runner.cancel(run, probe_id="r8", grace_s=1.0)


def test_a_slot_freed_by_the_schedulers_own_probe_gets_the_next_probe(state_home, monkeypatch):
    """One slot, r4 then r8: when r4's process ends (cancelled), the scheduler that launched it launches r8 on
    the same slot, and exits once r8 has ended too."""
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")
    run = create_run(runner.make_plan((4, 8), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-050000-bbbb"), state_home)
    backend = get_backend()
    backend.submit(run)

    def running(pid: str) -> bool:  # the scheduler takes alive.lock before it starts the process, writes proc.json after
        return backend.probe_alive(run, pid) and run.proc_path(pid).exists()

    try:
        assert _until(lambda: running("r4"))
        assert not run.proc_path("r8").exists()  # one slot: r8 waits for it
        assert runner.cancel(run, probe_id="r4", grace_s=1.0) == ["r4"]
        assert _until(lambda: running("r8"))
        first, second = read_json(run.proc_path("r4")), read_json(run.proc_path("r8"))
        assert second["slot"] == first["slot"] == 0
        assert second["scheduler_pid"] == first["scheduler_pid"]
    finally:
        runner.cancel(run, grace_s=1.0)
    assert _until(lambda: not backend.scheduler_alive(run))
    assert {p.id: p.state for p in runner.status(run).probes} == {"r4": "cancelled", "r8": "cancelled"}
