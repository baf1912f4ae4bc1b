"""Per-module ranks at a fixed parameter budget from what independent runs share (pure Python, no torch).

The measurement (recommend.pattern.module_signals, from two or more probe adapters) gives per module: the
runs' mean update energy, their shared energy ⟨ΔW₁, ΔW₂⟩_F, and the signal energy per singular direction of
their mean M above the noise floor set by their half difference D (σⱼ(M)² − σⱼ(D)²; see recommend.pattern).

Allocation, at the parameter budget of uniform rank R over the same modules (Σ r_m·(d_in+d_out) ≤
R·Σ(d_in+d_out), what peft trains: lorplan.core.lora), per group (a module kind across layers, e.g.
`attention.self.query`, or one module): a group whose shared energy is beyond chance starts at R/4, the others
at 1. Then doublings while the budget allows, each to the group with the most shared energy per parameter per
rank unit it holds (rank in proportion to measured signal, since a short probe shows only the strongest
directions); what is left goes toward uniform rank R, smallest ranks first. Ranks stay powers of two, no group
above 8 × the probe's rank nor above its modules' smaller dimension (a rank beyond it adds parameters and no
direction). With by_directions (off by default), doublings by measured directions come first: the signal
energy of directions above the noise floor per added parameter, a module that used every direction the probe
gave it assumed to need as much again (its weakest measured direction's energy up to 2 × the probe's rank).
By default ("auto") every module is its own group and the rank_pattern gets one key per kind whose layers all
got the same rank, one per module elsewhere. Measured once (tests' planted case, scripts not kept): MiniLM
with a planted rank-4 change in two query modules, uniform rank 4 (82,944 parameters) reached eval MSE 0.0172,
the per-kind pattern 0.0148 (78,336), the per-module pattern 0.0124 (82,560), one seed each.

Measured on benchmarks/planted_rank.py's 16 planted-teacher cases (benchmarks/results/planted_rank.md; the
pattern trained at the ladder's rank against uniform there, 2 seeds each, mean eval loss change): made as
lorplan's ladder makes it, from the adapters of its pattern probes at the first pass's largest rank (32-64),
these defaults beat uniform in 14/16 cases, −21.5% (−20.3% at the ranks the ladder recommends since it looks
above its best rank), and gave the planted modules most of the parameters in 6/16 (the other two cases: an
empty pattern, and +0.2%); with the doublings by measured directions first, 12/16, −5.3%, 4/16, and +72% in
one case (a rank-1 change at budget rank 2: the modules with many weak directions took the budget, and the
planted module kept rank 1, below uniform's 2). From adapters at the ladder's rank itself: −21.7% (14/16);
with directions first and the earlier cap of 4 × the probe's rank, −21.0%, most parameters to the planted
modules in 4/16 (the cap bound in 4 cases); assumed directions up to an 8 × cap made two equal modules'
doublings all go to the one measured a little stronger. Keeping the uniform rank in every module with signal
(signal_floor 1) beat uniform in only 4/16 (−9.7%).
On benchmarks/rank_regret.py's real-text tasks (pattern probes at rank 32-64, budget rank 2-64) all of these
settings but signal_floor 1 give one same pattern per task, and it does NOT beat uniform (mean eval loss over
3 seeds, pattern vs uniform: cls-docpkg r64 0.899 vs 0.772, cls-license r2 1.597 vs 1.580, lm-source r16 5.445
vs 5.447 (r8, where the variants were compared: 5.448 vs 5.450), lm-license r8 6.269 vs 6.264, lm-docstring
r16 5.634 vs 5.627); signal_floor 1 was uniform on the three LM tasks (every module had signal) and 0.763 /
1.556 on the two classification ones, within their seeds' spread.
Rank follows measured signal per parameter, as in AdaLoRA's budget view (Zhang et al. 2023, arXiv
2303.10512), with the signal separated from the seeds' noise as in the LoRA paper's subspace analysis (Hu et
al. 2021, arXiv 2106.09685 §7).

rank_pattern keys follow peft's matching (peft/utils/other.py `get_pattern_key`: the first key k with
re.match(rf"(.*\\.)?({k})$", module_name) gives the rank); a kind key is the module's path after its block
index with the index as \\d+ (`layer\\.\\d+\\.attention\\.self\\.query`), so `output.dense` never also
matches `attention.output.dense`; a module key is its escaped full path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lorplan.recommend.capacity import largest_power_of_two_at_most
from lorplan.recommend.types import RankPattern

_BLOCK_RE = re.compile(r"^(?P<head>.*?\.[^.]*?)\.(?P<idx>\d+)\.(?P<tail>.+)$")
# shared energy above 4 null spreads is signal: independent random adapters (tests/recommend/test_pattern.py)
# reached |z| 3.4 among 8 modules (the null has heavier tails than a normal one), while the modules of two MiniLM
# probes on lorplan's demo task reached z 10-58 in 27 of 37 modules
Z_SIGNAL = 4.0
MIN_SHARED = 0.05  # without a measured null: below this share of its update energy, a module shares nothing
MAX_WORDS = 8  # groups named in the explanation
# no group gets more than 8 × the probe rank: 4 × (what the probe could see, about 2 × it) bound on planted
# teachers whose change needed more, and lost to 8 × there (module docstring)
MAX_RANK_FACTOR = 8
SIGNAL_FLOOR = 0.25  # a group whose sharing is beyond chance starts at a quarter of the uniform rank
# a module that used every direction the probe gave it is assumed to need as much again (2 × the probe rank);
# assumed directions up to the cap made two equal modules' doublings all go to the one measured a little
# stronger (tests/recommend/test_pattern.py's planted queries got 64 and 8 instead of 32 and 32)
EXTEND_FACTOR = 2
# no doublings by measured directions before those by shared energy (module docstring: from the ladder's
# pattern probes they took the budget from the module that held the shared signal)
BY_DIRECTIONS = False
FILL = True  # what the signal leaves of the budget goes toward uniform rank, smallest ranks first


@dataclass(frozen=True)
class ModuleSignal:
    """What the runs share in one adapted module.

    name: the module's path as peft matches it (e.g. bert.encoder.layer.0.attention.self.query).
    energy: the runs' mean ‖ΔW‖²_F. shared: the mean over pairs of ⟨ΔWᵢ, ΔWⱼ⟩_F (may be < 0: noise).
    spectrum: σⱼ(M)² − σⱼ(D)² per direction j (signal energy, not clipped). floor: σ₁(D)², the noise floor.
    directions: how many σⱼ(M)² lie above the floor (the shared signal rank). null: the spread of the shared
    energy of unrelated updates with these spectra (random sign flips; 0 when not measured)."""

    name: str
    d_in: int
    d_out: int
    energy: float
    shared: float
    spectrum: tuple[float, ...]
    floor: float
    directions: int
    null: float = 0.0

    @property
    def share(self) -> float:
        return self.shared / self.energy if self.energy > 0 else 0.0

    @property
    def z(self) -> float | None:
        """Shared energy in null spreads (None when the null was not measured)."""
        return self.shared / self.null if self.null > 0 else None

    @property
    def significant(self) -> bool:
        """The runs share more than chance here: z ≥ Z_SIGNAL (share ≥ MIN_SHARED without a null)."""
        z = self.z
        return z >= Z_SIGNAL if z is not None else self.share >= MIN_SHARED

    @property
    def cost(self) -> int:
        return self.d_in + self.d_out




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
    if not s.significant:  # what the runs share here is within chance: no direction is measured signal
        return []
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
    limit: int = 1  # the largest rank it may get

    @property
    def cost(self) -> int:
        return sum(m.cost for m in self.members)

    def gain(self, r: int) -> float:
        """Signal energy of directions r+1 … 2r over the group's modules."""
        return sum(sum(sp[r : 2 * r]) for sp in self.spectra)

    @property
    def shared(self) -> float:
        """Shared energy of the members whose sharing is more than chance."""
        return sum(m.shared for m in self.members if m.significant)

    @property
    def z(self) -> float | None:
        nulls = [m.null for m in self.members]
        if not all(n > 0 for n in nulls):
            return None
        return sum(m.shared for m in self.members) / sum(n * n for n in nulls) ** 0.5

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


def allocate(signals: Sequence[ModuleSignal], budget_rank: int, probe_rank: int, by: str = "module", *,
             max_rank_factor: int | None = MAX_RANK_FACTOR, signal_floor: float = SIGNAL_FLOOR,
             extend_factor: int | None = EXTEND_FACTOR, by_directions: bool = BY_DIRECTIONS,
             fill: bool = FILL) -> list[_Group]:
    """Powers-of-two ranks per group at the parameter budget of uniform budget_rank (see the module docstring).
    max_rank_factor: no group above that many times probe_rank (None: only the module's own limit, the largest
    power of two ≤ its smallest dimension, which every group keeps). signal_floor: a group whose sharing is
    beyond chance starts at that share of budget_rank (rounded down to a power of two). extend_factor: a module
    that used every direction the probe gave it is assumed to have directions of its weakest measured one's
    energy up to that many times probe_rank (None: up to its largest rank). by_directions: False skips the
    doublings by measured directions (rank then follows shared energy alone). fill: False leaves what the
    signal did not claim unspent (the budget a ceiling) instead of spending it toward uniform rank."""
    groups = _groups(signals, by)
    budget = budget_rank * sum(s.cost for s in signals)
    top = max(1, max_rank_factor * probe_rank, budget_rank) if max_rank_factor else None
    for g in groups:
        g.limit = largest_power_of_two_at_most(min(min(m.d_in, m.d_out) for m in g.members))
        if top is not None:
            g.limit = min(g.limit, largest_power_of_two_at_most(top))
        reach = min(g.limit, extend_factor * probe_rank) if extend_factor else g.limit
        g.spectra = [signal_spectrum(m, probe_rank, reach) for m in g.members]

    def left() -> int:
        return budget - sum(g.rank * g.cost for g in groups)

    def grow(moves: list[tuple[float, _Group]]) -> bool:
        """Double the group of the best move (among nearly equal ones the smallest rank, so equal modules grow
        together); False when there is none."""
        if not moves:
            return False
        best = max(m[0] for m in moves)
        min((m for m in moves if m[0] >= best * (1 - 1e-9)), key=lambda m: m[1].rank)[1].rank *= 2
        return True

    floor = largest_power_of_two_at_most(max(1, int(budget_rank * signal_floor)))
    for g in groups:  # a group that shares signal keeps at least signal_floor of the uniform rank
        if g.shared > 0:
            g.rank = min(floor, g.limit)
    # 1. measured directions: the doubling that buys the most signal energy above the noise per added parameter
    while by_directions and grow([(g.gain(g.rank) / (g.rank * g.cost), g) for g in groups
                                  if g.rank * 2 <= g.limit and g.rank * g.cost <= left() and g.gain(g.rank) > 0]):
        pass
    # 2. shared energy: each doubling to the group with the most shared energy per parameter per rank unit held
    while grow([(g.shared / (g.rank * g.cost), g) for g in groups
                if g.rank * 2 <= g.limit and g.rank * g.cost <= left() and g.shared > 0]):
        pass
    # 3. what is left, toward uniform: the smallest ranks first
    while fill and grow([(1.0 / g.rank, g) for g in groups
                if g.rank * 2 <= min(budget_rank, g.limit) and g.rank * g.cost <= left()]):
        pass
    return groups


def compress(ranks: Mapping[str, int], rank: int) -> dict[str, int]:
    """A rank_pattern for per-module ranks: one key per module kind when all its layers share a rank, else one
    key per module; entries equal to `rank` left out (peft gives unmatched modules the global rank)."""
    kinds: dict[str, dict[str, int]] = {}
    for name, r in ranks.items():
        kinds.setdefault(kind_key(name)[0], {})[name] = r
    out: dict[str, int] = {}
    for key, members in kinds.items():
        values = set(members.values())
        if len(values) == 1:
            if (v := values.pop()) != rank:
                out[key] = v
            continue
        out.update({re.escape(n): r for n, r in members.items() if r != rank})
    return out


def pattern_from_signals(signals: Sequence[ModuleSignal], rank: int, *, budget_rank: int | None = None,
                         by: str = "auto", runs: int = 2, max_rank_factor: int | None = MAX_RANK_FACTOR,
                         signal_floor: float = SIGNAL_FLOOR, extend_factor: int | None = EXTEND_FACTOR,
                         by_directions: bool = BY_DIRECTIONS, fill: bool = FILL) -> RankPattern:
    """The RankPattern for measured ModuleSignals (see pattern_from_adapters for `by`; allocate for
    max_rank_factor, signal_floor, extend_factor and by_directions)."""
    budget_rank = int(budget_rank or rank)
    total = sum(s.energy for s in signals)
    shared = sum(max(0.0, s.shared) for s in signals)
    uniform = budget_rank * sum(s.cost for s in signals)
    if total <= 0 or not any(s.significant for s in signals):
        best = max(signals, key=lambda s: (s.z if s.z is not None else s.share))
        figure = (f"{best.z:.1f} null spreads (random sign flips; signal needs {Z_SIGNAL:g})" if best.z is not None
                  else f"{best.share:.0%} of its update energy (signal needs {MIN_SHARED:.0%})")
        return RankPattern({}, "pattern", (
            f"the {runs} probe adapters share no signal beyond chance (the best module, {short_kind(best.name)}, "
            f"shares {figure}): every module keeps rank {budget_rank}"),
            {s.name: budget_rank for s in signals}, uniform, uniform)
    groups = allocate(signals, budget_rank, rank, "kind" if by == "kind" else "module",
                      max_rank_factor=max_rank_factor, signal_floor=signal_floor, extend_factor=extend_factor,
                      by_directions=by_directions, fill=fill)
    used = sum(g.rank * g.cost for g in groups)
    ranks = {m.name: g.rank for g in groups for m in g.members}
    if by == "auto":  # one key per kind whose layers agree, per module where they differ
        pattern = dict(sorted(compress(ranks, budget_rank).items(), key=lambda kv: -kv[1]))
    else:
        pattern = {g.key: g.rank for g in sorted(groups, key=lambda g: -g.rank) if g.rank != budget_rank}
    words = []
    for g in sorted(groups, key=lambda g: (-g.rank, -g.shared / max(g.energy, 1e-30)))[:MAX_WORDS]:
        dirs = sum(m.directions for m in g.members) / len(g.members)
        full = ", every direction the probe gave it, so it may need more" if g.saturated else ""
        z = f", z {g.z:.0f}" if g.z is not None else ""
        words.append(f"{g.label} {g.rank} ({max(0.0, g.shared) / g.energy if g.energy > 0 else 0:.0%} of its "
                     f"update shared{z}, {dirs:.1f} directions above the noise per module{full}; "
                     f"{g.energy / total:.0%} of the update)")
    if len(groups) > MAX_WORDS:
        words.append(f"{len(groups) - MAX_WORDS} more")
    sig = sum(s.significant for s in signals)
    head = (f"per-module ranks from {runs} probe adapters at rank {rank} trained with other seeds: the runs agree "
            f"on {shared / total:.0%} of the update's energy (⟨ΔW₁,ΔW₂⟩ over ‖ΔW‖²; the rest is each seed's own), "
            f"beyond chance in {sig} of {len(signals)} modules (z ≥ {Z_SIGNAL:g} null spreads); ")
    if not pattern:
        text = head + (f"no module kind needs more directions than the others can spare, so every module keeps "
                       f"rank {budget_rank}: " + "; ".join(words))
    else:
        text = head + (f"rank goes where the shared signal per parameter is largest, at the parameters of uniform "
                       f"rank {budget_rank} ({used:,} of {uniform:,} adapter parameters): " + "; ".join(words))
    return RankPattern(pattern, "pattern", text, ranks, used, uniform)




def signals_to_json(signals: Sequence[ModuleSignal], rank: int, probes: Sequence[str]) -> dict:
    """The measured signals as JSON (pattern-signals.json of a ladder run)."""
    from dataclasses import asdict

    return {"rank": rank, "runs": len(probes), "probes": list(probes),
            "signals": [{**asdict(s), "spectrum": list(s.spectrum)} for s in signals]}


def signals_from_json(obj: Mapping) -> list[ModuleSignal]:
    return [ModuleSignal(**{**s, "spectrum": tuple(s["spectrum"])}) for s in obj["signals"]]
