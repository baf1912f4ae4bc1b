"""The ranks of a run side by side: final eval loss and accuracy (a mean with its 95% interval when the run
repeated probes over several seeds), training and loading time, and peak memory. Stdlib only.

Only finished probes count. Probes of one rank and learning rate that differ only in their seed are one row;
the interval is Student's t interval of the mean over seeds, mean ± t(0.975, n − 1) · s / √n, with its ends
clipped to the values the quantity can take (accuracy within [0, 1], a loss or a time at least 0): three seeds
at accuracy 0.90, 0.96 and 0.97 give 0.943 [0.849, 1.000], not [0.849, 1.037]. Shown as "mean ± half" (the
recommend table), an interval that had to be clipped is shown as "mean [low, high]" instead (pm_text).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# Two-sided 95% quantiles of Student's t, t(0.975, df) for df = 1..30 (any table, e.g. NIST/SEMATECH
# e-Handbook of Statistical Methods, 1.3.6.7.2 "Critical values of the Student's t distribution").
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)
Z975 = 1.960  # beyond 30 degrees of freedom


UNBOUNDED = (-math.inf, math.inf)
ACCURACY_RANGE = (0.0, 1.0)  # a share of examples right
LOSS_RANGE = (0.0, math.inf)  # a cross-entropy; also a duration in seconds


def t_interval(values: list[float], bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float] | None:
    """(low, high) of the 95% t interval of the mean of `values`, each end clipped to `bounds` (the values the
    quantity can take), or None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    mean = statistics.fmean(values)
    half = (T975[n - 2] if n - 1 <= len(T975) else Z975) * statistics.stdev(values) / math.sqrt(n)
    return max(bounds[0], mean - half), min(bounds[1], mean + half)


def rank_text(rank: int) -> str:
    """A rank as comparison tables and run lists name it: `8`, or `base` for a ladder's rank 0 (no adapter: a
    causal LM before training, a classifier's head alone)."""
    return "base" if rank == 0 else str(rank)


def interval_text(value: float | None, interval: tuple[float, float] | None, spec: str) -> str:
    """ "0.943 [0.849, 1.000]": a mean and its (clipped) interval; the value alone without one; "-" for None."""
    if value is None:
        return "-"
    if interval is None:
        return format(value, spec)
    return f"{format(value, spec)} [{format(interval[0], spec)}, {format(interval[1], spec)}]"


def pm_text(mean: float | None, half: float | None, spec: str, bounds: tuple[float, float] = UNBOUNDED) -> str:
    """ "0.940 ± 0.025" while mean ± half stays within `bounds`; an interval that crosses them is clipped and
    shown as interval_text does ("0.987 [0.958, 1.000]"), since a ± would hide the clipped end."""
    if mean is None:
        return "-"
    if half is None:
        return format(mean, spec)
    if mean - half < bounds[0] or mean + half > bounds[1]:
        return interval_text(mean, (max(bounds[0], mean - half), min(bounds[1], mean + half)), spec)
    return f"{format(mean, spec)} ± {format(half, spec)}"


@dataclass(frozen=True)
class RankRow:
    """One rank (and learning rate) of a run, over the finished probes that trained it.

    seeds: how many finished probes (seeds) it averages. eval_loss / eval_accuracy: their means (None when no
    probe evaluated); *_interval: the 95% t interval over seeds, clipped to the quantity's range (None with
    one seed). train_seconds and
    load_seconds: means, in seconds. peak_memory_bytes: the largest peak among them.
    """

    rank: int
    lr: float | None
    seeds: int
    probes: tuple[str, ...]
    eval_loss: float | None
    eval_loss_interval: tuple[float, float] | None
    eval_accuracy: float | None
    eval_accuracy_interval: tuple[float, float] | None
    train_seconds: float | None
    load_seconds: float | None
    peak_memory_bytes: int | None

    def to_json(self) -> dict:
        def pair(iv):
            return None if iv is None else [round(iv[0], 6), round(iv[1], 6)]

        return {"rank": self.rank, "lr": self.lr, "seeds": self.seeds, "probes": list(self.probes),
                "eval_loss": self.eval_loss, "eval_loss_interval": pair(self.eval_loss_interval),
                "eval_accuracy": self.eval_accuracy, "eval_accuracy_interval": pair(self.eval_accuracy_interval),
                "train_seconds": self.train_seconds, "load_seconds": self.load_seconds,
                "peak_memory_bytes": self.peak_memory_bytes}


def _mean(values: list) -> float | None:
    got = [float(v) for v in values if v is not None]
    return statistics.fmean(got) if got else None


def compare_ranks(probes) -> list[RankRow]:
    """RankRows for the finished ProbeStatus values in `probes`, by rank then learning rate. A probe that
    trained its own per-module pattern (a ladder's pattern check) is no seed of its rank: left out."""
    groups: dict[tuple[int, float | None], list] = {}
    for p in probes:
        if p.state == "finished" and not p.pattern:
            groups.setdefault((p.rank, p.lr), []).append(p)
    rows = []
    for (rank, lr), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0.0)):
        losses = [p.eval_loss for p in group if p.eval_loss is not None]
        accs = [p.eval_accuracy for p in group if p.eval_accuracy is not None]
        peaks = [p.peak_memory_bytes for p in group if p.peak_memory_bytes]
        rows.append(RankRow(
            rank, lr, len(group), tuple(p.id for p in group),
            _mean(losses), t_interval(losses, LOSS_RANGE), _mean(accs), t_interval(accs, ACCURACY_RANGE),
            _mean([p.train_seconds for p in group]), _mean([p.load_seconds for p in group]),
            max(peaks) if peaks else None))
    return rows


__all__ = ["ACCURACY_RANGE", "LOSS_RANGE", "UNBOUNDED", "RankRow", "compare_ranks", "interval_text", "pm_text",
           "t_interval"]
