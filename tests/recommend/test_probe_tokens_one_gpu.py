"""The ladder prices a probe at the tokens it trains a step: probes run on one GPU (probe.plans.probe_plan),
so a `--gpus 4` plan's probe takes micro-batch × gradient accumulation examples a step, not 4 times that
(recommend.launch.effective_batch, the planned run's). data_ladder used the planned run's batch: every probe
was estimated 4 times too slow, and the ladder planned fewer probes than its budget buys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.probe.plans import base_plan, plan_settings, probe_plan
from lorplan.recommend.launch import effective_batch, probe_tokens_per_step

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_a_probe_step_trains_one_gpus_tokens_whatever_the_plans_gpu_count():
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    t = plan.training
    one = replace(plan, hardware=replace(plan.hardware, gpus=1, sharding="none"))
    four = replace(plan, hardware=replace(plan.hardware, gpus=4, sharding="ddp"))
    assert effective_batch(four) == 4 * effective_batch(one)  # the planned run's steps are 4 GPUs' examples
    per_example = 300
    want = t.micro_batch * t.gradient_accumulation * min(per_example, t.seq_len)
    assert probe_tokens_per_step(four, per_example) == probe_tokens_per_step(one, per_example) == want
    # what the probe of the 4-GPU plan trains: one GPU, the plan's micro-batch and accumulation
    run = runner.make_plan((4,), (1e-3,), steps=10, **plan_settings(four))
    probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
    assert probe.hardware.gpus == 1
    assert effective_batch(probe) * min(per_example, probe.training.seq_len) == want
    # an example longer than seq_len trains seq_len tokens
    assert probe_tokens_per_step(four, 10 * t.seq_len) == t.micro_batch * t.gradient_accumulation * t.seq_len
