"""What the full-disk guards do to a probe on a disk with room (every user's case).

The worker sets RESERVE_BYTES aside at its start with os.posix_fallocate, which macOS's Python does not have: the
AttributeError failed every probe there ('failed: AttributeError: module 'os' has no attribute
'posix_fallocate''). Tested with the real worker on the demo model."""

from __future__ import annotations

import os

from lorplan.probe import runner
from lorplan.probe.result import RESERVE_BYTES
from lorplan.probe.runs import create_run


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
