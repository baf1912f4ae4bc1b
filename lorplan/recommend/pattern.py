"""Per-module ranks (a peft rank_pattern) from two or more probe adapters trained the same way with other seeds.

What a run's update ΔW = scale·B·A holds is the task's signal plus what that run's seed (LoRA's random A,
the order of the batches) put there. Two independent runs share the signal and not the noise, so:

- shared energy: ⟨ΔW₁, ΔW₂⟩_F (the mean over pairs of runs): independent noise cancels in expectation, so
  it estimates ‖signal‖²_F; divided by the runs' mean ‖ΔW‖²_F it is the share of the update that the runs
  agree on (1: the same update, 0: unrelated updates).
- shared directions: the runs' mean M = (ΔW₁+ΔW₂)/2 holds the signal and half the noise; their half
  difference D = (ΔW₁−ΔW₂)/2 holds no signal and noise of the same size (it is the same sum with one sign
  flipped). D's top singular value is the noise floor, and the directions of M above it are the ones the runs
  share; σⱼ(M)² − σⱼ(D)² is the signal energy of the j-th direction (their sums differ by exactly
  ⟨ΔW₁, ΔW₂⟩_F). With more runs, M and D are the two halves' means' half sum and half difference.

This is the cross-run logic of the LoRA paper's subspace analysis (Hu et al. 2021, arXiv 2106.09685 §7,
Fig. 4: two seeds' adapters share a few top directions, random matrices none) turned into a test, and a
split-half null in the sense of AdaLoRA's budget view (Zhang et al. 2023, arXiv 2303.10512): rank goes where
the measured signal is, under a fixed parameter budget.

Allocation, at the parameter budget of uniform rank R over the same modules (Σ r_m·(d_in+d_out) ≤
R·Σ(d_in+d_out), the count peft trains: lorplan.core.lora): every group (a module kind across layers, e.g.
`query`, or one module) starts at rank 1; then, greedily, the group whose doubling buys the most signal energy
per added parameter doubles, while the budget allows and the doubling buys signal; what is left of the budget
then doubles groups by their shared energy per parameter (a module whose signal is weak in a short probe may
still need rank), never above the budget. Ranks stay powers of two.

rank_pattern keys follow peft's matching (peft/utils/other.py `get_pattern_key`: the first key k with
re.match(rf"(.*\\.)?({k})$", module_name)); a kind key is the module's path after its block index with the
index as \\d+ (`layer\\.\\d+\\.attention\\.self\\.query`), so `output.dense` never also matches
`attention.output.dense`. Heavy imports (torch, safetensors) stay inside functions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.recommend.types import RankPattern

PREFIX = "base_model.model."
_BLOCK_RE = re.compile(r"^(?P<head>.*?\.[^.]*?)\.(?P<idx>\d+)\.(?P<tail>.+)$")
MIN_SHARED = 0.05  # below this shared share of update energy in every module, the runs share no signal
MAX_WORDS = 8  # groups named in the explanation
MAX_RANK_FACTOR = 4  # no group gets more than 4 × the probe rank (what the probe could see: about 2 × it)


@dataclass(frozen=True)
class ModuleSignal:
    """What the runs share in one adapted module.

    name: the module's path as peft matches it (e.g. bert.encoder.layer.0.attention.self.query).
    energy: the runs' mean ‖ΔW‖²_F. shared: the mean over pairs of ⟨ΔWᵢ, ΔWⱼ⟩_F (may be < 0: noise).
    spectrum: σⱼ(M)² − σⱼ(D)² per direction j (signal energy, not clipped). floor: σ₁(D)², the noise floor.
    directions: how many σⱼ(M)² lie above the floor (the shared signal rank)."""

    name: str
    d_in: int
    d_out: int
    energy: float
    shared: float
    spectrum: tuple[float, ...]
    floor: float
    directions: int

    @property
    def share(self) -> float:
        return self.shared / self.energy if self.energy > 0 else 0.0

    @property
    def cost(self) -> int:
        return self.d_in + self.d_out


@dataclass(frozen=True)
class Adapter:
    """One saved peft LoRA adapter: its config and, per module, (scale, A, B) as float64 tensors."""

    path: Path
    rank: int
    modules: dict


def _pattern_value(pattern: Mapping, name: str):
    for key in pattern:
        if re.match(rf"(.*\.)?({key})$", name):
            return pattern[key]
    return None


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
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"adapter {folder}: adapter_config.json is not readable JSON ({exc})") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise BadInput(f"adapter {folder}: a {cfg.get('peft_type')} adapter, not LoRA")
    r, alpha = int(cfg.get("r", 8)), float(cfg.get("lora_alpha", 8))
    rp, ap = cfg.get("rank_pattern") or {}, cfg.get("alpha_pattern") or {}
    tensors = load_file(str(weights))
    modules: dict[str, tuple[float, object, object]] = {}
    for key, a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key[: -len(".lora_A.weight")]
        b = tensors.get(name + ".lora_B.weight")
        if b is None or a.dim() != 2:
            continue
        name = name[len(PREFIX):] if name.startswith(PREFIX) else name
        rm = _pattern_value(rp, name)
        am = _pattern_value(ap, name)
        rank = int(rm) if rm is not None else r
        al = float(am) if am is not None else alpha
        scale = al / math.sqrt(rank) if cfg.get("use_rslora") else al / rank
        modules[name] = (scale, a.to(torch.float64), b.to(torch.float64))
    if not modules:
        raise BadInput(f"adapter {folder}: no LoRA linear weights (lora_A / lora_B) in adapter_model.safetensors")
    return Adapter(folder, r, modules)


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


def module_signals(adapters: Sequence[Adapter]) -> list[ModuleSignal]:
    """ModuleSignal for every module the adapters share (they must adapt the same modules, same shapes)."""
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
        pairs = [_inner(*parts[i], *parts[j]) for i in range(len(parts)) for j in range(i + 1, len(parts))]
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
                                sum(pairs) / len(pairs), spectrum, floor, int((sm > floor).sum())))
    return out


def kind_key(name: str) -> tuple[str, int | None]:
    """(the peft rank_pattern key of the module's kind, its block index): `layer\\.\\d+\\.output\\.dense`, 0.
    A module outside numbered blocks is its own kind (its full path, escaped)."""
    m = _BLOCK_RE.match(name)
    if not m:
        return re.escape(name), None
    head = m.group("head").rsplit(".", 1)[-1]
    return rf"{re.escape(head)}\.\d+\.{re.escape(m.group('tail'))}", int(m.group("idx"))


def short_kind(name: str) -> str:
    """A module kind in words: the path after the block index (attention.self.query)."""
    m = _BLOCK_RE.match(name)
    return m.group("tail") if m else name


def signal_spectrum(s: ModuleSignal, probe_rank: int, top: int) -> list[float]:
    """The signal energy per direction that rank can buy in module `s`: the measured σⱼ(M)² − σⱼ(D)² of the
    directions above the noise floor, 0 for the rest. A module that used every direction the probe gave it
    (as many shared directions as the probe's rank) may need more than the probe could show: its weakest
    measured direction's energy is assumed for the directions after it, up to `top`."""
    dirs = min(s.directions, len(s.spectrum))
    out = [max(0.0, x) for x in s.spectrum[:dirs]]
    if dirs >= probe_rank and out:
        out += [out[-1]] * max(0, top - dirs)
    return out


@dataclass
class _Group:
    key: str
    label: str
    members: list
    rank: int = 1
    spectra: list | None = None

    @property
    def cost(self) -> int:
        return sum(m.cost for m in self.members)

    def gain(self, r: int) -> float:
        """Signal energy of directions r+1 … 2r over the group's modules."""
        return sum(sum(sp[r : 2 * r]) for sp in self.spectra)

    @property
    def shared(self) -> float:
        return sum(max(0.0, m.shared) for m in self.members)

    @property
    def energy(self) -> float:
        return sum(m.energy for m in self.members)

    @property
    def saturated(self) -> bool:
        return any(len(sp) > m.directions for sp, m in zip(self.spectra, self.members, strict=True))


def _groups(signals: Sequence[ModuleSignal], by: str) -> list[_Group]:
    if by == "module":
        return [_Group(re.escape(s.name), s.name, [s]) for s in signals]
    groups: dict[str, _Group] = {}
    for s in signals:
        key, _ = kind_key(s.name)
        groups.setdefault(key, _Group(key, short_kind(s.name), [])).members.append(s)
    return list(groups.values())


def allocate(signals: Sequence[ModuleSignal], budget_rank: int, probe_rank: int, by: str = "kind") -> list[_Group]:
    """Powers-of-two ranks per group at the parameter budget of uniform budget_rank (see the module docstring)."""
    groups = _groups(signals, by)
    budget = budget_rank * sum(s.cost for s in signals)
    top = max(1, MAX_RANK_FACTOR * probe_rank, budget_rank)
    for g in groups:
        g.spectra = [signal_spectrum(m, probe_rank, top) for m in g.members]

    def left() -> int:
        return budget - sum(g.rank * g.cost for g in groups)

    while True:  # signal first: the doubling that buys the most shared signal energy per added parameter
        moves = [(g.gain(g.rank) / (g.rank * g.cost), g) for g in groups
                 if g.rank * 2 <= top and g.rank * g.cost <= left() and g.gain(g.rank) > 0]
        if not moves:
            break
        max(moves, key=lambda m: m[0])[1].rank *= 2
    while True:  # then toward uniform: the smallest ranks first, the most shared energy per parameter first
        moves = [g for g in groups if g.rank * 2 <= max(budget_rank, 1) and g.rank * g.cost <= left()]
        if not moves:
            break
        min(moves, key=lambda g: (g.rank, -g.shared / g.cost)).rank *= 2
    return groups


def pattern_from_signals(signals: Sequence[ModuleSignal], rank: int, *, budget_rank: int | None = None,
                         by: str = "kind", runs: int = 2) -> RankPattern:
    """The RankPattern for measured ModuleSignals (see pattern_from_adapters)."""
    budget_rank = int(budget_rank or rank)
    total = sum(s.energy for s in signals)
    shared = sum(max(0.0, s.shared) for s in signals)
    best = max(signals, key=lambda s: s.share)
    uniform = budget_rank * sum(s.cost for s in signals)
    if total <= 0 or best.share < MIN_SHARED:
        return RankPattern({}, "pattern", (
            f"the {runs} probe adapters share no signal (the best module, {short_kind(best.name)}, agrees on "
            f"{best.share:.0%} of its update energy; below {MIN_SHARED:.0%} is noise): every module keeps rank "
            f"{budget_rank}"), {s.name: budget_rank for s in signals}, uniform, uniform)
    groups = allocate(signals, budget_rank, rank, by)
    used = sum(g.rank * g.cost for g in groups)
    pattern = {g.key: g.rank for g in sorted(groups, key=lambda g: -g.rank) if g.rank != budget_rank}
    words = []
    for g in sorted(groups, key=lambda g: (-g.rank, -g.shared / max(g.energy, 1e-30)))[:MAX_WORDS]:
        dirs = sum(m.directions for m in g.members) / len(g.members)
        full = ", every direction the probe gave it, so it may need more" if g.saturated else ""
        words.append(f"{g.label} {g.rank} ({g.shared / g.energy if g.energy > 0 else 0:.0%} of its update "
                     f"shared, {dirs:.1f} shared directions per module{full}; {g.energy / total:.0%} of the update)")
    if len(groups) > MAX_WORDS:
        words.append(f"{len(groups) - MAX_WORDS} more")
    head = (f"per-module ranks from {runs} probe adapters at rank {rank} trained with other seeds: the runs agree "
            f"on {shared / total:.0%} of the update's energy (⟨ΔW₁,ΔW₂⟩ over ‖ΔW‖²); ")
    if not pattern:
        text = head + (f"no module kind needs more directions than the others can spare, so every module keeps "
                       f"rank {budget_rank}: " + "; ".join(words))
    else:
        text = head + (f"rank goes where the shared signal per parameter is largest, at the parameters of uniform "
                       f"rank {budget_rank} ({used:,} of {uniform:,} adapter parameters): " + "; ".join(words))
    ranks = {m.name: g.rank for g in groups for m in g.members}
    return RankPattern(pattern, "pattern", text, ranks, used, uniform)


def pattern_from_adapters(paths: Sequence[str | Path], rank: int, *, budget_rank: int | None = None,
                          by: str = "kind") -> RankPattern:
    """A peft rank_pattern from two or more adapters trained at `rank` on the same task by independent runs
    (other seeds or disjoint halves of the data), at the parameter budget of uniform `budget_rank` (default
    `rank`) over the same modules. by: "kind" (one rank per module kind across layers) or "module".
    Empty pattern (uniform) when the runs share no signal; the explanation says why. BadInput for fewer than
    two adapters, folders that are not LoRA adapters, adapters of another rank or other modules."""
    if by not in ("kind", "module"):
        raise BadInput(f"pattern: by must be 'kind' or 'module', not {by!r}")
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


def eva_pattern(plan, examples, rank: int) -> RankPattern:
    """peft's EVA allocation for `plan` at uniform `rank`'s budget (lorplan.recommend.eva.eva_pattern)."""
    from lorplan.recommend.eva import eva_pattern as _eva

    return _eva(plan, examples, rank)


def compare_patterns(a: RankPattern, b: RankPattern) -> str:
    """Where two patterns agree and differ, in words (lorplan.recommend.eva.compare_patterns)."""
    from lorplan.recommend.eva import compare_patterns as _cmp

    return _cmp(a, b)
