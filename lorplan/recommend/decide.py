"""The ladder's decisions, from what its probes measured: the pass it starts with, which ranks to stop
(successive halving), which pass comes next and whether the budget allows it. Pure Python: the driver
(recommend.driver) acts on them.

Passes, with rate_first (recommend.ladder explains why): "learning rate" (the base, and the reference rank at
the policy's rate / 3, × 1 and × 3), "first" (the other first-pass ranks at the best of those rates),
"refine" (×2 around the knee, at that rate), "second seed" (a one-seed ladder's ranks that can still be the knee,
once more with another seed). Ladders written before rate_first: "first" at the policy's
rate, "refine", then "learning rate" (two more rates at the leading rank).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lorplan.core.units import counted
from lorplan.recommend.curves import MIN_POINTS
from lorplan.recommend.ladder import LR_FACTOR, halving_rungs, halving_step, refine_ladder
from lorplan.recommend.ladder_spec import LadderSpec, LadderState, Pass, Stop
from lorplan.recommend.observe import ProbeObs

SECOND_SEED = "second seed"
PASS_ORDER = ("first", "refine", "learning rate")
RATE_FIRST_ORDER = ("learning rate", "first", "refine", SECOND_SEED)


def probe_id(rank: int, seed: int, seeds: int, lr: float | None = None) -> str:
    """"r8", "r8-s1" with several seeds, "r8-lr0.003[-s1]" for the learning-rate check, "base[-s1]" for rank 0."""
    name = "base" if rank == 0 else f"r{rank}"
    if lr is not None:
        name += f"-lr{lr:.2g}"  # two figures: the rates are a factor of 3 apart, and ids show in tables
    return name if seeds < 2 else f"{name}-s{seed}"


def probe_specs(ranks: Sequence[int], spec: LadderSpec, lr: float | None = None, *,
                rate: float | None = None) -> tuple[dict, ...]:
    """ProbeSpec fields (id, rank, lr, seed) for `ranks` × the ladder's seeds, seed-major (every rank once
    before any rank twice, so an early look covers every rank). lr: a rate named in the probe's id (the
    learning-rate pass); rate: the ladder's rate, not named (default: the spec's)."""
    n = len(spec.seeds)
    use = lr if lr is not None else rate if rate is not None else spec.learning_rate
    return tuple({"id": probe_id(r, s, n, lr), "rank": r, "lr": use,
                  "seed": s if n > 1 else None} for s in spec.seeds for r in ranks)


def rate_grid(spec: LadderSpec) -> tuple[float, float, float]:
    """The learning-rate pass's rates: the policy's / LR_FACTOR, × 1 and × LR_FACTOR."""
    lr = spec.learning_rate
    return round(lr / LR_FACTOR, 12), lr, round(lr * LR_FACTOR, 12)


def _pattern_second(spec: LadderSpec, rate: float) -> tuple[dict, ...]:
    """The second pattern probe (the top rank with another seed) when the ladder has one to add."""
    if spec.pattern_seed is None or len(spec.pattern_probes) < 2:
        return ()
    return ({"id": spec.pattern_probes[1], "rank": max(spec.ranks), "lr": rate, "seed": spec.pattern_seed},)


def first_pass(spec: LadderSpec, *, base: bool = True) -> Pass:
    """The pass a ladder starts with. rate_first: the base (when `base`) and the reference rank at the three
    rates of rate_grid; else the base and every first-pass rank at the policy's rate, largest first (on one
    device probes run one after another, and a smaller rank can only be stopped early against a curve that
    is already there), and the second pattern probe."""
    base_specs = probe_specs((0,), spec) if base else ()
    if spec.rate_first:
        ref = spec.reference_rank
        rates = tuple(d for lr in rate_grid(spec) for d in probe_specs((ref,), spec, lr=lr))
        return Pass("learning rate", specs=base_specs + rates, ranks=(ref,))
    ranks = sorted(spec.ranks, reverse=True)
    return Pass("first", specs=base_specs + probe_specs(ranks, spec) + _pattern_second(spec, spec.learning_rate),
                ranks=spec.ranks)


def chosen_rate(spec: LadderSpec, obs: Sequence[ProbeObs]) -> tuple[float, str]:
    """The learning-rate pass's verdict: the rate whose probes at the reference rank reached the lowest mean
    eval loss (ties to the lower rate), and the sentence saying so; the spec's rate when none measured one."""
    ref = spec.reference_rank
    by: dict[float, list[float]] = defaultdict(list)
    for o in obs:
        if o.rank == ref and o.eval_loss is not None and o.state == "finished":
            by[o.lr].append(o.eval_loss)
    if not by:
        return spec.learning_rate, (f"no probe of the learning-rate pass at rank {ref} finished, so the ranks are "
                                    f"compared at the policy's rate {spec.learning_rate:g}")
    means = {lr: sum(v) / len(v) for lr, v in by.items()}
    best = min(means, key=lambda lr: (means[lr], lr))
    tried = ", ".join(f"{lr:g}: {means[lr]:.4g}" for lr in sorted(means))
    return best, (f"learning rate {best:g}: the lowest eval loss at rank {ref} of the rates tried before the ranks "
                  f"were compared ({tried}); every rank is compared at it")


def rank_curves(obs: Sequence[ProbeObs], lr: float) -> dict[int, list[tuple[float, float]]]:
    """Per rank (≥ 1) at learning rate `lr`: the eval curve after training began, the mean over the seeds that
    reached each step."""
    by: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in obs:
        if o.rank >= 1 and math.isclose(o.lr, lr, rel_tol=1e-9):
            for step, loss in o.curve:
                if step > 0:
                    by[o.rank][step].append(loss)
    return {r: [(float(s), sum(v) / len(v)) for s, v in sorted(steps.items())] for r, steps in sorted(by.items())}


def rungs(spec: LadderSpec, eval_every: int) -> tuple[int, ...]:
    """Steps at which ranks are compared: half, a quarter ... of a probe, once a curve can be fitted there."""
    return halving_rungs(spec.probe_steps, eta=2, min_steps=MIN_POINTS * max(1, eval_every))


def halving(spec: LadderSpec, state: LadderState, obs: Sequence[ProbeObs], base_loss: float,
            eval_every: int) -> tuple[list[Stop], list[str]]:
    """New stops and newly judged "rank@rung" keys: each rank with a probe still queued or running is judged
    once at every rung its curve has passed, against every rank's curve extrapolated to the probes' length
    (recommend.ladder.halving_step); it stops when it can be neither the knee nor the best rank."""
    rate = state.ladder_rate(spec)
    curves = {r: c for r, c in rank_curves(obs, rate).items() if len(c) >= MIN_POINTS}
    active = {o.rank for o in obs if o.rank >= 1 and not o.ended and math.isclose(o.lr, rate)}
    active -= state.stopped_ranks
    judged = set(state.judged)
    due: dict[int, int] = {}
    for r in sorted(active & set(curves)):
        last = curves[r][-1][0]
        passed = [g for g in rungs(spec, eval_every) if g <= last and f"{r}@{g}" not in judged]
        if passed:
            due[r] = max(passed)
    if not due or len(curves) < 2:
        return [], []
    # compared where the knee compares them: at the probes' full length (recommend.types.LadderRow.knee_loss)
    decision = halving_step(curves, base_loss, final_step=spec.probe_steps)
    verdicts = {v.rank: v for v in decision.verdicts}
    stops = [Stop(r, g, verdicts[r].reason) for r, g in due.items() if not verdicts[r].keep]
    new_judged = [f"{r}@{g}" for r in due for g in rungs(spec, eval_every) if g <= due[r] and f"{r}@{g}" not in judged]
    return stops, new_judged


@dataclass(frozen=True)
class Budget:
    """seconds left (None: no limit), the measured wall seconds of one probe (None: none ended yet) and the
    seconds the ladder has run (None: not known)."""

    left: float | None
    per_probe: float | None
    spent: float | None = None

    def affordable(self, probes: int, parallel: int) -> int:
        """How many of `probes` fit in what is left (all when there is no limit)."""
        if self.left is None:
            return probes
        if self.per_probe is None or self.per_probe <= 0:
            return 0
        return max(0, min(probes, int(self.left // self.per_probe) * max(1, parallel)))


def budget(spec: LadderSpec, obs: Sequence[ProbeObs], now: float) -> Budget:
    """What is left of the budget, and the mean wall time of the rank probes that finished."""
    walls = [o.wall_seconds for o in obs if o.rank >= 1 and o.state == "finished" and o.wall_seconds]
    per = sum(walls) / len(walls) if walls else None
    left = None if spec.budget_seconds is None else max(0.0, spec.budget_seconds - (now - spec.started))
    return Budget(left, per, max(0.0, now - spec.started))


def next_pass(spec: LadderSpec, state: LadderState, obs: Sequence[ProbeObs], knee_rank: int | None,
              now: float, *, best_rank: int | None = None, band_low: int | None = None) -> Pass | None:
    """The pass after the last one in `state` once every probe has ended (None: wait, or nothing is left; the
    driver tells these apart with `remaining_passes`). A pass the budget or the evidence does not allow is
    returned with `skipped` set and no probes. knee_rank / best_rank: the knee of what was measured and its
    best rank (recommend.knee.Knee), which the refinement is placed around."""
    if any(not o.ended for o in obs) or state.budget_spent is not None:
        return None
    done = {p.name for p in state.passes}
    for name in RATE_FIRST_ORDER if spec.rate_first else PASS_ORDER:
        if name in done:
            continue
        if name == "first" and spec.rate_first:
            return _ranks_at_rate(spec, obs, budget(spec, obs, now))
        if name == "refine" and spec.refine:
            return _refine(spec, obs, knee_rank, budget(spec, obs, now), state.ladder_rate(spec), best_rank)
        if name == "learning rate" and spec.extra_learning_rates and not spec.rate_first:
            return _learning_rates(spec, knee_rank, budget(spec, obs, now))
        if name == SECOND_SEED and spec.second_seed is not None:
            return _second_seed(spec, state, obs, knee_rank, band_low, budget(spec, obs, now))
    return None


def _ranks_at_rate(spec: LadderSpec, obs: Sequence[ProbeObs], b: Budget) -> Pass:
    """rate_first's "first" pass: the first-pass ranks but the reference (measured at every rate already),
    largest first, at the learning-rate pass's best rate; and the second pattern probe. When the learning-rate
    pass's timed probes say the budget left cannot buy them all (the first estimate of a probe's time was too
    low), the pattern probe is dropped and _cut keeps the ranks nearest the reference (the larger of two as near):
    a rank the budget would cancel half-way measures nothing."""
    rate, _ = chosen_rate(spec, obs)
    ranks = sorted((r for r in spec.ranks if r != spec.reference_rank), reverse=True)
    specs = probe_specs(ranks, spec, rate=rate)
    pattern = _pattern_second(spec, rate)
    wanted = len(specs) + len(pattern)
    if ranks and b.per_probe is not None and b.affordable(wanted, spec.parallel) < wanted:
        ref = spec.reference_rank or ranks[-1]
        near = sorted(ranks, key=lambda r: (abs(math.log(r / ref)), -r))
        kept, why = _cut(probe_specs(near, spec, rate=rate), len(near), spec, b,
                         f"ranks {', '.join(map(str, sorted(ranks)))} at learning rate {rate:g}")
        if not kept:
            return _one_rank_only(spec, b, len(specs), why, rate)
        ranks = sorted({d["rank"] for d in kept}, reverse=True)
        specs, pattern = probe_specs(ranks, spec, rate=rate), ()
    return Pass("first", specs=specs + pattern, ranks=tuple(sorted(ranks)), learning_rate=rate)


def _one_rank_only(spec: LadderSpec, b: Budget, probes: int, why: str, rate: float) -> Pass:
    """The ranks pass skipped because the budget left buys none of its ranks: the ladder ends with the reference
    rank alone, which the pass says plainly, with the --budget-minutes that would have bought the pass (the time
    the ladder has run so far and these probes' at their measured time, rounded up to a minute)."""
    need = (b.spent or 0.0) + math.ceil(probes / max(1, spec.parallel)) * (b.per_probe or 0.0)
    minutes = max(1, math.ceil(need / 60))
    text = (f"only rank {spec.reference_rank} was measured, so no other rank was compared with it: {why}; "
            f"--budget-minutes {minutes} would buy them ({b.spent or 0.0:,.0f} s to here and "
            f"{need - (b.spent or 0.0):,.0f} s for these probes at their measured time)")
    return Pass("first", skipped=text, learning_rate=rate, budget_minutes=minutes)


def _cut(specs: tuple[dict, ...], n_ranks: int, spec: LadderSpec, b: Budget, what: str) -> tuple[tuple[dict, ...], str]:
    """Keep the first ranks (all their seeds) that the budget affords; the reason when it affords none."""
    seeds = len(spec.seeds)
    fit_probes = b.affordable(len(specs), spec.parallel)
    ranks_fit = min(n_ranks, fit_probes // seeds)
    if ranks_fit == 0:
        per = f"about {b.per_probe:,.0f} s each" if b.per_probe else "no probe finished to time"
        return (), (f"the budget left ({b.left or 0:,.0f} s) does not buy the {what} "
                    f"({counted(len(specs), 'probe')}, "
                    f"{per})")
    keep_ranks = []
    for d in specs:
        if d["rank"] not in keep_ranks and len(keep_ranks) < ranks_fit:
            keep_ranks.append(d["rank"])
    return tuple(d for d in specs if d["rank"] in keep_ranks), ""


def _refine(spec: LadderSpec, obs: Sequence[ProbeObs], knee_rank: int | None, b: Budget, rate: float,
            best_rank: int | None = None) -> Pass:
    if knee_rank is None:
        return Pass("refine", skipped="the first pass found no knee to refine around")
    measured = {o.rank for o in obs if o.rank >= 1}
    # knee / 2 first: whether a smaller rank is enough is the question the knee answers; then knee × 2, then
    # above the best rank when it is the largest measured (the budget cuts from the end)
    ranks = sorted(refine_ladder(knee_rank, measured, high=spec.max_rank, best=best_rank),
                   key=lambda r: (r > knee_rank, r))
    if not ranks:
        return Pass("refine", skipped=f"rank {knee_rank}'s neighbours ×2 were already measured or out of range")
    specs = probe_specs(ranks, spec, rate=rate)
    kept, why = _cut(specs, len(ranks), spec, b, f"ranks {', '.join(map(str, ranks))}")
    if not kept:
        return Pass("refine", skipped=why)
    return Pass("refine", specs=kept, ranks=tuple(sorted({d["rank"] for d in kept})))


def _learning_rates(spec: LadderSpec, knee_rank: int | None, b: Budget) -> Pass:
    if knee_rank is None:
        return Pass("learning rate", skipped="no leading rank to try other learning rates at")
    lrs = (spec.learning_rate / LR_FACTOR, spec.learning_rate * LR_FACTOR)
    specs = tuple(d for lr in lrs for d in probe_specs((knee_rank,), spec, lr=round(lr, 12)))
    fit = b.affordable(len(specs), spec.parallel)
    if fit < len(specs):
        return Pass("learning rate", skipped=f"the budget left ({b.left or 0:,.0f} s) does not buy {len(specs)} "
                                             f"more probes at rank {knee_rank}")
    return Pass("learning rate", specs=specs, ranks=(knee_rank,))


def _second_seed(spec: LadderSpec, state: LadderState, obs: Sequence[ProbeObs], knee_rank: int | None,
                 band_low: int | None, b: Budget) -> Pass:
    """A one-seed ladder's last pass: every rank measured at the ladder's rate from the band's low end up (the
    ranks that can still be the knee or above it) once more with spec.second_seed, nearest the knee first (the
    budget cuts from the end), so that those ranks compare means of two seeds and the band rests on a measured
    seed spread. Ranks below the band cannot be the knee whatever their noise, and a rank already trained with
    that seed (the top rank's second pattern probe) is not trained again. Why: replayed on lorplan's benchmarks
    it raised the ladder's hit rate (README, How well it works)."""
    if knee_rank is None:
        return Pass(SECOND_SEED, skipped="the ladder found no knee whose ranks a second seed could check")
    rate = state.ladder_rate(spec)
    at_rate = [o for o in obs if o.rank >= 1 and math.isclose(o.lr, rate, rel_tol=1e-9)]
    twice = {o.rank for o in at_rate if o.seed == spec.second_seed}
    low = band_low if band_low is not None else knee_rank
    ranks = sorted({o.rank for o in at_rate if o.state == "finished" and o.rank >= low}
                   - twice - state.stopped_ranks, key=lambda r: (abs(math.log2(r / knee_rank)), r))
    if not ranks:
        return Pass(SECOND_SEED, skipped=f"every rank from {low} up already ran with a second seed")
    specs = tuple({"id": probe_id(r, 1, 2), "rank": r, "lr": rate, "seed": spec.second_seed} for r in ranks)
    kept, why = _cut(specs, len(ranks), spec, b, f"second seed at ranks {', '.join(map(str, sorted(ranks)))}")
    if not kept:
        return Pass(SECOND_SEED, skipped=why)
    return Pass(SECOND_SEED, specs=kept, ranks=tuple(sorted(d["rank"] for d in kept)))
