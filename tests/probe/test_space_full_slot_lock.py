"""A disk with no block left: the scheduler takes a free slot's machine-wide lock (try_lock, which writes its
note, "RUN PROBE", into the lock file beside the run folders, on the same disk) before it asks the disk for room
(status.space_short). On a disk with nothing free that note's write itself failed (ENOSPC): the scheduler said
'could not write <run folder> (No space left on device)' instead of how much the disk has free and what a probe
needs, and the lock's descriptor was left open, so the slot stayed held by this scheduler (other runs on the
machine waited for it) until the process exited. Simulated at the OS boundary in this process (the
scheduler's): statvfs reports 0 bytes free, and a write of any byte with os.pwrite is refused with ENOSPC."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple

from lorplan.probe import runner, scheduler
from lorplan.probe.backend import try_lock
from lorplan.probe.runs import create_run, read_json
from lorplan.probe.status import MIN_FREE_BYTES, space_marker

_Usage = namedtuple("_Usage", "total used free")


def test_a_disk_with_nothing_free_says_so_and_leaves_the_slot_free(state_home, monkeypatch, capsys):
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-120000-aaaa"), state_home)
    pwrite = os.pwrite

    def full_pwrite(fd, data, offset):
        if data:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return pwrite(fd, data, offset)

    monkeypatch.setattr(shutil, "disk_usage", lambda path: _Usage(10 << 30, 10 << 30, 0))
    monkeypatch.setattr(os, "pwrite", full_pwrite)
    scheduler.schedule(run)
    out = capsys.readouterr().out
    reason = f"{run.path} has 0 KiB free, less than a probe needs ({MIN_FREE_BYTES // 1024} KiB)"
    assert f"launched nothing more: {reason}; 1 probe stays queued" in out, out
    assert read_json(space_marker(run))["reason"] == reason
    assert "launched r4" not in out and not run.result_path("r4").exists()

    monkeypatch.undo()
    fd = try_lock(run.slot_lock("cpu-0"), "another run\n")  # the slot is free for another run
    assert fd is not None, "the scheduler still holds slot cpu-0"
    os.close(fd)
