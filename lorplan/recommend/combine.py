"""Combine the evidence (capacity prior, probe ladder, per-module pattern) into one Recommendation.

Each kind of evidence works alone. When the ladder measured a knee it decides the rank (it measured the
user's data; the prior is a rule of thumb): the knee's rank, or a measured rank above it when the losses'
noise makes that one likelier to lie between the knee and twice it (knee.likely_rank); any disagreement with
the prior is said in words. Without a usable ladder the prior decides, and the recommendation says why. Pure
Python: the memory verdict comes from a `price(rank) -> Fit` the caller builds (lorplan.recommend.fit.price_fit),
so nothing here needs a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from lorplan.core.errors import BadInput
from lorplan.core.units import and_list, counted
from lorplan.recommend.capacity import CapacityPrior
from lorplan.recommend.datasize import DataSize
from lorplan.recommend.knee import KNEE_FRACTION, Knee, Z, find_knee, likely_rank, rank_errors
from lorplan.recommend.policy import scaling_policy
from lorplan.recommend.types import Evidence, Fit, LadderRow, RankPattern, Recommendation

# Below this many examples a held-out split (10% is usual) keeps only a handful of examples, and their eval
# loss cannot separate ranks: probes would measure noise.
MIN_EXAMPLES = 64
UNFINISHED = ("failed", "oom", "cancelled", "died")


def too_small(data: DataSize) -> str | None:
    """Why the dataset is too small for a probe ladder to say anything (None when it is large enough or its
    size is unknown)."""
    if data.examples is not None and data.examples < MIN_EXAMPLES:
        return (f"{counted(data.examples, 'example')} {'is' if data.examples == 1 else 'are'} too few to measure "
                "anything: a held-out split would keep only a "
                f"handful, whose eval loss cannot tell ranks apart (lorplan probes from {MIN_EXAMPLES} examples "
                "on); the recommendation is the capacity prior alone")
    return None


def _prior_evidence(prior: CapacityPrior) -> list[Evidence]:
    out = [Evidence(r.name, r.rank, r.explanation) for r in prior.rules]
    out.append(Evidence("capacity prior", prior.rank, prior.explanation))
    return out


# How a probe that did not finish ended, in words (one probe; END_WORDS_MANY for several)
END_WORDS = {"failed": "failed", "oom": "ran out of memory", "cancelled": "was cancelled", "died": "died"}
END_WORDS_MANY = {**END_WORDS, "cancelled": "were cancelled"}


def unfinished_words(rows: Sequence[LadderRow]) -> str:
    """What became of the probes that did not finish, a rank named once per way they ended: "rank 4 was
    cancelled (3 probes)", "ranks 4 and 8 were cancelled (2 probes each)", "rank 16 ran out of memory (2 probes)"."""
    parts = []
    for state in dict.fromkeys(r.state for r in rows):
        counts: dict[int, int] = {}
        for r in rows:
            if r.state == state:
                counts[r.rank] = counts.get(r.rank, 0) + 1
        ranks = sorted(counts)
        if len(ranks) == 1:
            n = counts[ranks[0]]
            # the rank is the subject, one however many probes it ran: "rank 4 was cancelled (3 probes)"
            parts.append(f"rank {ranks[0]} {END_WORDS[state]}"
                         + (f" ({n} probes)" if n > 1 else ""))
            continue
        names = and_list(ranks)
        if len(set(counts.values())) == 1:
            n = counts[ranks[0]]
            parts.append(f"ranks {names} {END_WORDS_MANY[state]}" + (f" ({n} probes each)" if n > 1 else ""))
        else:
            names = ", ".join(f"{r}" + (f" ({counts[r]} probes)" if counts[r] > 1 else "") for r in ranks)
            parts.append(f"ranks {names} {END_WORDS_MANY[state]}")
    return "; ".join(parts)


def _accuracy_range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if f"{lo:.3f}" == f"{hi:.3f}" else f"{lo:.3f}-{hi:.3f}"


def majority_evidence(rows: Sequence[LadderRow], knee: Knee, majority: tuple[int, int] | None,
                      base_stderr: float = 0.0, others: Sequence[float] = ()) -> tuple[Evidence | None, bool]:
    """When every probe's eval accuracy is at most the share of the largest class in the held-out split (majority:
    (its examples of that class, the split's examples)) plus Z standard errors of a share measured on that many
    examples, what the accuracy and the eval loss each show, and whether the band must span every rank measured
    (True: the loss does not improve on the base beyond its noise either, so nothing measured tells ranks apart).
    others: the eval accuracies of the ladder's probes that `rows` leaves out (learning rates the ranks are not
    compared at), read with theirs: "every probe" is every one. A split of one class, or too small for every answer
    right to lie beyond that noise, says that accuracy cannot show more. (None, False) when some probe's accuracy
    is above that, or there is no accuracy or majority to compare."""
    accs = [r.eval_accuracy for r in rows if r.usable and r.eval_accuracy is not None] + list(others)
    if not accs or majority is None or not 0 < majority[0] <= majority[1]:
        return None, False
    count, n = majority
    share = count / n
    se = math.sqrt(share * (1 - share) / n)
    if any(a > share + Z * se + 1e-9 for a in accs):
        return None, False
    split = f"the share of the largest class among the {n:,} held-out examples ({count:,} of {n:,})"
    if n == 1:
        text = ("eval accuracy is measured on one held-out example, so it cannot show a probe learning more than "
                "always answering the largest class")
    elif count == n:
        text = (f"the {n:,} held-out examples are all of one class, so eval accuracy cannot show a probe learning "
                "more than always answering it")
    elif share + Z * se >= 1:  # every answer right is within the noise of the largest class's share
        text = (f"on {n:,} held-out examples, {count:,} of them of the largest class ({share:.3f}), even every answer "
                f"right is within {Z:g} standard errors (±{se:.2g}) of always answering that class, so eval accuracy "
                f"cannot show a probe learning more than that (the probes: {_accuracy_range(accs)})")
    elif all(abs(a - share) < 0.5 / n for a in accs):  # each the same count of right answers as the largest class
        text = (f"every probe's eval accuracy is {share:.3f}, {split}: by accuracy the probes learned no more than "
                "always answering the largest class")
    else:
        text = (f"every probe's eval accuracy ({_accuracy_range(accs)}) is within {Z:g} standard errors (±{se:.2g} "
                f"on {n:,} examples) of {share:.3f}, {split}, or below it: by accuracy the probes learned no more "
                "than always answering the largest class")
    if not knee.improved:
        return Evidence("accuracy", None, text + "; nor did the eval loss improve on the base's, so nothing measured "
                                                 "tells the ranks apart: the band spans every rank measured"), True
    at = next(i for i, s in enumerate(knee.ranks) if s.rank == knee.best_rank)
    noise = Z * math.sqrt(rank_errors(knee.ranks)[at] ** 2 + base_stderr ** 2)
    gain = knee.base_loss - knee.best_loss
    if noise > 0 and gain > noise:
        return Evidence("accuracy", None, text + f"; the eval loss does improve on the base's: rank {knee.best_rank} "
                                                 f"by {gain:.3g}, more than {Z:g} standard errors (±{noise:.2g}), so "
                                                 "the knee rests on the loss, which moves where the accuracy does "
                                                 "not"), False
    judged = f"within {Z:g} standard errors (±{noise:.2g})" if noise > 0 else "with no noise estimate to judge it by"
    return Evidence("accuracy", None, text + f"; the eval loss improves on the base's by {gain:.3g} at best (rank "
                                             f"{knee.best_rank}), {judged}: neither measure shows the adapters "
                                             "learning more than the base, so the band spans every rank measured "
                                             "and the knee may be noise"), True


def _learning_rate(knee: Knee, default: tuple[float, str]) -> tuple[float, Evidence]:
    at = next(s for s in knee.ranks if s.rank == knee.rank)
    if len(at.learning_rates) > 1:
        tried = ", ".join(f"{lr:g}" for lr in at.learning_rates)
        return at.learning_rate, Evidence("learning rate", knee.rank,
                                          f"learning rate {at.learning_rate:g}: the lowest mean eval loss "
                                          f"({at.mean_loss:.4g}) of {tried} at rank {knee.rank}")
    if abs(at.learning_rate - default[0]) > 1e-12 * default[0]:
        return at.learning_rate, Evidence("learning rate", knee.rank,
                                          f"learning rate {at.learning_rate:g}: the one the ladder used at rank "
                                          f"{knee.rank} (the only one measured there)")
    return default[0], Evidence("learning rate", None, default[1] + " (the ladder tried no other at the knee)")


def combine(
    prior: CapacityPrior,
    *,
    default_lr: tuple[float, str],
    target_modules: Sequence[str] = ("all-linear",),
    ladder: Sequence[LadderRow] = (),
    base_loss: float | None = None,
    base_stderr: float = 0.0,
    pattern: RankPattern | None = None,
    price: Callable[[int], Fit] | None = None,
    cost_seconds: float | None = None,
    notes: Sequence[Evidence] = (),
    majority: tuple[int, int] | None = None,
    other_accuracies: Sequence[float] = (),
) -> Recommendation:
    """One Recommendation from the evidence at hand.

    prior: the capacity prior (always there; it is free). default_lr: (learning rate, where it comes from),
    lorplan.recommend.policy.default_learning_rate. ladder: probe rows (any state); with base_loss (the base
    model's eval loss; for classification the head trained alone) the knee decides the rank and its band.
    pattern: per-module ranks. price: the memory verdict for the final rank. cost_seconds: compute spent on
    the evidence (default: the ladder's training seconds). notes: extra evidence to show (e.g. why no probes
    ran), placed after the rank's evidence. majority: a classifier's held-out split as (examples of its largest
    class, examples), for majority_evidence: probes whose accuracy is no better than always answering that class
    are said to be, and the band widens to every rank measured unless the eval loss shows more. other_accuracies:
    the eval accuracies of probes not in `ladder` (other learning rates), which that comparison reads too.
    """
    rows = tuple(ladder)
    evidence: list[Evidence] = []
    small = too_small(prior.data)
    usable = [r for r in rows if r.usable]
    knee: Knee | None = None
    if small:
        evidence.append(Evidence("data", None, small))
        if usable:
            evidence.append(Evidence("ladder", None, f"the {len(usable)} probe results were not used: {small}"))
    elif usable:
        if base_loss is None:
            raise BadInput("ladder: the base model's eval loss is needed to find the knee")
        knee = find_knee(usable, base_loss, base_stderr=base_stderr)
    lr, lr_why = default_lr
    if knee is not None:
        # the rank: the measured one likeliest to lie in [knee, 2 × knee] under the losses' noise (knee.likely_rank)
        likely = likely_rank(knee, base_stderr=base_stderr)
        rank, low, high = likely.rank, min(knee.low, likely.rank), max(knee.high, likely.rank)
        evidence.append(Evidence("ladder", knee.rank, knee.explanation))
        if likely.rank != knee.rank:
            evidence.append(Evidence("knee noise", likely.rank, likely.explanation))
        flat, wide = majority_evidence(usable, knee, majority, base_stderr, other_accuracies)
        if flat is not None:
            evidence.append(flat)
        if wide:  # nothing measured tells the ranks apart: any of them, down to rank 1, may do as well
            low, high = min(low, 1), max(high, knee.ranks[-1].rank)
        lost = [r for r in rows if r.state in UNFINISHED and not r.usable]
        if lost:
            above = [r.rank for r in lost if r.rank > knee.best_rank]
            if above:
                high = max(high, max(above))
            evidence.append(Evidence("ladder", None, f"{counted(len(lost), 'probe')} did not finish "
                                     f"({unfinished_words(lost)}): the knee comes from what finished"
                                     + (f", and rank {max(above)} might have done better, so the band reaches "
                                        f"up to it" if above else "")))
        if not low <= prior.rank <= high:
            evidence.append(Evidence("disagreement", rank,
                                     f"the prior says {prior.rank}, the ladder's knee is {knee.rank}: the ladder "
                                     "measured your data; the prior is a rule of thumb"))
        lr, lr_evidence = _learning_rate(knee, default_lr)
    else:
        rank, low, high = prior.rank, prior.low, prior.high
        lr_evidence = Evidence("learning rate", None, lr_why)
    evidence += _prior_evidence(prior)
    evidence += list(notes)
    rank_pattern = {}
    if pattern is not None:
        rank_pattern = dict(pattern.pattern)
        evidence.append(Evidence(pattern.source, None, pattern.explanation))
    scaling = scaling_policy(rank)
    evidence.append(Evidence("scaling", None, scaling.explanation))
    evidence.append(lr_evidence)
    fit = price(rank) if price is not None else None
    if fit is not None:
        evidence.append(Evidence("memory", fit.rank_that_fits, fit.explanation))
    if cost_seconds is None:
        cost_seconds = sum(r.train_seconds or 0.0 for r in rows)
    return Recommendation(
        rank=rank, alpha=scaling.alpha, use_rslora=scaling.use_rslora, learning_rate=lr,
        target_modules=tuple(target_modules), rank_pattern=rank_pattern, tolerance=round(1 - KNEE_FRACTION, 6),
        confidence=(low, high), cost_seconds=float(cost_seconds), fits=fit, ladder=rows, evidence=tuple(evidence),
        model=prior.adapter.model, task=prior.data.task, capacity=prior.to_json(),
    )
