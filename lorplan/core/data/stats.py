"""The figures of a profile computed from a length histogram: percentiles, truncation, padding, suggestions.

Lengths are kept as a histogram {tokens: examples}, so memory grows with the number of distinct lengths, not
with the number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lorplan.core.data.labels import check_classes, mixed_note
from lorplan.core.errors import BadInput


@dataclass(frozen=True)
class Lengths:
    """Example length in tokens at the 50/90/95/99th percentile (nearest-rank method) and the maximum."""

    p50: int
    p90: int
    p95: int
    p99: int
    max: int


@dataclass(frozen=True)
class Padding:
    """Tokens wasted at a sequence length S after truncation to S.

    pad_tokens: padding every example to S (sum of S - min(len, S)); pad_fraction = pad_tokens / (examples * S).
    packed_sequences: ceil(kept tokens / S) when examples are packed end to end; packing_waste_tokens is the
    padding left in the last packed sequence.
    """

    seq_len: int
    pad_tokens: int
    pad_fraction: float
    packed_sequences: int
    packing_waste_tokens: int


@dataclass(frozen=True)
class Split:
    """A train/eval split suggestion in examples, with the reason in words."""

    train: int
    eval: int
    reason: str


# Largest class at least this many times the smallest: "strong" imbalance. 4 : 1 is where Google's ML crash
# course ("Datasets: Class-imbalanced datasets") puts a binary dataset's minority class at 20%, the edge of
# mild and moderate imbalance.
IMBALANCE_RATIO = 4.0


@dataclass(frozen=True)
class LabelBalance:
    """Examples per classification label, most frequent first (ties by label text).

    majority_fraction: the share of the largest class, i.e. the accuracy of always predicting it.
    imbalance_ratio: largest class / smallest class. warning: a sentence when the ratio is at least
    IMBALANCE_RATIO or there is a single label value, else None.
    note: when integer class ids and names mix, which ids the names take and the head that needs
    (lorplan.core.data.labels.mixed_note), else None. refused: why a classifier refuses these labels (a name that
    reads as a number beside integer ids, the error lorplan plan and train stop with), else None.
    """

    counts: tuple[tuple[int | str, int], ...]
    majority_fraction: float
    imbalance_ratio: float
    warning: str | None
    note: str | None = None
    refused: str | None = None

    def check_classes(self, where: str) -> None:
        """BadInput when these labels are one class alone (lorplan.core.data.labels.check_classes: `where` names
        the data), for a caller that holds a profile but not the core (the planner's ladder)."""
        check_classes((label for label, _ in self.counts), where)

    def to_json(self) -> dict:
        return {"counts": [{"label": label, "count": n} for label, n in self.counts],
                "majority_fraction": self.majority_fraction, "imbalance_ratio": self.imbalance_ratio,
                "warning": self.warning, "note": self.note, "refused": self.refused}


def label_count(label: int | str, n: int) -> str:
    """One class and its examples for a report: the label as the warning names it (repr: 'pos', 1) and an
    arrow, so a numeric label never reads as part of its count (`1 → 3`, not `1 3`)."""
    return f"{label!r} → {n:,}"


def label_balance(counts: Mapping[int | str, int]) -> LabelBalance:
    """The balance of a label histogram {label: examples} (at least one label)."""
    ordered = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))
    total = sum(n for _, n in ordered)
    (top, most), (low, least) = ordered[0], ordered[-1]
    ratio = most / least
    warning = None
    if len(ordered) == 1:
        warning = (f"every labelled example has label {top!r}: a classifier needs at least two label values")
    elif ratio >= IMBALANCE_RATIO:
        warning = (f"labels are imbalanced: {top!r} has {most:,} examples, {low!r} has {least:,} "
                   f"({ratio:.1f} to 1); always answering {top!r} scores {most / total:.1%} accuracy, so "
                   "compare accuracies with that, or balance the classes")
    note = refused = None
    try:
        note = mixed_note(counts)
    except BadInput as exc:
        refused = str(exc)
    return LabelBalance(ordered, round(most / total, 4), round(ratio, 2), warning, note, refused)


def percentile(hist: Mapping[int, int], q: float) -> int:
    """Nearest-rank percentile: the smallest length L with at least ceil(q/100 * n) examples <= L."""
    n = sum(hist.values())
    if n == 0:
        return 0
    rank = max(1, math.ceil(q / 100 * n))
    seen = 0
    for length in sorted(hist):
        seen += hist[length]
        if seen >= rank:
            return length
    return max(hist)


def lengths_of(hist: Mapping[int, int]) -> Lengths:
    return Lengths(*(percentile(hist, q) for q in (50, 90, 95, 99)), max(hist) if hist else 0)


def truncated_tokens(hist: Mapping[int, int], seq_len: int) -> int:
    """Tokens beyond seq_len, summed over examples: what truncation to seq_len drops."""
    return sum((length - seq_len) * count for length, count in hist.items() if length > seq_len)


def padding(hist: Mapping[int, int], seq_len: int) -> Padding:
    n = sum(hist.values())
    kept = sum(min(length, seq_len) * count for length, count in hist.items())
    pad = n * seq_len - kept
    packed = math.ceil(kept / seq_len) if kept else 0
    return Padding(seq_len, pad, round(pad / (n * seq_len), 4) if n else 0.0, packed, packed * seq_len - kept)


def suggest_seq_len(lengths: Lengths, model_max: int | None, multiple: int = 64) -> int:
    """p99 rounded up to a multiple of 64 (tensor-core friendly), at least 64, capped at the model's maximum."""
    suggestion = max(multiple, math.ceil(lengths.p99 / multiple) * multiple)
    return min(suggestion, model_max) if model_max else suggestion


def suggest_split(examples: int) -> Split:
    """Hold out 10% for evaluation, at least 20 and at most 2,000 examples; none below 50 examples. The reason
    says which part of that rule decided: where the floor or the cap did, the share held out is not 10%."""
    if examples < 50:
        return Split(examples, 0, "fewer than 50 examples: train on all of them and watch the training loss")
    tenth = round(examples * 0.1)
    held = min(2000, max(20, tenth))
    head = f"{held:,} of {examples:,} held out for evaluation"
    if held > tenth:
        reason = f"{head}: 10% of the rows but at least 20, so {held / examples:.1%}"
    elif held < tenth:
        reason = f"{head}: 10% of the rows but at most 2,000, so {held / examples:.1%}"
    else:
        reason = f"{head}: 10%, at least 20 and at most 2,000 examples"
    return Split(examples - held, held, reason)


def held_out_count(examples: int, eval_split: float) -> int:
    """How many of `examples` a plan's data.eval_split holds out, before lorplan train's bounds (at least one,
    never all, at most its max_eval): the whole part of examples × eval_split (train.data.split's rule, which
    core.plan.build.held_out_fraction writes a share for)."""
    return int(examples * eval_split)


def interval(values: list[int], population: int, z: float = 1.96) -> tuple[float, float, float]:
    """Scaled total of a simple random sample: (estimate, low, high) of a 95% normal interval, with the
    finite-population correction (Cochran, Sampling Techniques, 3rd ed., eq. 2.19)."""
    k = len(values)
    if k == 0:
        return 0.0, 0.0, 0.0
    mean = sum(values) / k
    total = mean * population
    if k < 2 or k >= population:
        return total, total, total
    var = sum((v - mean) ** 2 for v in values) / (k - 1)
    half = z * population * math.sqrt(var / k) * math.sqrt((population - k) / (population - 1))
    return total, max(total - half, 0.0), total + half
