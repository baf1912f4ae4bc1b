"""What the ladder knows about each of its probes, read from the probe run's folder. Stdlib only.

A `ProbeObs` is one probe as the recommender sees it: rank (0 = the base), learning rate, seed, state, the
held-out curve so far ((step, eval loss) points), the last accuracy, training time without model loading,
trainable parameters, peak memory and the held-out split's size and largest class. `observe(run)` reads them
with lorplan.probe's own status reader, so the ladder and `lorplan probe status` never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ENDED = ("finished", "failed", "oom", "cancelled", "died")


@dataclass(frozen=True)
class ProbeObs:
    """One probe of the ladder's run. curve: (step, eval loss) points in step order (step 0: before training),
    finite losses only."""

    id: str
    rank: int
    lr: float
    seed: int
    state: str
    step: int
    curve: tuple[tuple[int, float], ...] = ()
    eval_accuracy: float | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    load_seconds: float | None = None
    trainable_params: int | None = None
    peak_memory_bytes: int | None = None
    message: str | None = None
    pattern: bool = False  # trained with its own rank_pattern (the ladder's pattern check), not one rank
    # the held-out split it evaluated on: its examples, and how many share the most frequent class (a classifier's;
    # every probe of a run holds out the same examples), from the worker's "started" event
    eval_examples: int | None = None
    eval_majority: int | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def eval_loss(self) -> float | None:
        """The last measured eval loss (None before the first eval)."""
        return self.curve[-1][1] if self.curve else None

    def to_json(self) -> dict:
        return {"id": self.id, "rank": self.rank, "lr": self.lr, "seed": self.seed, "state": self.state,
                "step": self.step, "curve": [list(p) for p in self.curve], "eval_accuracy": self.eval_accuracy,
                "train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds,
                "load_seconds": self.load_seconds, "trainable_params": self.trainable_params,
                "peak_memory_bytes": self.peak_memory_bytes, "message": self.message, "pattern": self.pattern,
                "eval_examples": self.eval_examples, "eval_majority": self.eval_majority}


class RunObserver:
    """Reads a probe run incrementally through one lorplan.probe.status.RunWatcher, which follows the probes
    added to its plan (a ladder's passes) and keeps reading only what each log appended. `default_lr` stands
    in for a probe whose learning rate is not recorded yet (queued)."""

    def __init__(self, run, default_lr: float) -> None:
        self.run = run
        self.default_lr = default_lr
        self._watcher = None

    def observe(self) -> tuple[ProbeObs, ...]:
        from lorplan.probe.status import RunWatcher

        if self._watcher is None:
            self._watcher = RunWatcher(self.run)
        st = self._watcher.refresh()
        plan = st.plan  # the plan the probes were read with (one read of plan.json, not a second that may differ)
        out = []
        for p in st.probes:
            c = self._watcher.curves[p.id]
            spec = plan.probe(p.id)
            # a loss that is no finite number measured nothing: an older worker wrote a diverged probe's nan in its
            # result, a damaged eval line reads as nan (status._or_nan); the ladder's rows and knee refuse it
            curve = tuple((s, loss) for s, loss in zip(c.eval_steps, c.eval_loss, strict=True) if math.isfinite(loss))
            started = c.started or {}
            if not curve and p.eval_loss is not None and math.isfinite(p.eval_loss):
                curve = ((p.step, float(p.eval_loss)),)  # a result's loss whose log is gone
            out.append(ProbeObs(
                id=p.id, rank=p.rank, lr=float(p.lr or spec.lr or self.default_lr),
                seed=spec.seed if spec.seed is not None else plan.seed, state=p.state, step=p.step,
                curve=curve, eval_accuracy=p.eval_accuracy, train_seconds=p.train_seconds,
                wall_seconds=p.wall_seconds, load_seconds=p.load_seconds, trainable_params=p.trainable_params,
                peak_memory_bytes=p.peak_memory_bytes, message=p.message, pattern=bool(spec.rank_pattern),
                eval_examples=started.get("eval_examples"), eval_majority=started.get("eval_majority")))
        return tuple(out)


def rank_probes(obs) -> tuple[ProbeObs, ...]:
    """The probes that measure one rank everywhere (the base and the rank probes): what the knee, halving and
    the passes compare. A pattern check probe trains per-module ranks, so it is compared only with the
    one-rank probe it checks (recommend.measured.pattern_check)."""
    return tuple(o for o in obs if not o.pattern)


def observe(run, default_lr: float) -> tuple[ProbeObs, ...]:
    """Every probe of `run` (a lorplan.probe.runs.RunDir), read once."""
    return RunObserver(run, default_lr).observe()
