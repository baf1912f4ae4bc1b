"""The scheduler reads plan.json once, and again only when the file changed (runs.add_probes replaces it: a
ladder's next pass); a retry, which leaves plan.json as it is and moves the probe's files aside, is seen from those
files. Before, every look (each POLL_S, each freed slot) parsed and validated the whole plan again.

Real scheduler loop (in this process, in a thread) and real worker processes; r4 "runs" as a process holding its
alive.lock, so the one or two slots stay as the test sets them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from test_scheduler_wake import HOLD, _until  # a process holding a lock; polling a condition

from lorplan.probe import runner, scheduler
from lorplan.probe.backend import get_backend
from lorplan.probe.runs import ProbeSpec, RunDir, add_probes, atomic_write_json, create_run, read_json


def _running_r4(run):
    """A process that holds r4's alive.lock on slot 0, as a launched probe does."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run.alive_lock("r4"))], stdout=subprocess.PIPE,
                              start_new_session=True)
    assert holder.stdout.readline().strip() == b"held"
    atomic_write_json(run.proc_path("r4"), {"pid": holder.pid, "pgid": holder.pid, "device": "cpu", "slot": 0,
                                            "slot_name": "cpu-0"})
    return holder


def _counting_reads(monkeypatch) -> list[int]:
    reads: list[int] = []
    plan = RunDir.plan

    def counted(self):
        reads.append(1)
        return plan(self)

    monkeypatch.setattr(RunDir, "plan", counted)
    monkeypatch.setattr(scheduler, "POLL_S", 0.02)
    return reads


def test_the_plan_is_read_again_only_when_a_pass_adds_probes(state_home, monkeypatch):
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")  # r8, once launched, stays mid-run until cancelled
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-060000-aaaa"), state_home)
    holder = _running_r4(run)
    reads = _counting_reads(monkeypatch)
    loop = threading.Thread(target=scheduler.schedule, args=(run,))
    try:
        loop.start()
        time.sleep(0.6)  # some 30 looks at a 0.02 s poll
        assert len(reads) == 1  # before: one per look
        assert add_probes(run, [ProbeSpec("r8", 8)]) == ["r8"]  # reads it once itself
        assert _until(lambda: len(reads) == 3)  # the scheduler saw the new file
        time.sleep(0.3)
        assert len(reads) == 3
        assert not run.proc_path("r8").exists()  # one slot, r4's
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        assert _until(lambda: run.proc_path("r8").exists())  # the added probe, on the slot r4 freed
        assert read_json(run.proc_path("r8"))["scheduler_pid"] == os.getpid()
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()
        _until(lambda: run.proc_path("r8").exists(), 5)
        runner.cancel(run, grace_s=1.0)
        loop.join(60)
    assert not loop.is_alive()


def test_a_retried_probe_is_launched_by_the_living_scheduler(state_home, monkeypatch):
    """r8 ended (cancelled); a retry that starts no scheduler (submit=False) queues it again, plan.json
    untouched: the scheduler still living for r4 launches it on the free slot."""
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")
    run = create_run(runner.make_plan((4, 8), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=2, run="20261205-060000-bbbb"), state_home)
    holder = _running_r4(run)
    atomic_write_json(run.proc_path("r8"), {"pid": 1, "pgid": 1, "device": "cpu", "slot": 1, "slot_name": "cpu-1"})
    run.cancel_marker("r8").write_text("")
    stamp = os.stat(run.plan_path).st_mtime_ns
    reads = _counting_reads(monkeypatch)
    loop = threading.Thread(target=scheduler.schedule, args=(run,))
    try:
        loop.start()
        time.sleep(0.3)
        assert read_json(run.proc_path("r8"))["pid"] == 1  # ended: not launched again
        runner.retry(run, "r8", get_backend(), submit=False)
        assert os.stat(run.plan_path).st_mtime_ns == stamp  # a retry leaves plan.json as it was
        assert _until(lambda: (read_json(run.proc_path("r8")) or {}).get("scheduler_pid") == os.getpid())
        scheduler_reads = len(reads) - 2  # retry read the plan twice itself
        assert scheduler_reads == 1
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        runner.cancel(run, grace_s=1.0)
        loop.join(60)
    assert not loop.is_alive()
