"""The Plan a probe trains (lorplan.probe.plans), without torch: the base plan at the probe's rank, alpha / r
kept, patterns scaled, the run's steps, a held-out split, paths made absolute for the probe's own folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from lorplan.core.plan import read_plan, write_plan
from lorplan.probe import runner
from lorplan.probe.plans import base_plan, plan_settings, probe_plan
from lorplan.probe.runs import ProbeSpec, RunPlan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_probe_plan_scales_the_plan_to_the_probe_rank():
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, lora=replace(plan.lora, r=16, alpha=32, target_modules=("q_proj", "v_proj"),
                                      rank_pattern=MappingProxyType({"v_proj": 32}),
                                      alpha_pattern=MappingProxyType({"v_proj": 64})),
                   data=replace(plan.data, eval_split=0.0), estimate=None)
    run = runner.make_plan((4, 64), (1e-3,), steps=7, **plan_settings(plan))
    probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
    assert (probe.lora.r, probe.lora.alpha) == (4, 8)  # alpha / r = 2, as the plan's
    assert dict(probe.lora.rank_pattern) == {"v_proj": 8} and dict(probe.lora.alpha_pattern) == {"v_proj": 16.0}
    assert probe.lora.target_modules == plan.lora.target_modules
    assert (probe.training.max_steps, probe.training.epochs, probe.training.learning_rate) == (7, None, 1e-3)
    assert probe.data.eval_split == 0.1 and probe.estimate is None  # a held-out split to evaluate on
    assert (probe.hardware.gpus, probe.hardware.sharding) == (1, "none")
    big = probe_plan(base_plan(run), run, run.probes[1], "cpu")
    assert (big.lora.r, big.lora.alpha, big.hardware.gpus) == (64, 128, 0)
    fixed = probe_plan(base_plan(run), run, ProbeSpec("r8", 8), "cpu", fixed_alpha=16)
    assert (fixed.lora.alpha, fixed.training.learning_rate) == (16, plan.training.learning_rate)
    # alpha fixed at every rank (a ladder's 32): a module's own alpha stays too, as the plan gave it (it was
    # scaled with the rank, so module v_proj's alpha went 64 -> 32 at rank 8 while every other module kept 16)
    assert dict(fixed.lora.alpha_pattern) == {"v_proj": 64} and dict(fixed.lora.rank_pattern) == {"v_proj": 16}


def test_a_run_of_a_plan_file_stores_it_with_absolute_paths(tmp_path, monkeypatch):
    work = tmp_path / "project"
    (work / "tiny").mkdir(parents=True)
    (work / "data.jsonl").write_text('{"text": "hello"}\n')
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path="tiny"), data=replace(plan.data, path="data.jsonl"))
    plan_path = write_plan(plan, work / "p.toml")
    monkeypatch.chdir(tmp_path)  # elsewhere: the relative paths are found beside the plan
    settings = plan_settings(read_plan(plan_path), str(plan_path))
    run = runner.make_plan((4,), **settings)
    again = RunPlan.from_json(json.loads(json.dumps(run.to_json())))  # plan.json round trip
    base = base_plan(again)
    assert base.model.path == str(work / "tiny") and base.data.path == str(work / "data.jsonl")
    assert (again.model, again.data, again.micro_batch, again.seq_len) == (
        str(work / "tiny"), str(work / "data.jsonl"), plan.training.micro_batch, plan.training.seq_len)
    assert base.lora == plan.lora and base.training == plan.training
