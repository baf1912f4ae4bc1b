"""The ranks of a run side by side: final eval loss and accuracy (a mean with its 95% interval when the run
repeated probes over several seeds), training and loading time, and peak memory. Stdlib only.

Only finished probes count. Probes of one rank and learning rate that differ only in their seed are one row;
the interval is Student's t interval of the mean over seeds, mean ± t(0.975, n − 1) · s / √n.
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


def t_interval(values: list[float]) -> tuple[float, float] | None:
    """(low, high) of the 95% t interval of the mean of `values`, or None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    mean = statistics.fmean(values)
    half = (T975[n - 2] if n - 1 <= len(T975) else Z975) * statistics.stdev(values) / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class RankRow:
    """One rank (and learning rate) of a run, over the finished probes that trained it.

    seeds: how many finished probes (seeds) it averages. eval_loss / eval_accuracy: their means (None when no
    probe evaluated); *_interval: the 95% t interval over seeds (None with one seed). train_seconds and
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
    """RankRows for the finished ProbeStatus values in `probes`, by rank then learning rate."""
    groups: dict[tuple[int, float | None], list] = {}
    for p in probes:
        if p.state == "finished":
            groups.setdefault((p.rank, p.lr), []).append(p)
    rows = []
    for (rank, lr), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0.0)):
        losses = [p.eval_loss for p in group if p.eval_loss is not None]
        accs = [p.eval_accuracy for p in group if p.eval_accuracy is not None]
        peaks = [p.peak_memory_bytes for p in group if p.peak_memory_bytes]
        rows.append(RankRow(
            rank, lr, len(group), tuple(p.id for p in group),
            _mean(losses), t_interval(losses), _mean(accs), t_interval(accs),
            _mean([p.train_seconds for p in group]), _mean([p.load_seconds for p in group]),
            max(peaks) if peaks else None))
    return rows


__all__ = ["RankRow", "compare_ranks", "t_interval"]
