"""Per-module ranks (a peft rank_pattern) from two or more probe adapters trained the same way with other seeds.

What a run's update ΔW = scale·B·A holds is the task's signal plus what that run's seed (LoRA's random A,
the order of the batches) put there. Two independent runs share the signal and not the noise, so:

- shared energy: ⟨ΔW₁, ΔW₂⟩_F (the mean over pairs of runs): independent noise cancels in expectation, so
  it estimates ‖signal‖²_F; divided by the runs' mean ‖ΔW‖²_F it is the share of the update that the runs
  agree on (1: the same update, 0: unrelated updates).
- is it more than chance: the same inner product with the second run's rows and columns flipped by random
  signs (which keeps each update's spectrum and breaks any alignment) scatters around 0 by the null spread;
  shared energy over that spread is a z-score, and a module whose z stays under 4 shares nothing measurable.
- shared directions: the runs' mean M = (ΔW₁+ΔW₂)/2 holds the signal and half the noise; their half
  difference D = (ΔW₁−ΔW₂)/2 holds no signal and noise of the same size (it is the same sum with one sign
  flipped). D's top singular value is the noise floor, and the directions of M above it are the ones the runs
  share; σⱼ(M)² − σⱼ(D)² is the signal energy of the j-th direction (their sums differ by exactly
  ⟨ΔW₁, ΔW₂⟩_F). With more runs, M and D are the two halves' means' half sum and half difference.

This is the cross-run logic of the LoRA paper's subspace analysis (Hu et al. 2021, arXiv 2106.09685 §7,
Fig. 4: two seeds' adapters share a few top directions, random matrices none) turned into a test, and a
split-half null in the sense of AdaLoRA's budget view (Zhang et al. 2023, arXiv 2303.10512): rank goes where
the measured signal is, under a fixed parameter budget.

The allocation at a parameter budget and the rank_pattern keys are recommend.allocate's (pure Python);
this module reads the adapters (torch and safetensors, imported inside functions) and measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.lora import model_path, pattern_value
from lorplan.core.model.sources import read_json_object
from lorplan.recommend.allocate import (  # noqa: F401  (re-exported: the measured figures and the allocation)
    ModuleSignal,
    allocate,
    kind_key,
    pattern_from_signals,
    short_kind,
    signals_from_json,
    signals_to_json,
)
from lorplan.recommend.types import RankPattern

NULL_FLIPS = 32  # sign flips per pair of runs for the null spread of the shared energy


@dataclass(frozen=True)
class Adapter:
    """One saved peft LoRA adapter: its config and, per module, (scale, A, B) as float64 tensors."""

    path: Path
    rank: int
    modules: dict


def load_adapter(path: str | Path) -> Adapter:
    """Read a peft adapter folder (adapter_config.json + adapter_model.safetensors, as save_pretrained writes
    it). BadInput naming the folder when it is not one, or is not LoRA."""
    import torch
    from safetensors.torch import load_file

    folder = Path(path)
    cfg_path, weights = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise BadInput(f"adapter {folder}: not a peft adapter folder (adapter_config.json and "
                       "adapter_model.safetensors expected)")
    # one line naming the file: empty, not UTF-8, nested too deeply (a RecursionError from json), not an object
    cfg = read_json_object(cfg_path, f"adapter {folder}: adapter_config.json")
    if cfg.get("peft_type", "LORA") != "LORA":
        raise BadInput(f"adapter {folder}: a {cfg.get('peft_type')} adapter, not LoRA")
    r, alpha = _number(folder, cfg, "r", 8, whole=True), _number(folder, cfg, "lora_alpha", 8)
    rp, ap = _patterns(folder, cfg, "rank_pattern"), _patterns(folder, cfg, "alpha_pattern")
    tensors = load_file(str(weights))
    modules: dict[str, tuple[float, object, object]] = {}
    for key, a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key[: -len(".lora_A.weight")]
        b = tensors.get(name + ".lora_B.weight")
        if b is None or a.dim() != 2:
            continue
        name = model_path(name)
        rm = pattern_value(rp, name)
        am = pattern_value(ap, name)
        rank = int(rm) if rm is not None else r
        al = float(am) if am is not None else alpha
        scale = al / math.sqrt(rank) if cfg.get("use_rslora") else al / rank
        modules[name] = (scale, a.to(torch.float64), b.to(torch.float64))
    if not modules:
        raise BadInput(f"adapter {folder}: no LoRA linear weights (lora_A / lora_B) in adapter_model.safetensors")
    return Adapter(folder, r, modules)


def _number(folder: Path, cfg: dict, key: str, default: float, *, whole: bool = False):
    """cfg[key] (default when absent): a positive whole number for r, a positive finite number for lora_alpha, as
    peft saves them; BadInput naming the file and the key otherwise ("8", true, -1, 1e400 were a ValueError or
    OverflowError traceback, or a scale of inf)."""
    value = cfg.get(key, default)
    ok = isinstance(value, int) if whole else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        kind = "a positive whole number" if whole else "a positive number"
        raise BadInput(f"adapter {folder}: adapter_config.json's {key!r} must be {kind}, not {value!r}")
    return value


def _patterns(folder: Path, cfg: dict, key: str) -> dict:
    """cfg's rank_pattern or alpha_pattern ({} when absent or null): module keys to positive numbers."""
    value = cfg.get(key) or {}
    if not isinstance(value, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
            for v in value.values()):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise BadInput(f"adapter {folder}: adapter_config.json's {key!r} must map module names to positive "
                       f"numbers, not {shown}")
    return value


def _product_svd(bs: Sequence, as_: Sequence):
    """Singular values of Σᵢ Bᵢ·Aᵢ without forming the d_out × d_in matrix (QR of the stacked factors)."""
    import torch

    b = torch.cat(list(bs), dim=1)
    a = torch.cat(list(as_), dim=0)
    _, rb = torch.linalg.qr(b)
    _, ra = torch.linalg.qr(a.T)
    return torch.linalg.svdvals(rb @ ra.T)


def _inner(s1, a1, b1, s2, a2, b2) -> float:
    """⟨s1·B1A1, s2·B2A2⟩_F = s1·s2·tr((B1ᵀB2)(A2A1ᵀ)), in r × r products."""
    return float(s1 * s2 * ((b1.T @ b2) @ (a2 @ a1.T)).diagonal().sum())


def _null_spread(p1, p2, flips: int, seed: int) -> float:
    """The standard deviation of ⟨ΔW₁, S_out·ΔW₂·S_in⟩_F over random sign flips S of the rows and columns:
    what the inner product of two unrelated updates with these spectra scatters by (its null), in r × r
    products (S_out·B₂ and A₂·S_in)."""
    import torch

    (s1, a1, b1), (s2, a2, b2) = p1, p2
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(flips):
        so = (torch.randint(0, 2, (b2.shape[0], 1), generator=g, dtype=torch.float64) * 2 - 1)
        si = (torch.randint(0, 2, (1, a2.shape[1]), generator=g, dtype=torch.float64) * 2 - 1)
        values.append(_inner(s1, a1, b1, s2, a2 * si, b2 * so))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.pow(2).mean().sqrt())


def module_signals(adapters: Sequence[Adapter], *, flips: int = NULL_FLIPS) -> list[ModuleSignal]:
    """ModuleSignal for every module the adapters share (they must adapt the same modules, same shapes).
    flips: random sign flips per pair of runs for the null spread of the shared energy."""
    names = list(adapters[0].modules)
    for ad in adapters[1:]:
        if set(ad.modules) != set(names):
            diff = sorted(set(ad.modules) ^ set(names))[:3]
            raise BadInput(f"adapter {ad.path}: adapts other modules than {adapters[0].path} (e.g. {', '.join(diff)})")
    half = (len(adapters) + 1) // 2
    groups = (adapters[:half], adapters[half:])
    out = []
    for name in names:
        parts = [ad.modules[name] for ad in adapters]
        shapes = {(tuple(a.shape), tuple(b.shape)) for _, a, b in parts}
        if len(shapes) != 1:
            raise BadInput(f"adapters: module {name} has different shapes across the runs ({sorted(shapes)})")
        energies = [_inner(s, a, b, s, a, b) for s, a, b in parts]
        index = [(i, j) for i in range(len(parts)) for j in range(i + 1, len(parts))]
        pairs = [_inner(*parts[i], *parts[j]) for i, j in index]
        # the mean over pairs of null spreads (pairs share runs, so this is not divided by √pairs: cautious)
        null = sum(_null_spread(parts[i], parts[j], flips, k) for k, (i, j) in enumerate(index)) / len(index)
        # M = (mean of half 1 + mean of half 2) / 2, D = (mean of half 1 − mean of half 2) / 2
        bm, bd, am = [], [], []
        for sign, grp in ((1.0, groups[0]), (-1.0, groups[1])):
            for ad in grp:
                s, a, b = ad.modules[name]
                w = s / (2 * len(grp))
                bm.append(b * w)
                bd.append(b * (w * sign))
                am.append(a)
        sm = _product_svd(bm, am) ** 2
        sd = _product_svd(bd, am) ** 2
        floor = float(sd[0])
        spectrum = tuple(float(x - y) for x, y in zip(sm, sd, strict=True))
        d_out, d_in = parts[0][2].shape[0], parts[0][1].shape[1]
        out.append(ModuleSignal(name, int(d_in), int(d_out), sum(energies) / len(energies),
                                sum(pairs) / len(pairs), spectrum, floor, int((sm > floor).sum()), null))
    return out


def pattern_from_adapters(paths: Sequence[str | Path], rank: int, *, budget_rank: int | None = None,
                          by: str = "auto") -> RankPattern:
    """A peft rank_pattern from two or more adapters trained at `rank` on the same task by independent runs
    (other seeds or disjoint halves of the data), at the parameter budget of uniform `budget_rank` (default
    `rank`) over the same modules. by: "auto" (ranks per module; one key per module kind when all its layers
    get the same rank, else one key per module), "kind" (one rank per kind across layers) or "module".
    Empty pattern (uniform) when the runs share no signal; the explanation says why. BadInput for fewer than
    two adapters, folders that are not LoRA adapters, adapters of another rank or other modules."""
    if by not in ("auto", "kind", "module"):
        raise BadInput(f"pattern: by must be 'auto', 'kind' or 'module', not {by!r}")
    if len(paths) < 2:
        raise BadInput(f"pattern: two or more adapters from independent runs are needed, got {len(paths)}")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise BadInput(f"pattern: rank must be an integer of at least 1, not {rank!r}")
    if budget_rank is not None and (isinstance(budget_rank, bool) or not isinstance(budget_rank, int)
                                    or budget_rank < 1):
        raise BadInput(f"pattern: budget_rank must be an integer of at least 1, not {budget_rank!r}")
    adapters = [load_adapter(p) for p in paths]
    for ad in adapters:
        if ad.rank != rank:
            raise BadInput(f"adapter {ad.path}: trained at rank {ad.rank}, not {rank}")
    return pattern_from_signals(module_signals(adapters), rank, budget_rank=budget_rank, by=by, runs=len(adapters))


def eva_pattern(plan, examples, rank: int, **options) -> RankPattern:
    """peft's EVA allocation for `plan` at uniform `rank`'s budget (lorplan.recommend.eva.eva_pattern)."""
    from lorplan.recommend.eva import eva_pattern as _eva

    return _eva(plan, examples, rank, **options)


def compare_patterns(a: RankPattern, b: RankPattern) -> str:
    """Where two patterns agree and differ, in words (lorplan.recommend.eva.compare_patterns)."""
    from lorplan.recommend.eva import compare_patterns as _cmp

    return _cmp(a, b)


def measure_run(run_dir: str | Path) -> dict:
    """Measure what a ladder run's pattern probes share (their saved adapters) and write pattern-signals.json
    (an {"error": ...} object when it cannot). Run by the ladder's driver in a child process, since the driver
    never imports torch: python -m lorplan.recommend.pattern RUN_DIR."""
    from lorplan.probe.adapters import adapter_dir, has_adapter
    from lorplan.probe.runs import RunDir, atomic_write_json
    from lorplan.recommend.ladder_spec import LadderFiles

    run = RunDir(Path(run_dir))
    files = LadderFiles(run)
    try:
        import torch

        torch.set_num_threads(1)  # a few small SVDs; the cores belong to the probes
        spec = files.spec()
        probes = [p for p in spec.pattern_probes if has_adapter(run, p)]
        if len(probes) < 2:
            raise BadInput(f"only {len(probes)} of the pattern probes ({', '.join(spec.pattern_probes)}) saved "
                           "an adapter")
        adapters = [load_adapter(adapter_dir(run, p)) for p in probes]
        ranks = {a.rank for a in adapters}
        if len(ranks) != 1:
            raise BadInput(f"the pattern probes' adapters have different ranks ({sorted(ranks)})")
        out = signals_to_json(module_signals(adapters), ranks.pop(), probes)
    except Exception as exc:  # the driver must learn why, whatever it was
        out = {"error": f"{type(exc).__name__}: {exc}" if not isinstance(exc, BadInput) else str(exc)}
    atomic_write_json(files.signals_path, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    return 0 if "error" not in measure_run(argv[0]) else 1


if __name__ == "__main__":
    from lorplan.probe.worker import exit_promptly

    # pattern-signals.json is written: the ladder's driver waits for this process's exit to add the next pass,
    # and Python's teardown of torch would keep it alive ~0.4 s more (an exception out of main exits as usual)
    exit_promptly(main())
