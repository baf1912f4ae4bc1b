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
    assert "share no signal" in result.explanation


def test_three_runs_and_the_signal_figures(tmp_path):
    from lorplan.recommend.pattern import load_adapter, module_signals

    signals = {s.name: s for s in module_signals([load_adapter(p) for p in planted_runs(tmp_path, runs=3)])}
    q = signals["bert.encoder.layer.0.attention.self.query"]
    v = signals["bert.encoder.layer.0.attention.self.value"]
    assert q.share > 0.9 and q.directions == 8
    assert abs(v.share) < 0.2 and v.directions <= 2


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
