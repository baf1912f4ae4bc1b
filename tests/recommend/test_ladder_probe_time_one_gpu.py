"""The ladder data_ladder plans prices each probe at the examples a step of it trains (probe.plans.probe_plan,
on its one device), not at the planned run's --gpus (review of 2322808): tests/recommend/test_probe_tokens_one_gpu.py
checks probe_tokens_per_step itself, and passed with data_ladder still pricing `effective_batch(plan) × tokens
per example` (× --gpus). This reads the real ladders' first estimate of a probe's time (caught before their
probes start, the CPU's load pinned): a --gpus 4 plan's ladder and a one-GPU ladder whose micro-batch is what
the 4-GPU plan's probe trains a step. At the parent the 4-GPU ladder said 25 s a probe where its probes train
as the one-GPU ladder's, priced 11 s, so it planned fewer probes than its budget buys."""

from __future__ import annotations

import re

import pytest

from lorplan.cli import main


def _ladder(capsys, monkeypatch, tiny_llama, lm_data, micro_batch: int, gpus: int):
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    seen = {}
    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 0.0))
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: seen.setdefault("ladder", ladder)
                        and 0)
    # a probe length both plans hold, long enough that training, not the model's load, is most of a probe's
    # estimated time
    rc = main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--micro-batch", str(micro_batch),
               "--epochs", "200", "--probe-steps", "500", "--budget-minutes", "30", "--gpus", str(gpus)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    ladder = seen["ladder"]
    assert ladder.spec is not None and ladder.spec.probe_steps == 500, ladder
    note = next(n for n in ladder.spec.notes if n["source"] == "probes")["explanation"]
    each = re.search(r"probes of about ([\d,.]+) s", note)
    assert each, note
    return ladder, float(each.group(1).replace(",", "")), note


def _probe_batch(ladder) -> int:
    """Examples a step of the ladder's first probe trains, on the CPU it runs on here."""
    from lorplan.probe.plans import base_plan, probe_plan
    from lorplan.recommend.launch import effective_batch

    run = ladder.plan
    probe = probe_plan(base_plan(run), run, run.probes[0], "cpu", fixed_alpha=run.alpha)
    return effective_batch(probe)


def test_a_four_gpu_plans_probes_are_priced_as_they_train(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    four, four_s, four_note = _ladder(capsys, monkeypatch, tiny_llama, lm_data, 8, 4)
    batch = _probe_batch(four)
    one, one_s, one_note = _ladder(capsys, monkeypatch, tiny_llama, lm_data, batch, 1)
    assert _probe_batch(one) == batch  # the two ladders' probes train alike a step
    assert four_s == pytest.approx(one_s, abs=0.5), (four_note, one_note)
    # and so the budget buys the same ladder
    assert four_note.split(":", 1)[1].split(";")[0] == one_note.split(":", 1)[1].split(";")[0]
