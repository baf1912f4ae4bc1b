"""What the full-disk guards do to a probe on a disk with room (every user's case).

The worker sets RESERVE_BYTES aside at its start with os.posix_fallocate, which macOS's Python does not have: the
AttributeError failed every probe there ('failed: AttributeError: module 'os' has no attribute
'posix_fallocate''). The scheduler launches nothing onto a disk with under two reserves free, and read the free
space of a file system that reports no size (a FUSE one without statfs: every count 0) as 0 KiB: no probe of a
run kept there was ever launched. Both are tested with the real worker on the demo model."""

from __future__ import annotations

import os

from lorplan.probe import runner, scheduler
from lorplan.probe.result import RESERVE_BYTES
from lorplan.probe.runs import create_run, read_json


def _demo_run(state_home, run_id):
    return create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                       max_parallel=1, run=run_id), state_home)


def test_a_probe_finishes_where_python_has_no_posix_fallocate(state_home, tmp_path, monkeypatch):
    from lorplan.probe.worker import reserve_space, run_worker

    monkeypatch.delattr(os, "posix_fallocate")  # as on macOS
    spare = tmp_path / "spare.reserve"
    assert reserve_space(spare) is True and spare.stat().st_size == RESERVE_BYTES
    run = _demo_run(state_home, "20261205-070000-aaaa")
    result = run_worker(run.path, "r4", "cpu")
    assert (result["state"], result["message"], result["step"]) == ("finished", None, 3), result
    assert not (run.probe_dir("r4") / "result.reserve").exists()


def test_a_file_system_that_reports_no_size_still_gets_its_probes(state_home, monkeypatch, capsys):
    run = _demo_run(state_home, "20261205-070000-bbbb")

    def no_size(path):  # what the kernel answers for a FUSE file system without statfs: sizes all 0
        return os.statvfs_result((512, 0, 0, 0, 0, 0, 0, 0, 0, 255))

    monkeypatch.setattr(os, "statvfs", no_size)
    scheduler.schedule(run)  # the scheduler's own process; the worker it launches is a real one
    out = capsys.readouterr().out
    assert "launched nothing more" not in out and "launched r4 on cpu" in out, out
    assert read_json(run.result_path("r4"))["state"] == "finished"
