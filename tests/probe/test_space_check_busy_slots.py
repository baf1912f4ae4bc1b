"""The scheduler asks the disk for room for a probe (status.space_short: statvfs, then 128 KiB allocated in the
run folder and removed) only when a slot is free for a queued probe, just before its launch. It asked at every
look while any probe was queued (every POLL_S, 0.5 s, and at each probe's exit), so a run whose slots were all
busy allocated and removed 128 KiB twice a second for nothing it could launch.

A real scheduler (in a thread of this process, so its OS calls can be counted at os.posix_fallocate and
os.statvfs) runs two demo probes on one slot; r4 holds its slot at step 2 (the worker's 'hold' injection) while
the scheduler looks many times with r8 queued."""

from __future__ import annotations

import os
import threading
import time

from lorplan.probe import runner, scheduler
from lorplan.probe.events import read_events
from lorplan.probe.runs import create_run, read_json


def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_no_space_is_asked_for_while_every_slot_is_busy(state_home, tmp_path, monkeypatch, capsys):
    gate = tmp_path / "hold-r4"
    gate.touch()
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hold@2:r4")
    monkeypatch.setenv("LORPLAN_PROBE_HOLD", str(gate))
    monkeypatch.setattr(scheduler, "POLL_S", 0.05)  # many looks while r4 holds the one slot
    run = create_run(runner.make_plan((4, 8), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-110000-aaaa"), state_home)

    def r4_running() -> bool:
        return run.proc_path("r4").exists() and not run.result_path("r4").exists()

    calls: list[tuple[str, bool]] = []  # (OS call, r4 running then)
    looks: list[bool] = []  # each look's reading of r8's files: r4 running then
    fallocate, statvfs, queued = os.posix_fallocate, os.statvfs, scheduler.probe_queued

    def counted_fallocate(fd, offset, length):
        calls.append(("posix_fallocate", r4_running()))
        return fallocate(fd, offset, length)

    def counted_statvfs(path):
        calls.append(("statvfs", r4_running()))
        return statvfs(path)

    def counted_queued(run_dir, probe_id):
        if probe_id == "r8":
            looks.append(r4_running())
        return queued(run_dir, probe_id)

    monkeypatch.setattr(os, "posix_fallocate", counted_fallocate)
    monkeypatch.setattr(os, "statvfs", counted_statvfs)
    monkeypatch.setattr(scheduler, "probe_queued", counted_queued)
    thread = threading.Thread(target=scheduler.schedule, args=(run,), daemon=True)
    thread.start()
    try:
        _until(lambda: any(e["type"] == "step" for e in read_events(run.events_path("r4"))), 180, "r4's step 1")
        held = len(looks)
        _until(lambda: sum(looks[held:]) >= 10, 30, "ten looks with r4 running")
    finally:
        gate.unlink()
        thread.join(timeout=300)
    assert not thread.is_alive()

    assert [c for c in calls if c[1]] == []  # nothing asked of the disk while r4 held the one slot
    assert calls == [("statvfs", False), ("posix_fallocate", False)] * 2  # once before each launch
    out = capsys.readouterr().out
    assert "launched r4 on cpu" in out and "launched r8 on cpu" in out
    assert [read_json(run.result_path(p))["state"] for p in ("r4", "r8")] == ["finished", "finished"]
