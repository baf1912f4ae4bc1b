"""The ladder prices a probe at the tokens it trains a step, on the one GPU it runs on. Since probes of a `--gpus N`
plan accumulate the plan's N GPUs' micro-batches (probe.plans.probe_plan: gradient accumulation × N), a probe step
is a planned optimizer step: recommend.launch.effective_batch examples, N times a one-GPU plan's, all on one GPU.

History: 2322808 priced a probe step at micro-batch × accumulation (one GPU's share of a planned step), true then
because the probe kept the plan's accumulation and so trained 1/N of each planned step; it fixed an estimate N
times too slow of that design. Once the probe trains the planned step (test_probe_step_is_the_planned_step.py),
that figure is N times too fast, and the planned step's tokens are the truth again, timed at one GPU's speed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.probe.plans import base_plan, plan_settings, probe_plan
from lorplan.recommend.launch import effective_batch, probe_tokens_per_step

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_a_probe_step_trains_the_planned_steps_tokens_on_one_gpu():
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    t = plan.training
    one = replace(plan, hardware=replace(plan.hardware, gpus=1, sharding="none"))
    four = replace(plan, hardware=replace(plan.hardware, gpus=4, sharding="ddp"))
    assert effective_batch(four) == 4 * effective_batch(one)  # the planned run's steps are 4 GPUs' examples
    per_example = 300
    want = 4 * t.micro_batch * t.gradient_accumulation * min(per_example, t.seq_len)
    assert probe_tokens_per_step(four, per_example) == 4 * probe_tokens_per_step(one, per_example) == want
    # what the probe of the 4-GPU plan trains: one GPU, the plan's micro-batch, 4 times its accumulation
    run = runner.make_plan((4,), (1e-3,), steps=10, **plan_settings(four))
    probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
    assert probe.hardware.gpus == 1
    assert effective_batch(probe) * min(per_example, probe.training.seq_len) == want
    # an example longer than seq_len trains seq_len tokens
    assert probe_tokens_per_step(four, 10 * t.seq_len) == 4 * t.micro_batch * t.gradient_accumulation * t.seq_len
