"""What a queued probe says it waits for: only device slots another run holds, as they are now.

Before: a probe that had finished kept its slot for the seconds its process took to exit (torch's teardown),
and the scheduler took that slot for one another run held: the queued probes said `waiting for cpu-0 (run
<this run>, probe r4)` about a probe shown finished. waiting.json was written once and never again, so a slot
the run itself took since (its own probe running there) was still named, with that probe as its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from lorplan.probe import runner
from lorplan.probe.backend import exclusive, get_backend, lock_held, try_lock
from lorplan.probe.runs import atomic_write_json, create_run

HOLD = ("import fcntl, os, sys, time\n"
        "fds = [os.open(p, os.O_RDWR | os.O_CREAT) for p in sys.argv[1:]]\n"
        "for fd in fds:\n    fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(120)\n")


def _hold(*paths) -> subprocess.Popen:
    """A process holding an exclusive flock on each path (a probe's process holds its alive.lock and its
    slot's lock until it exits)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, *map(str, paths)], stdout=subprocess.PIPE,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == b"held"
    return proc


def _end(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _queued_messages(run) -> dict[str, str | None]:
    return {p.id: p.message for p in runner.status(run).probes if p.state == "queued"}


def test_a_slot_held_by_the_runs_own_probe_is_not_waited_for(state_home):
    """waiting.json names cpu-0 and cpu-1; cpu-0 is held by this run's own probe since (an older scheduler's
    file, or the moment between launching a probe and rewriting the file): only cpu-1, which another run
    holds, is named."""
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu", max_parallel=2,
                                      run="20261205-030000-aaaa"), state_home)
    atomic_write_json(run.waiting_path, {"slots": ["cpu-0", "cpu-1"], "since": 1.0})
    own = try_lock(run.slot_lock("cpu-0"), f"{run.id} r4\n")
    other = try_lock(run.slot_lock("cpu-1"), "20261205-020000-bbbb r32\n")
    assert own is not None and other is not None
    try:
        with exclusive(run.scheduler_lock):  # the run's scheduler lives (it found the slots taken)
            messages = _queued_messages(run)
            assert messages == {p: "waiting for cpu-1 (run 20261205-020000-bbbb, probe r32)" for p in ("r4", "r8", "r16")}
            os.close(other)
            assert set(_queued_messages(run).values()) == {None}  # its own probe's slot alone: no wait named
    finally:
        os.close(own)


def test_a_finished_probe_keeps_its_slot_until_its_process_exits(state_home, monkeypatch):
    """r4 has written its result but its process still holds cpu-0 (alive.lock and the slot's lock): the real
    scheduler counts the slot busy with the run's own probe, writes no waiting.json, and r8 says it waits for
    nothing; once the process is gone, r8 is launched on cpu-0."""
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")  # r8, once launched, stays mid-run until cancelled
    run = create_run(runner.make_plan((4, 8), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      run="20261205-040000-cccc"), state_home)
    slot = run.slot_lock("cpu-0")
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_text(f"{run.id} r4\n")
    r4 = _hold(run.alive_lock("r4"), slot)
    try:
        atomic_write_json(run.proc_path("r4"), {"pid": r4.pid, "pgid": r4.pid, "device": "cpu", "slot": 0,
                                                "slot_name": "cpu-0"})
        atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 3, "eval_loss": 0.5})
        backend = get_backend()
        backend.submit(run)  # a real scheduler process for the run
        deadline = time.monotonic() + 30
        while not backend.scheduler_alive(run) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # the scheduler polls every 0.5 s: four looks at the slot
        assert not run.waiting_path.exists()
        st = {p.id: p for p in runner.status(run).probes}
        assert st["r4"].state == "finished" and (st["r8"].state, st["r8"].message) == ("queued", None)
        assert not run.proc_path("r8").exists()
    finally:
        _end(r4)
    deadline = time.monotonic() + 30
    while not run.proc_path("r8").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert run.proc_path("r8").exists()  # launched once the slot was free
        assert lock_held(slot) and slot.read_text().split() == [run.id, "r8"]
    finally:
        assert runner.cancel(run) == ["r8"]
