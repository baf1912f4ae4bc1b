"""The probe ladder: which ranks to probe, how many probes a time budget buys, and which probes to stop early.

When the budget allows, the learning rate comes first: three rates (the policy's / 3, × 1, × 3) at a
reference rank in the middle of the ladder, and every rank is then compared at the best of them. A first pass
spaces ranks ×4 (around the capacity prior when there is one), a second refines ×2 on both sides of the knee.
Why the rate first: compared at one fixed rate that is too low for the run's length, larger ranks win by
learning faster, not by holding more, and the ladder overshoots the knee (benchmarks/planted_rank.py and
benchmarks/rank_regret.py, replayed on their recorded sweeps). Probes are compared at rungs whose length
doubles (successive halving: Jamieson & Talwalkar 2016, arXiv 1502.07943; Li et al. 2018, Hyperband, JMLR
18(185)); the classic rule keeps the best 1/η by loss, but the knee is not the best loss, so here a rank stops
only when its extrapolated curve says it can be neither the knee nor the best rank (the best rank defines the
knee's threshold). Pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.units import counted
from lorplan.recommend.curves import extrapolate
from lorplan.recommend.knee import KNEE_FRACTION, Z, loss_digits

SPACING = 4
REFINE_PROBES = 2  # knee / 2 and knee × 2
EXTRA_LR_PROBES = 2  # the reference rank at a third and at three times the learning rate
# a one-seed ladder's last pass (recommend.decide._second_seed): the ranks from its band's low end up with a second
# seed; on lorplan's benchmarks it trained 3-5 (benchmarks/results/rank_regret.md: 6.0% -> 9.0% of a sweep)
SECOND_SEED_PROBES = 4
MIN_RATE_RANKS = 3  # first-pass ranks worth choosing a rate for: fewer, and the budget goes to the ranks
LR_FACTOR = 3.0
SPARE_SHARE = 0.5  # of the budget, the most that lengthened probes are planned to take (estimates can be off 2×)


def coarse_ladder(prior_rank: int | None = None, *, low: int = 1, high: int = 256,
                  spacing: int = SPACING) -> tuple[int, ...]:
    """First-pass ranks: prior_rank · spacing^k within [low, high] (low · spacing^k without a prior)."""
    if not 1 <= low <= high:
        raise BadInput(f"ladder: the rank range {low}-{high} is empty")
    if spacing < 2:
        raise BadInput(f"ladder: spacing {spacing} must be at least 2")
    anchor = low if prior_rank is None else min(high, max(low, prior_rank))
    ranks = {anchor}
    r = anchor
    while r * spacing <= high:
        r *= spacing
        ranks.add(r)
    r = anchor
    while r // spacing >= low and r % spacing == 0:
        r //= spacing
        ranks.add(r)
    return tuple(sorted(ranks))


def refine_ladder(knee: int, measured: Iterable[int], *, low: int = 1, high: int = 256,
                  best: int | None = None) -> tuple[int, ...]:
    """Second-pass ranks: knee / 2 and knee × 2 when they lie in [low, high] and were not measured yet; and
    best × 2 when the best rank is the largest measured: the knee is measured against the best rank, and a
    best rank at the top of the ladder may not be the best there is (on planted_rank, a first pass of 2, 8, 32
    with 64 still better put the knee at 8 for a planted 16)."""
    done = set(measured)
    candidates = [knee // 2, knee * 2]
    if best is not None and done and best == max(done):
        candidates.append(best * 2)
    out = [r for r in candidates if low <= r <= high and r not in done and r >= 1 and r != knee]
    return tuple(sorted(set(out)))


def planned_steps(examples: int, epochs: float, batch: int) -> int:
    """Optimizer steps of the planned training: ceil(examples × epochs / effective batch)."""
    if examples < 1 or not epochs > 0 or batch < 1:
        raise BadInput(f"planned steps: examples {examples}, epochs {epochs} and batch {batch} must be positive")
    return max(1, math.ceil(examples * epochs / batch))


def halving_rungs(total_steps: int, *, eta: int = 2, min_steps: int = 1) -> tuple[int, ...]:
    """Steps at which probes are compared: total / eta^k for k = K … 1, each ≥ min_steps (the last rung,
    the full length, is not listed: a probe that reaches it has simply finished)."""
    if eta < 2:
        raise BadInput(f"successive halving: eta {eta} must be at least 2")
    rungs = []
    s = total_steps // eta
    while s >= max(1, min_steps):
        rungs.append(s)
        s //= eta
    return tuple(sorted(rungs))


def reference_rank(ranks: tuple[int, ...]) -> int:
    """The rank the learning rates are tried at: the first-pass rank nearest the ladder's middle in log2
    (ties to the smaller), so the rate is chosen where neither the smallest nor the largest rank is."""
    centre = math.sqrt(ranks[0] * ranks[-1])
    return min(ranks, key=lambda r: (abs(math.log2(r) - math.log2(centre)), r))


@dataclass(frozen=True)
class LadderPlan:
    """What a probe budget buys. ranks: the first pass; extra_learning_rates: the two more rates at the
    reference rank, tried before the ranks are compared (0: every rank runs at the policy's rate); refine:
    probes reserved for the second pass; base_probe: the rank-0 run that measures the base loss (a causal LM
    before training; a classifier's head trained alone); second_seed: probes reserved for a one-seed ladder's
    last pass, a second seed at the ranks that can still be the knee (recommend.decide)."""

    ranks: tuple[int, ...]
    refine: int
    extra_learning_rates: int
    base_probe: bool
    probes: int
    seconds: float
    explanation: str
    reference: int | None = None
    second_seed: int = 0


def _thin(ranks: tuple[int, ...], n: int, centre: float) -> tuple[int, ...]:
    """The n ranks closest to `centre` in log2 distance (ties to the smaller rank), in rank order."""
    pick = sorted(ranks, key=lambda r: (abs(math.log2(r) - math.log2(centre)), r))[:n]
    return tuple(sorted(pick))


def _seconds(s: float) -> str:
    """A budget in seconds as the ladder's words give it: whole seconds, but a budget under 10 s (--budget-minutes
    0.01 is 0.6 s) with two digits, since "the budget (1 s)" would round 0.6 s up."""
    return f"{s:,.0f}" if s >= 10 else f"{s:.2g}"


def plan_ladder(
    budget_seconds: float,
    probe_seconds: float,
    *,
    prior_rank: int | None = None,
    low: int = 1,
    high: int = 256,
    base_probe: bool = False,
    parallel: int = 1,
    spacing: int = SPACING,
    seeds: int = 1,
    load: str = "",
) -> LadderPlan:
    """How many probes of probe_seconds each fit in budget_seconds (wall clock, `parallel` probes at a time),
    spent in this order: the base probe when needed, at least 2 first-pass ranks, two more learning rates at
    the reference rank (run before the ranks) once MIN_RATE_RANKS ranks are bought, the rest of the first pass
    (thinned around the prior when the budget is short), then the refinement, then (one seed per probe, with
    the rates tried) up to SECOND_SEED_PROBES second seeds. seeds: training seeds per probe; every one of these
    but the second seeds runs that many times (LadderPlan.probes counts them all). load: what probe_seconds
    allowed for the CPU's load, in words ("2 cores, load 5.1": CpuLoad.words), said beside it; "" for none."""
    if not budget_seconds >= 0 or not probe_seconds > 0 or parallel < 1 or seeds < 1:
        raise BadInput(f"ladder: budget {budget_seconds!r} s, probe time {probe_seconds!r} s, parallel "
                       f"{parallel!r} and seeds {seeds!r} must be positive")
    bought = int(budget_seconds * parallel // probe_seconds)
    n = bought // seeds  # probes of one seed; each is trained with every seed
    ranks = coarse_ladder(prior_rank, low=low, high=high, spacing=spacing)
    left = n - (1 if base_probe else 0)
    if left < 2:
        return LadderPlan((), 0, 0, base_probe, 0, 0.0,
                          f"the budget ({_seconds(budget_seconds)} s) buys {counted(bought, 'probe')} of about {probe_seconds:,.0f} "
                          f"s{f' (allowing for the load: {load})' if load else ''}; a knee needs at least 2 ranks{' and the base probe' if base_probe else ''}"
                          f"{f', each with {seeds} seeds' if seeds > 1 else ''}, so the recommendation rests on the "
                          "capacity prior alone")
    # the rates before the full first pass: compared at a rate too low for the probes, ranks measure learning
    # speed (see the module docstring), so three ranks at the right rate say more than five at the wrong one
    extra = EXTRA_LR_PROBES if left >= min(MIN_RATE_RANKS, len(ranks)) + EXTRA_LR_PROBES else 0
    keep = left - extra
    if keep < len(ranks):
        centre = prior_rank if prior_rank is not None else math.sqrt(ranks[0] * ranks[-1])
        ranks = _thin(ranks, keep, centre)
    left -= len(ranks) + extra
    refine = min(REFINE_PROBES, left)
    second = min(SECOND_SEED_PROBES, left - refine) if seeds == 1 and extra else 0
    probes = ((1 if base_probe else 0) + len(ranks) + refine + extra) * seeds + second
    seconds = math.ceil(probes / parallel) * probe_seconds
    ref = reference_rank(ranks) if extra else None
    each = f"; each of the following with {seeds} training seeds, their mean eval loss compared" if seeds > 1 else ""
    allowed = f"allowing for the load: {load}; " if load else ""
    text = (f"{probes} probes of about {probe_seconds:,.0f} s{' each' if load else ''} ({allowed}{seconds:,.0f} s of "
            f"the {_seconds(budget_seconds)} s "
            f"budget{f', {parallel} at a time' if parallel > 1 else ''}{each}): ")
    if extra:
        text += (f"rank {ref} at three learning rates first, then ranks "
                 f"{', '.join(str(r) for r in ranks if r != ref)} at the best of them")
    else:
        text += f"ranks {', '.join(map(str, ranks))} at the policy's learning rate (no budget to try others)"
    if refine:
        text += (f", then {refine} to refine ×2 around the knee (and one more above the best rank when it is the "
                 "largest measured, if the budget left buys it)")
    if second:
        text += (f", then up to {second} with a second seed at the ranks that can still be the knee (as many as the "
                 "budget left buys)")
    if base_probe:
        text += ("; one more measures the base loss (rank 0: the model before training, or for classification "
                 "its new head trained alone)")
    return LadderPlan(ranks, refine, extra, base_probe, probes, float(seconds), text, ref, second)


def lengthen_probes(steps: int, planned: int, budget_seconds: float, probes: int, parallel: int,
                    seconds_at: Callable[[int], float]) -> int:
    """The longest probe, from `steps` up to the planned run's, whose ladder (`probes` probes, `parallel` at a
    time, each taking seconds_at(its steps) by the estimate) takes at most SPARE_SHARE of the budget; `steps`
    when none longer does. Longer is rounded down to a multiple of 10 steps. Why: a probe measures the knee at
    its own length, and shorter probes put it low (lorplan.recommend.launch.probe_length); the margin leaves
    the ladder whole when the estimate is up to 1/SPARE_SHARE times too short."""
    rounds = math.ceil(probes / max(1, parallel))
    cap = SPARE_SHARE * budget_seconds

    def fits(n: int) -> bool:
        return rounds * seconds_at(n) <= cap

    if steps >= planned or not fits(steps):
        return steps
    lo, hi = steps, planned
    while lo < hi:  # seconds_at grows with steps: the largest that fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo if lo == planned else max(steps, lo // 10 * 10)


@dataclass(frozen=True)
class RankVerdict:
    """One rank at a rung: its loss predicted at the comparison length (± error), keep or stop, and why."""

    rank: int
    keep: bool
    predicted: float
    error: float
    reason: str


@dataclass(frozen=True)
class HalvingDecision:
    step: float
    keep: tuple[int, ...]
    stop: tuple[int, ...]
    verdicts: tuple[RankVerdict, ...]


def halving_step(
    curves: Mapping[int, Sequence[tuple[float, float]]],
    base_loss: float,
    *,
    final_step: float,
    fraction: float = KNEE_FRACTION,
    z: float = Z,
) -> HalvingDecision:
    """Which ranks to stop, given each rank's eval curve so far ((step, loss) points, best learning rate).

    Each curve is extrapolated to final_step (curves.extrapolate). With L* ± e* the best prediction, the knee's
    threshold lies between T_lo = base − f·(base − (L* − z·e*)) and T_hi = base − f·(base − (L* + z·e*)).
    A rank is kept when it may be the best rank (its optimistic loss beats the best's pessimistic one) or may
    be the knee (its optimistic loss reaches T_hi, and no smaller rank surely reaches T_lo); else it stops.
    """
    if not curves:
        raise BadInput("successive halving: no curve to compare")
    preds = {r: extrapolate(c, final_step) for r, c in sorted(curves.items())}
    best = min(preds, key=lambda r: (preds[r].loss, r))
    lb, eb = preds[best].loss, preds[best].error
    at = max(max(t for t, _ in c) for c in curves.values() if c)
    if base_loss - (lb + z * eb) <= 0:
        verdicts = tuple(RankVerdict(r, True, p.loss, p.error, "no rank has surely improved on the base model's "
                                     "eval loss yet, so every rank may still matter") for r, p in preds.items())
        return HalvingDecision(at, tuple(preds), (), verdicts)
    t_lo = base_loss - fraction * (base_loss - (lb - z * eb))
    t_hi = base_loss - fraction * (base_loss - (lb + z * eb))
    verdicts = []
    sure: int | None = None  # smallest rank that surely reaches the knee's threshold
    # the reasons set each prediction against the threshold T_hi: shown with the knee's rule (knee.loss_digits), so
    # a rank stopped for missing it never reads at or below it (T_lo is not asked to read apart from T_hi: with
    # exact curves they differ by 1e-15, and the range's ends decide nothing the reason says)
    digits = loss_digits(t_hi, [p.loss for p in preds.values()])
    for r, p in preds.items():
        lo, hi = p.loss - z * p.error, p.loss + z * p.error
        pred = f"predicted {p.loss:.{digits}g} ± {p.error:.3g} at step {final_step:,.0f}"
        may_best = lo <= lb + z * eb
        may_knee = lo <= t_hi and sure is None
        if r == best:
            verdicts.append(RankVerdict(r, True, p.loss, p.error, f"the best rank so far ({pred})"))
        elif may_knee:
            verdicts.append(RankVerdict(r, True, p.loss, p.error, f"may be the knee ({pred}; the knee needs "
                                        f"{t_lo:.{digits}g}-{t_hi:.{digits}g})"))
        elif may_best:
            verdicts.append(RankVerdict(r, True, p.loss, p.error, f"may still be the best rank ({pred})"))
        elif sure is not None:
            verdicts.append(RankVerdict(r, False, p.loss, p.error, f"rank {sure} already reaches the knee for "
                                        f"certain and this rank cannot beat rank {best} ({pred})"))
        else:
            verdicts.append(RankVerdict(r, False, p.loss, p.error, f"cannot reach the knee: {pred}, above the "
                                        f"most lenient threshold {t_hi:.{digits}g}"))
        if sure is None and hi <= t_lo:
            sure = r
    keep = tuple(v.rank for v in verdicts if v.keep)
    stop = tuple(v.rank for v in verdicts if not v.keep)
    return HalvingDecision(at, keep, stop, tuple(verdicts))


# Rough sustained training throughput for the first pass's size, before any probe is timed (later passes use
# measured probe times): fp32 matmuls on a few CPU cores; a data-centre GPU at a third of its bf16 peak.
CPU_FLOPS = 5e10
GPU_FLOPS = 1e14
LOAD_BYTES_PER_SECOND = 5e8  # reading weights from disk into memory
# Process start, imports (torch, transformers, peft), tokenizer; on a GPU also the CUDA context: the H200's probes
# loaded in 10-14 s (benchmarks/results/gpu_h200_recommend.log); on a 2-core CPU MiniLM's in 2.7 s of the 13.1-13.4 s
# its probes took, with about 4 s besides loading and training (start-up, evals, results).
START_SECONDS = 15.0
CPU_START_SECONDS = 6.0
# A GPU step of a small model waits on kernel launches and Python, not on FLOPs: on an H200 the ladder's probes of
# an 8-layer Llama (4 x 82 tokens) and of MiniLM (16 x 6) took 65-90 ms a training step (benchmarks/results/
# gpu_h200_recommend.log), where FLOPs alone said under 1 ms; the first ladder there planned 7 probes and its
# budget ran out after 3.
GPU_STEP_SECONDS = 0.08


@dataclass(frozen=True)
class CpuLoad:
    """How busy the CPU is when a ladder's first pass is sized: its cores (os.cpu_count, as the probes' threads
    count them: lorplan.probe.scheduler.cpu_threads) and the 1-minute load average (runnable tasks)."""

    cores: int
    load: float

    def slowdown(self, probes_at_once: int = 1) -> float:
        """How many times longer a CPU probe takes than estimate_probe_seconds says (at least 1). A rough model,
        not a measurement of this machine: a small model's probe keeps about one core busy (its steps use few
        threads well), and the scheduler shares the cores among every runnable task, so with `load` tasks besides
        `probes_at_once` probes each probe gets cores / (load + probes_at_once) of a core when that is less than
        one. Seen on a shared 2-core machine (MiniLM, sentiment.jsonl, 57 steps, estimated 20 s idle): at load
        1.5 the probes took 29-30 s (the model says 25 s), and at load 5.1 about 54 s (it says 61 s)."""
        share = self.cores / max(1e-9, self.load + max(1, probes_at_once))
        return max(1.0, 1.0 / share)

    def words(self) -> str:
        """"2 cores, load 5.1": what the plan's probe time allowed for."""
        return f"{counted(self.cores, 'core')}, load {self.load:.1f}"


def estimate_probe_seconds(total_params: int, tokens_per_step: int, steps: int, *, gpu: bool,
                           eval_tokens: int = 0, evals: int = 0, matmul_params: int | None = None,
                           recompute: bool = False) -> float:
    """Wall seconds of one probe, estimated: loading (total_params' weights at LOAD_BYTES_PER_SECOND, bf16 on a
    GPU, fp32 on CPU) plus, per trained token, 2·N FLOPs forward and 2·N backward (a LoRA step computes the
    gradient of the activations through the frozen weights but not of the weights themselves: 4·N where full
    training's is 6·N, Kaplan et al. 2020, arXiv 2001.08361), 2·N more when gradient checkpointing recomputes
    the forward, and 2·N per eval token, at CPU_FLOPS or GPU_FLOPS; on a GPU at least GPU_STEP_SECONDS a
    training step. N: matmul_params (ModelSpec.matmul_params: no embedding lookups), total_params when None.
    Only sizes the first pass; the driver times real probes for the rest. Measured on a 2-core CPU (MiniLM,
    45 steps × 8 examples × 32 tokens): probes took 13.1-13.4 s of wall time (2.7 s loading, 6.7 s training)
    where the estimate with every parameter at 6·N said about 63 s, 33 s with these terms and 15 s of start-up,
    and says 24 s with CPU_START_SECONDS."""
    flops = GPU_FLOPS if gpu else CPU_FLOPS
    n = total_params if matmul_params is None else matmul_params
    load = (START_SECONDS if gpu else CPU_START_SECONDS) + total_params * (2 if gpu else 4) / LOAD_BYTES_PER_SECOND
    train = (6 if recompute else 4) * n * tokens_per_step * steps / flops
    if gpu:
        train = max(train, GPU_STEP_SECONDS * steps)
    return load + train + 2 * n * eval_tokens * evals / flops
