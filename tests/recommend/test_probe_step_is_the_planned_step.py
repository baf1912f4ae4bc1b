"""A probe of a multi-GPU plan trains the planned run's optimizer step on its one GPU.

The ladder caps a probe at the planned run's steps (recommend.launch.planned_run_steps, counted at micro-batch x
accumulation x GPUs), and its evidence says "each probe trains 33 steps of the planned 33". probe_plan gave the
probe one GPU and kept the plan's accumulation, so with --gpus 4 each probe step trained a quarter of a planned
step's examples: a probe "as long as the planned run" saw a quarter of its data (tiny Llama, 150 rows: 33 of 130
examples), at a learning rate meant for 4 times the batch, which the README says puts the knee low. Now the probe
accumulates the plan's GPUs' micro-batches (gradient accumulation x 4), its worker draws a sample for that many
examples a step, and the ladder prices a probe step at the planned step's tokens on one GPU
(probe_tokens_per_step itself: test_probe_tokens_one_gpu.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from lorplan.cli import main
from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.probe.plans import base_plan, plan_settings, probe_plan
from lorplan.probe.worker import build_probe
from lorplan.recommend.launch import effective_batch

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"  # in tests/recommend/


def test_a_probe_step_trains_the_planned_steps_examples():
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    four = replace(plan, hardware=replace(plan.hardware, gpus=4, sharding="ddp"))
    run = runner.make_plan((4,), (1e-3,), steps=10, **plan_settings(four))
    probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
    assert (probe.hardware.gpus, probe.hardware.sharding) == (1, "none")
    assert effective_batch(probe) == effective_batch(four) == 4 * effective_batch(plan)
    assert probe.training.micro_batch == plan.training.micro_batch  # the peak memory a step needs is one GPU's
    assert probe.training.gradient_accumulation == 4 * plan.training.gradient_accumulation
    on_cpu = probe_plan(base_plan(run), run, run.probes[0], "cpu")
    assert on_cpu.hardware.gpus == 0 and effective_batch(on_cpu) == effective_batch(four)
    # a one-GPU plan's probe trains its plan's step as it did
    one = runner.make_plan((4,), (1e-3,), steps=10, **plan_settings(plan))
    assert probe_plan(base_plan(one), one, one.probes[0], "cuda").training == replace(
        plan.training, max_steps=10, epochs=None, learning_rate=1e-3)


def test_the_probe_draws_its_steps_examples(tmp_path):
    """The worker's seeded sample holds the probe's steps x its step's examples (+ the held-out ones): at the
    plan's own accumulation it held a quarter of them, and a 4-GPU plan's probe would go round it 4 times."""
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                     {"role": "assistant", "content": f"a{i}"}]}) + "\n"
                            for i in range(2000)))
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # messages rows, no packing, 2 x 8 a GPU's step
    four = replace(plan, hardware=replace(plan.hardware, gpus=4, sharding="ddp"), data=replace(plan.data, path=str(data)))
    run = runner.make_plan((4,), (1e-3,), steps=10, eval_examples=50, **plan_settings(four))
    probe, examples = build_probe(run, run.probes[0].id, "cpu")
    assert effective_batch(probe) == effective_batch(four)
    assert len(examples) == 10 * effective_batch(four) + 50 < 2000


def _probe_note(capsys, monkeypatch, tiny_llama, lm_data, gpus: str) -> tuple[float, int, str]:
    """(a probe's estimated seconds, the planned run's steps, the ladder's probes note) of `lorplan recommend`."""
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    seen = {}
    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 0.0))
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: seen.setdefault("ladder", ladder)
                        and 0)
    rc = main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--micro-batch", "8",
               "--epochs", "200", "--probe-steps", "500", "--budget-minutes", "30", "--gpus", gpus])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    spec = seen["ladder"].spec
    assert spec is not None and spec.probe_steps == 500, seen["ladder"]
    note = next(n for n in spec.notes if n["source"] == "probes")["explanation"]
    each = re.search(r"probes of about ([\d,.]+) s", note)
    assert each, note
    assert f"each probe trains 500 steps of the planned {spec.planned_steps:,}" in note
    return float(each.group(1).replace(",", "")), spec.planned_steps, note


def test_the_ladder_prices_a_probe_step_as_a_planned_step_on_one_gpu(tiny_llama, lm_data, state_home, monkeypatch,
                                                                     capsys):
    """--gpus 4 plans a quarter of the steps, each 4 times the examples; a probe of 500 of them trains 4 times a
    one-GPU plan's probe's tokens on its one GPU, so its estimated time is about 4 times the training part."""
    from lorplan.recommend.ladder import estimate_probe_seconds

    one, planned_one, one_note = _probe_note(capsys, monkeypatch, tiny_llama, lm_data, "1")
    four, planned_four, four_note = _probe_note(capsys, monkeypatch, tiny_llama, lm_data, "4")
    assert planned_one >= 4 * planned_four - 3 and planned_four >= 500, (one_note, four_note)
    load = estimate_probe_seconds(1, 0, 0, gpu=False)  # start-up, and the weights of a tiny model: about the start
    assert four - load > 3 * (one - load), (one_note, four_note)

