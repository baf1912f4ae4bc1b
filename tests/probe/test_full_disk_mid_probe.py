"""A disk (or quota) that fills while a probe trains.

Before: the probe's next event write failed, its result.json could not be written on the full disk either, and
the worker died with a traceback into a stderr.log it could not write: `lorplan probe status` showed the probe
"died ... without a result" with no reason, the events log ended in a half line, and the scheduler launched the
next probe onto the same disk (then died itself, with a traceback, writing its proc.json). Now the worker sets
disk aside at its start (lorplan.probe.result.RESERVE_BYTES) and gives it back for its result: the probe ends
"failed" with the OS's reason, the log stays whole lines, and the scheduler launches no more probes.

The full disk is simulated at the OS boundary (os.write, os.fsync, os.posix_fallocate), in the test's process or,
for the worker processes a real scheduler starts, through a sitecustomize.py on their PYTHONPATH. The disk fills
at the probe's third step and gets back the worker's reserve when the worker deletes it (as a real disk does)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import warnings

import pytest

from lorplan.probe import runner, scheduler
from lorplan.probe.events import read_events
from lorplan.probe.runs import create_run, read_json

FULL_DISK = r'''
import errno, os

_write, _fsync, _fallocate = os.write, os.fsync, os.posix_fallocate
_disk = {"full": False, "reserve": None}


def _path(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _full():
    reserve = _disk["reserve"]
    return _disk["full"] and (reserve is None or os.path.exists(reserve))


def _nospace():
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def write(fd, data):
    path = _path(fd)
    if path.endswith("events.jsonl") and b'"step":3,' in bytes(data) and not _disk["full"]:
        _disk["full"] = True
        reserve = os.path.join(os.path.dirname(path), "result.reserve")
        _disk["reserve"] = reserve if os.path.exists(reserve) else None
        return _write(fd, bytes(data)[: len(data) // 2])  # the disk takes half the line, then no more
    if _full() and path.endswith("events.jsonl"):
        raise _nospace()
    return _write(fd, data)


def fsync(fd):
    if _full():
        raise _nospace()
    return _fsync(fd)


def posix_fallocate(fd, offset, length):
    if _full():
        raise _nospace()
    return _fallocate(fd, offset, length)


os.write, os.fsync, os.posix_fallocate = write, fsync, posix_fallocate
'''


def _demo_run(state_home, ranks=(4,), run_id="20261205-060000-aaaa"):
    return create_run(runner.make_plan(ranks, steps=6, micro_batch=4, eval_every=6, eval_examples=8, device="cpu",
                                       max_parallel=1, run=run_id), state_home)


def _fill_disk_here():
    """FULL_DISK applied to this process: the original functions, to put back."""
    saved = os.write, os.fsync, os.posix_fallocate
    exec(compile(FULL_DISK, "full_disk", "exec"), {})
    return saved


def test_a_probe_whose_disk_fills_fails_with_the_reason_and_keeps_its_result(state_home):
    from lorplan.probe.worker import run_worker

    run = _demo_run(state_home)
    saved = _fill_disk_here()
    try:
        result = run_worker(run.path, "r4", "cpu")
    finally:
        os.write, os.fsync, os.posix_fallocate = saved
    assert result["state"] == "failed" and result["out_of_space"] is True
    assert result["message"] == (f"could not write in {run.path} (No space left on device) at step 3: free space "
                                 "there, then retry the probe")
    assert read_json(run.result_path("r4"))["message"] == result["message"]
    assert not (run.probe_dir("r4") / "result.reserve").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a half line left in the log would be a CorruptEventWarning
        events = read_events(run.events_path("r4"))
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2]
    assert events[-1]["type"] == "failed" and events[-1]["message"] == result["message"]
    (probe,) = runner.status(run).probes
    assert (probe.state, probe.step, probe.message) == ("failed", 3, result["message"])
    assert probe.warnings == ()


@pytest.mark.slow
def test_the_scheduler_launches_no_probe_after_one_found_no_space(state_home, tmp_path, monkeypatch, capsys):
    """One slot, r4 then r8: r4's disk fills at its third step; the scheduler (run here, with real worker
    processes) does not launch r8 onto it, says why, and ends."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FULL_DISK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p))
    run = _demo_run(state_home, (4, 8), "20261205-060000-bbbb")
    scheduler.schedule(run)
    out = capsys.readouterr().out
    assert read_json(run.result_path("r4"))["out_of_space"] is True
    assert not run.proc_path("r8").exists()
    assert f"launched nothing more: probe r4 found no space left in {run.path}; 1 probe stays queued" in out
    states = {p.id: (p.state, p.message) for p in runner.status(run).probes}
    assert states["r4"][0] == "failed" and "(No space left on device)" in states["r4"][1]
    assert states["r8"][0] == "queued"


def test_no_probe_is_launched_onto_a_disk_without_room_for_its_result(state_home, monkeypatch, capsys):
    run = _demo_run(state_home, run_id="20261205-060000-cccc")
    statvfs = os.statvfs

    def nearly_full(path):
        st = statvfs(path)  # 16 blocks of 4 KiB free: 64 KiB, less than the two reserves a probe needs
        return os.statvfs_result((4096, 4096, st.f_blocks, 16, 16, *tuple(st)[5:]))

    monkeypatch.setattr(os, "statvfs", nearly_full)
    scheduler.schedule(run)
    assert not run.proc_path("r4").exists() and not run.events_path("r4").exists()
    assert (f"launched nothing more: {run.path} has 64 KiB free, less than a probe needs (128 KiB); 1 probe "
            "stays queued") in capsys.readouterr().out


def test_a_proc_json_the_disk_refuses_stops_the_probe_and_the_scheduler(state_home, monkeypatch, capsys):
    """proc.json is written once the probe's process runs: on a full disk the scheduler raised (a traceback in
    scheduler.log) and left the probe running untracked, to be launched again by the next scheduler."""
    run = _demo_run(state_home, run_id="20261205-060000-dddd")
    fsync = os.fsync
    started = []
    popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    def full_for_proc_json(fd):
        if "proc.json" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", full_for_proc_json)
    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    scheduler.schedule(run)
    (child,) = started
    assert child.poll() is not None  # stopped, not left running unseen
    assert not run.proc_path("r4").exists() and scheduler.probe_queued(run, "r4")
    out = capsys.readouterr().out
    assert (f"launched nothing more: could not write {run.proc_path('r4')} (No space left on device); the probes "
            "not started stay queued") in out
    assert sys.executable in child.args
