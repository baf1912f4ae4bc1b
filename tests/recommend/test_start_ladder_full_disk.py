"""A disk that fills between a ladder's run folder and its ladder files (start_ladder: create_run wrote
plan.json, then ladder-spec.json failed): the OSError was a traceback, and the run was left without its ladder
files, so `probe list` showed it as a plain probe run and `probe status` would start its probes with no driver to
decide. Now one line naming the run folder, and the half-made run is removed before anything starts. The full disk
is simulated at the OS boundary (os.fsync raising ENOSPC after plan.json): CI cannot mount one."""

from __future__ import annotations

import errno
import os
import time

import pytest

from lorplan.core.errors import BadInput
from lorplan.probe.runs import ProbeSpec, RunPlan
from lorplan.recommend.decide import probe_specs
from lorplan.recommend.driver import start_ladder
from lorplan.recommend.ladder_spec import LadderSpec, Pass


def test_a_disk_full_after_the_run_folder_leaves_no_half_ladder(state_home, tiny_llama, lm_data, monkeypatch):
    spec = LadderSpec(kind="data", model="tiny", spec_source=str(tiny_llama), task="causal-lm",
                      target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 750, "examples": 150},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 32},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=4, seeds=(0,),
                      ranks=(1, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=False)
    first = Pass("first", probe_specs((0, 1, 4), spec), (1, 4))
    plan = RunPlan(run="full", created=time.time(), model=str(tiny_llama), data=str(lm_data), steps=4,
                   eval_every=2, eval_examples=8, micro_batch=2, seq_len=32, targets=("q_proj",), alpha=32,
                   device="cpu", probes=tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs))
    real, calls = os.fsync, {"n": 0}

    def fsync(fd):  # plan.json (the first atomic write) lands; the next write finds the disk full
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr("lorplan.core.atomic.os.fsync", fsync)
    with pytest.raises(BadInput) as caught:
        start_ladder(spec, plan, first, root=state_home)
    line = str(caught.value)
    assert "\n" not in line and str(state_home / "full") in line and "No space left on device" in line, line
    assert calls["n"] >= 2  # the failure came after the run folder was made
    assert not (state_home / "full").exists()  # nothing for probe list to show or probe status to start
