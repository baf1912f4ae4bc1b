"""The knee of a rank sweep, and the band of ranks the evidence cannot tell apart from it.

Definition (the one lorplan uses everywhere, in code and output): the knee is the smallest rank whose
improvement over the base model's eval loss is at least 95% of the best rank's improvement, with each rank
at its best learning rate and losses averaged over seeds:
    knee = min { r : L_base − L(r) ≥ 0.95 · (L_base − L*) },  L(r) = min over lr of mean over seeds,
    L* = min over r of L(r).
For classification with a fresh head, the base is the head trained alone with the same protocol.
Why a knee and not the best rank: on real fine-tuning data loss keeps improving a little (or stays flat) as
rank grows, so "the best rank" is usually just the largest one tried (Biderman et al. 2024, arXiv
2405.09673; LoRA Without Regret, Thinking Machines 2025); the useful decision is the smallest rank that is
nearly as good. Pure Python.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.recommend.types import LadderRow

KNEE_FRACTION = 0.95
Z = 2.0  # standard errors for "cannot tell apart" (about a 95% two-sided interval)
DIGITS = 4  # significant digits of a loss in the knee's text, unless more tell a rank that misses the bar from it


@dataclass(frozen=True)
class RankSummary:
    """One rank of a sweep at its best learning rate: mean eval loss over seeds and its standard error."""

    rank: int
    learning_rate: float
    mean_loss: float
    stderr: float | None  # None with a single seed
    seeds: int
    learning_rates: tuple[float, ...]  # every learning rate tried at this rank


@dataclass(frozen=True)
class Knee:
    """The knee of a sweep. threshold: the eval loss a rank must reach (base − fraction·(base − best)).

    low / high: the band of ranks the evidence cannot tell apart from the knee (seed noise, and ranks the
    ladder did not measure). improved: some rank beat the base model's loss at all.
    """

    rank: int
    best_rank: int
    base_loss: float
    best_loss: float
    threshold: float
    fraction: float
    low: int
    high: int
    ranks: tuple[RankSummary, ...]
    improved: bool
    explanation: str
    digits: int = DIGITS

    def share(self, rank: int) -> float | None:
        """The share of the best rank's improvement this rank reaches (None for an unmeasured rank)."""
        gain = self.base_loss - self.best_loss
        for s in self.ranks:
            if s.rank == rank:
                return (self.base_loss - s.mean_loss) / gain if gain > 0 else None
        return None


def _mean_se(values: list[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def summarize(rows: Iterable[LadderRow]) -> tuple[RankSummary, ...]:
    """Per rank: the learning rate with the lowest mean eval loss over seeds, that mean and its standard error.

    Rows without an eval loss (failed, out of memory, cancelled before any eval) are left out; a row's loss is
    its knee_loss (the eval loss it measured; LadderRow.knee_loss says why not the extrapolation). Sorted by rank.
    """
    by: dict[int, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.knee_loss is not None:
            by[row.rank][row.learning_rate].append(float(row.knee_loss))
    out = []
    for rank in sorted(by):
        stats = {lr: _mean_se(losses) + (len(losses),) for lr, losses in by[rank].items()}
        lr = min(stats, key=lambda k: (stats[k][0], k))
        mean, se, n = stats[lr]
        out.append(RankSummary(rank, lr, mean, se, n, tuple(sorted(stats))))
    return tuple(out)


def one_seed_noise(ranks: tuple[RankSummary, ...]) -> float | None:
    """With one seed per rank, an estimate of the seeds' noise from the ranks themselves: eval loss should not
    rise with rank (a larger adapter contains the smaller one), so how far the losses depart from the nearest
    curve that never rises (isotonic regression by pool-adjacent-violators) is noise. The root mean square of
    those departures over the degrees of freedom the fit leaves (ranks − pooled blocks), in loss units; 0.0
    when the losses never rise; None with fewer than 3 ranks. It sees only departures that go up, so it
    underestimates the noise rather than overstating it."""
    if len(ranks) < 3:
        return None
    blocks: list[list[float]] = []  # [mean, count]
    for s in ranks:
        blocks.append([s.mean_loss, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    fit = [m for m, c in blocks for _ in range(int(c))]
    dof = len(ranks) - len(blocks)
    if dof == 0:
        return 0.0
    return math.sqrt(sum((s.mean_loss - f) ** 2 for s, f in zip(ranks, fit, strict=True)) / dof)


MIN_SEED_DOF = 3  # degrees of freedom of the seeds' spread worth more than the curve's estimate


def seed_spread(ranks: tuple[RankSummary, ...]) -> tuple[float | None, int]:
    """The standard deviation of one seed's loss pooled over the ranks that ran several seeds, and its degrees
    of freedom ((None, 0) when no rank did)."""
    multi = [s for s in ranks if s.stderr is not None and s.seeds > 1]
    dof = sum(s.seeds - 1 for s in multi)
    return (math.sqrt(sum(s.stderr ** 2 * s.seeds * (s.seeds - 1) for s in multi) / dof) if dof else None), dof


def single_seed_error(ranks: tuple[RankSummary, ...]) -> tuple[float | None, str]:
    """The standard error given to a rank measured with one seed, and where it comes from: "seeds", the spread
    of one seed measured over the ranks that ran several (pooled variance, when it has at least MIN_SEED_DOF
    degrees of freedom), else "curve", one_seed_noise, else the seeds' spread however thin, else (None, "")."""
    spread, dof = seed_spread(ranks)
    if spread is not None and dof >= MIN_SEED_DOF:
        return spread, "seeds"
    curve = one_seed_noise(ranks)
    if curve is not None:
        return curve, "curve"
    return (spread, "seeds") if spread is not None else (None, "")


def seeds_per_rank(rows: Iterable[LadderRow]) -> int:
    """The most seeds any rank was measured with at its best learning rate (0 without a usable row): with 1,
    the knee's band holds only ranks the ladder did not measure, not seed noise."""
    return max((s.seeds for s in summarize(rows)), default=0)


def band_note(rows: Iterable[LadderRow]) -> str:
    """What a one-seed ladder's band rests on, in words for beside it ("" when a rank ran several seeds, or none
    was measured): seed noise estimated from how far the losses rise with rank (single_seed_error, from 3
    ranks), else not known at all, which the headline must not call estimated."""
    ranks = summarize(rows)  # once: seeds_per_rank would summarize the rows again
    if max((s.seeds for s in ranks), default=0) != 1:
        return ""
    if single_seed_error(ranks)[0] is not None:
        return "one seed per rank: seed noise estimated, not measured"
    if len(ranks) == 1:
        return f"only rank {ranks[0].rank} measured, with one seed: its noise is not known"
    return f"one seed per rank, {len(ranks)} ranks: seed noise not known"


def _below(rank: int, measured: list[int], floor: int) -> int:
    """The smallest rank the band may reach down to when ranks under `rank` were not measured: the next power
    of two above the measured rank just below it (or `floor` when none is below)."""
    lower = [m for m in measured if m < rank]
    if not lower:
        return min(floor, rank)
    nxt = 1 << max(lower).bit_length()  # the smallest power of two above the measured rank
    return min(rank, nxt)


def knee_of_losses(ranks: Iterable[int], losses: Iterable[float], base_loss: float, fraction: float) -> int:
    """The definition itself, on one set of losses (one per rank, in rank order): the first rank whose improvement
    over base_loss is at least `fraction` of the best one's; the first rank when none improved."""
    ranks, losses = list(ranks), list(losses)
    gain = base_loss - min(losses)
    if gain <= 0:
        return ranks[0]
    return next(r for r, v in zip(ranks, losses, strict=True) if _meets(v, base_loss, fraction, gain))


def _meets(loss: float, base_loss: float, fraction: float, gain: float) -> bool:
    """Whether a rank's loss improves on base_loss by at least `fraction` of the best improvement `gain`."""
    return base_loss - loss >= fraction * gain - 1e-12 * abs(base_loss)


def loss_digits(threshold: float, missed: Iterable[float]) -> int:
    """The fewest significant digits, at least DIGITS, at which every loss in `missed` (the base's and the ranks'
    that miss the bar) reads differently from the bar `threshold`. Rounding keeps order, so each then reads above
    the bar, while a rank that meets the bar never reads above it: at DIGITS alone a rank at 10.2936 and the bar at
    10.2908 both read 10.29, and the rank seemed to reach the bar it missed. 17 digits tell any two floats apart."""
    missed = [v for v in missed if v != threshold]
    for digits in range(DIGITS, 18):
        bar = f"{threshold:.{digits}g}"
        if all(f"{v:.{digits}g}" != bar for v in missed):
            return digits
    return 17


def rank_errors(ranks: tuple[RankSummary, ...]) -> list[float]:
    """Each rank's standard error as the knee's band uses it: its seeds' when it ran several, else the estimate
    single_seed_error gives a one-seed rank (0.0 when there is none)."""
    pooled = single_seed_error(ranks)[0] if any(s.stderr is None for s in ranks) else None
    return [s.stderr if s.stderr is not None else (pooled or 0.0) for s in ranks]


def find_knee(
    rows: Iterable[LadderRow],
    base_loss: float,
    *,
    fraction: float = KNEE_FRACTION,
    base_stderr: float = 0.0,
    z: float = Z,
    untested_floor: int | None = 1,
) -> Knee:
    """The knee of a sweep (definition in the module docstring) and its band.

    Band: `low` is the smallest measured rank that could meet the threshold within z standard errors (its
    own and the threshold's, which inherits the best rank's and the base's), `high` the smallest that meets
    it for certain (the best rank when none does). With untested_floor set, `low` also reaches down past
    ranks the ladder never measured (to the power of two above the next measured rank below, or to
    untested_floor below the smallest measured rank): unmeasured ranks cannot be told apart either.
    Raises BadInput when no row has an eval loss.
    """
    if not 0 < fraction <= 1:
        raise BadInput(f"knee fraction {fraction!r} must lie in (0, 1]")
    if not math.isfinite(base_loss):
        raise BadInput(f"base eval loss {base_loss!r} is not a finite number")
    ranks = summarize(rows)
    if not ranks:
        raise BadInput("ladder: no probe finished with an eval loss, so there is no knee to find")
    best = min(ranks, key=lambda s: (s.mean_loss, s.rank))
    gain = base_loss - best.mean_loss
    measured = [s.rank for s in ranks]
    threshold = base_loss - fraction * gain
    definition = (f"the knee is the smallest rank whose improvement over the base model's eval loss is at least "
                  f"{fraction:.0%} of the best rank's improvement (best learning rate per rank, mean over seeds)")
    if gain <= 0:
        low = _below(ranks[0].rank, measured, untested_floor) if untested_floor else ranks[0].rank
        text = (f"no rank improved on the base model's eval loss ({base_loss:.4g}; best rank {best.rank} reached "
                f"{best.mean_loss:.4g}), so the sweep gives no reason for more than rank {ranks[0].rank}; "
                f"{definition}")
        return Knee(ranks[0].rank, best.rank, base_loss, best.mean_loss, threshold, fraction, low, ranks[-1].rank,
                    ranks, False, text)
    at = knee_of_losses((s.rank for s in ranks), (s.mean_loss for s in ranks), base_loss, fraction)
    knee = next(s for s in ranks if s.rank == at)
    seeds = max(s.seeds for s in ranks)
    single = [s.rank for s in ranks if s.stderr is None]
    pooled, pooled_from = single_seed_error(ranks) if single else (None, "")
    errors = dict(zip((s.rank for s in ranks), rank_errors(ranks), strict=True))

    def se(s: RankSummary) -> float:
        return errors[s.rank]

    var_t = ((1 - fraction) * base_stderr) ** 2 + (fraction * se(best)) ** 2

    def tol(s: RankSummary) -> float:
        return z * math.sqrt(se(s) ** 2 + var_t)

    low = next(s.rank for s in ranks if s.mean_loss - tol(s) <= threshold)
    sure = [s.rank for s in ranks if s.mean_loss + tol(s) <= threshold]
    high = max(knee.rank, sure[0] if sure else best.rank)
    noisy = low < knee.rank or high > knee.rank
    noise_low = low
    if untested_floor:
        low = min(low, _below(low, measured, untested_floor))
    n = loss_digits(threshold, [base_loss, *(s.mean_loss for s in ranks
                                             if not _meets(s.mean_loss, base_loss, fraction, gain))])
    parts = [f"{s.rank}: {s.mean_loss:.{n}g} ({(base_loss - s.mean_loss) / gain:.0%})" for s in ranks]
    text = (f"knee at rank {knee.rank}: base eval loss {base_loss:.{n}g}, best rank {best.rank} reaches "
            f"{best.mean_loss:.{n}g}, so a rank must reach {threshold:.{n}g}; eval loss by rank (share of the best "
            f"improvement) {'; '.join(parts)}. By definition, {definition}.")
    how = ("estimated from how far the losses rise with rank (a larger rank should not do worse)"
           if pooled_from == "curve" else "the spread of one seed over the ranks that ran several")
    if seeds < 2 and not pooled:
        text += (" One seed per rank: no interval from seed noise" + (", and the losses never rise with rank, so "
                 "none shows in them." if pooled == 0.0 else "."))
    elif single and pooled:
        who = "One seed per rank, so its noise is" if seeds < 2 else (
            f"Rank{'s' if len(single) > 1 else ''} {', '.join(map(str, single))} ran with one seed; its noise is")
        text += f" {who} {how}: ±{pooled:.2g}"
        text += (f"; within {z:g} such errors ranks {noise_low}-{high} cannot be told apart." if noisy else
                 ", which does not blur the knee.")
    elif noisy:
        text += f" Within {z:g} standard errors over seeds, ranks {noise_low}-{high} cannot be told apart."
    if low < noise_low:
        gap = f"Rank {low} was" if noise_low // 2 <= low else f"Ranks {low}-{noise_low // 2} were"
        text += f" {gap} not measured, so the knee may lie there."
    if len(ranks) == 1:  # the ladder ended after its reference rank (a short budget): the "knee" compared nothing
        text += (f" Rank {knee.rank} is the only rank measured, so no other was compared with it: a smaller rank may "
                 "do as well and a larger one better.")
    elif knee.rank == ranks[-1].rank:  # the knee at the ladder's top edge: it is also the best
        text += (f" Rank {knee.rank} is the largest rank measured and still the best, so a larger rank was not ruled "
                 f"out: it could do better and put the knee above {knee.rank}.")
    return Knee(knee.rank, best.rank, base_loss, best.mean_loss, threshold, fraction, low, high, ranks, True, text,
                n)


DRAWS = 4000  # draws of the losses within their errors (a hit probability's sampling error is then ≤ 0.8%)


@dataclass(frozen=True)
class LikelyRank:
    """The measured rank most likely to lie in [true knee, 2 × true knee] given the losses' errors.

    hit: the share of draws in which `rank` lies there; knee_hit: the same for the measured knee's rank.
    explanation: why the rank moved up from the knee's ("" when it did not)."""

    rank: int
    hit: float
    knee_rank: int
    knee_hit: float
    explanation: str


def likely_rank(knee: Knee, *, base_stderr: float = 0.0, draws: int = DRAWS) -> LikelyRank:
    """The rank to recommend from a noisy knee: the measured rank r that most often lies in [K, 2K] when every
    rank's loss (and the base's) is redrawn within its standard error (a rank measured with one seed gets
    single_seed_error's estimate, as the band does) and the knee K of each draw is found by the same
    definition. r covers a true knee of r or r/2, so when the evidence cannot tell whether the knee is r or
    2r, the larger one is safer: a rank twice the knee costs memory, half the knee costs quality. Ties go to
    the smaller rank, and the draws are seeded (the same evidence gives the same rank). Why: replayed on
    lorplan's benchmarks it put the rank in [knee, 2 × knee] more often than the measured knee did (README, How
    well it works; keeping the knee unless another rank was 3 points likelier did worse on the trained
    160-step ladders, 7/15 against 11/15). With no noise to draw from, the knee's rank."""
    ranks = knee.ranks
    errors = rank_errors(ranks)
    if not knee.improved or (max(errors) == 0 and base_stderr == 0):
        return LikelyRank(knee.rank, 1.0, knee.rank, 1.0, "")
    rng = random.Random(0)
    counts: dict[int, int] = defaultdict(int)
    for _ in range(draws):
        base = knee.base_loss + rng.gauss(0.0, base_stderr)
        losses = [s.mean_loss + rng.gauss(0.0, e) for s, e in zip(ranks, errors, strict=True)]
        counts[knee_of_losses((s.rank for s in ranks), losses, base, knee.fraction)] += 1

    def hit(r: int) -> float:
        return sum(c for k, c in counts.items() if k <= r <= 2 * k) / draws

    at_knee = hit(knee.rank)
    rank = max((s.rank for s in ranks), key=lambda r: (hit(r), -r))
    if hit(rank) <= at_knee:
        rank = knee.rank
    text = ""  # the knee's own rank needs no more words than the knee's
    if rank != knee.rank:
        fmt = ".0%" if f"{hit(rank):.0%}" != f"{at_knee:.0%}" else ".1%"  # 99.9% against 100%, not 100% twice
        text = (f"rank {rank}: redrawing the losses within their errors ({draws:,} draws), rank {rank} lies "
                f"between the knee and twice it in {hit(rank):{fmt}} of them, the measured knee's rank "
                f"{knee.rank} in {at_knee:{fmt}}; the evidence cannot rule out a knee above {knee.rank}, and a rank "
                "above the knee costs memory where one below it costs quality")
    return LikelyRank(rank, hit(rank), knee.rank, at_knee, text)
