"""`lorplan train` in two processes (DDP, as torchrun starts them) on a disk with room, through every point where
the processes agree on a write (lorplan.train.checkpoint.agree: an all-reduce at each logging step, at each
checkpoint and after the adapter): a logging interval that is not the save interval, a last step that is
neither's multiple, evaluation, then --resume to a longer run. An agree that one process reached and the other
did not would leave both waiting for each other; here both end 0 and the logs and checkpoints are the main
process's as in one process. Two real processes on the CPU (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch

from .test_launch import _free_port
from .test_train import tiny_plan

pytestmark = pytest.mark.slow


def _train_both(plan_path, *extra):
    env = {k: v for k, v in os.environ.items() if k not in (launch.UNDER_LAUNCH_ENV, "OMP_NUM_THREADS")}
    env.update(WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               CUDA_VISIBLE_DEVICES="")
    procs = [subprocess.Popen([sys.executable, "-m", "lorplan", "train", str(plan_path), "--no-progress", *extra],
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for rank in (0, 1)]
    try:
        said = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], said
    return said


def test_two_processes_log_save_evaluate_and_resume_together(tmp_path, tiny_llama):
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=5, save_steps=2, logging_steps=3, gradient_accumulation=1)
    plan = read_plan(plan_path)
    write_plan(replace(plan, hardware=replace(plan.hardware, gpus=2, sharding="ddp")), plan_path, force=True)
    out = tmp_path / "out"
    (out0, _), (out1, _) = _train_both(plan_path)
    assert "eval loss:" in out0 and out1 == ""
    assert [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [3, 5]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-4",
                                                                                        "checkpoint-5"]
    _train_both(plan_path, "--resume", "--max-steps", "7")
    assert [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [3, 5, 6, 7]
    assert json.loads((out / "result.json").read_text())["steps"] == 7
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-6",
                                                                                        "checkpoint-7"]
