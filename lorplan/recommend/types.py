"""The values a recommendation is made of: evidence sentences, ladder rows, the memory verdict, the result.

A `Recommendation` is what `lorplan recommend` prints, the TUI shows and `--write` turns into a plan. Its
`to_json()` is the command's JSON contract: rank, alpha, use_rslora, learning_rate, target_modules,
rank_pattern, tolerance, confidence {low, high}, cost_seconds, fits, ladder, evidence (plus a few extra keys).
Pure Python: no torch, no I/O.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput

# States of a ladder probe, as lorplan probe status reports them.
PROBE_STATES = ("queued", "running", "finished", "failed", "oom", "cancelled", "died")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Evidence:
    """One thing the recommendation rests on, said so that a user can check it.

    source: where it comes from ("token rule", "bits rule", "ladder", "pattern", "memory", "policy", ...).
    rank: the rank this evidence points to (None when it speaks of something else, e.g. the learning rate).
    explanation: one or two plain sentences with the figures behind it.
    """

    source: str
    rank: int | None
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "rank": self.rank, "explanation": self.explanation}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Evidence:
        return cls(str(obj["source"]), obj.get("rank"), str(obj["explanation"]))


@dataclass(frozen=True)
class LadderRow:
    """One probe of the rank ladder: a short training at one rank and learning rate (and seed).

    eval_loss is the held-out loss (None when the probe did not finish); eval_accuracy only for
    classification. train_seconds is the training time without model loading. stopped_early: successive
    halving stopped it before its planned length. state: one of PROBE_STATES. predicted_loss / _error: the
    eval curve extrapolated to the planned training length (recommend.curves), when the probe was shorter.
    """

    rank: int
    learning_rate: float
    eval_loss: float | None
    eval_accuracy: float | None = None
    train_seconds: float | None = None
    trainable_params: int | None = None
    peak_memory_bytes: int | None = None
    steps: int | None = None
    stopped_early: bool = False
    seed: int = 0
    state: str = "finished"
    predicted_loss: float | None = None  # eval loss extrapolated to the planned training length (shown only)
    predicted_error: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise BadInput(f"ladder row: rank must be an integer of at least 1, not {self.rank!r}")
        if not self.learning_rate > 0:
            raise BadInput(f"ladder row rank {self.rank}: learning rate must be positive, not {self.learning_rate!r}")
        if self.state not in PROBE_STATES:
            raise BadInput(f"ladder row rank {self.rank}: state {self.state!r} is not one of {', '.join(PROBE_STATES)}")
        if self.eval_loss is not None and not math.isfinite(self.eval_loss):
            raise BadInput(f"ladder row rank {self.rank}: eval loss {self.eval_loss!r} is not a finite number")

    @property
    def knee_loss(self) -> float | None:
        """The loss the knee compares: the last eval loss the probe measured. Probes of a ladder run the same
        length, so they are compared where they were measured; predicted_loss (the curve extrapolated to the
        planned length) is shown beside it and not used: replayed on benchmarks/planted_rank.py's and
        benchmarks/rank_regret.py's recorded sweeps, the extrapolations from a probe's few evals moved the knee
        away from the sweep's more often than the measured losses did (planted: 26 of 32 seeded replays in
        [knee, 2×knee] against 30 of 32). A probe stopped early by halving keeps its last (higher) loss: it lost
        where it stopped. Any other probe that has not finished (still running, or cancelled by the budget or the
        user, or died, after a few evals) has none: its loss is from fewer steps than the others' and would make
        its rank look worse than it is, so the knee rests on what finished and counts it among what did not."""
        if self.state == "finished" or self.stopped_early:
            return self.eval_loss
        return None

    @property
    def usable(self) -> bool:
        """A loss the knee can use (knee_loss): a finished probe's, or one stopped by halving."""
        return self.knee_loss is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "learning_rate": self.learning_rate, "seed": self.seed, "state": self.state,
            "eval_loss": self.eval_loss, "eval_accuracy": self.eval_accuracy, "train_seconds": self.train_seconds,
            "trainable_params": self.trainable_params, "peak_memory_bytes": self.peak_memory_bytes,
            "steps": self.steps, "stopped_early": self.stopped_early, "predicted_loss": self.predicted_loss,
            "predicted_error": self.predicted_error,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> LadderRow:
        """The row to_json() wrote; keys it does not know (a newer lorplan's) are left out."""
        return cls(**{k: obj[k] for k in _ROW_FIELDS if k in obj})


@dataclass(frozen=True)
class Remedy:
    """One change to the training setup and what the recommended rank then needs (bytes per GPU)."""

    change: str  # the flags, e.g. "--grad-checkpointing" or "--quant nf4 --double-quant"
    total_bytes: int
    fits: bool

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "total_bytes": self.total_bytes, "fits": self.fits}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Remedy:
        return cls(str(obj["change"]), int(obj["total_bytes"]), bool(obj["fits"]))


@dataclass(frozen=True)
class Fit:
    """The recommended rank priced by lorplan's memory model against the chosen GPU budget.

    fits: None when no budget was given. rank_that_fits: the largest power-of-two rank up to the
    recommended one that fits the setup as it is (None: none does, or no budget). remedies: changes that
    were priced at the recommended rank (only when it does not fit as it is). gpus, sharding: the GPUs the
    bytes per GPU were priced over and how they share the work (core.vocab.Sharding's value: "none" on one GPU,
    "ddp" by default over several), as the explanation says them; None in a fits object an older lorplan wrote.
    """

    rank: int
    total_bytes: int
    budget_bytes: int | None
    gpu: str | None
    fits: bool | None
    rank_that_fits: int | None
    remedies: tuple[Remedy, ...]
    explanation: str
    gpus: int | None = None
    sharding: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "fits": self.fits, "rank": self.rank, "total_bytes": self.total_bytes,
            "budget_bytes": self.budget_bytes, "gpu": self.gpu, "gpus": self.gpus, "sharding": self.sharding,
            "rank_that_fits": self.rank_that_fits, "remedies": [r.to_json() for r in self.remedies],
            "explanation": self.explanation,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Fit:
        """The Fit to_json() wrote; BadInput for a fits that is no object (a string's "string indices must be
        integers" was the line) or a gpus that is no whole number of at least 1."""
        if not isinstance(obj, Mapping):
            raise BadInput(f"fits: must be a JSON object or null, not {reprlib.repr(obj)}")
        return cls(rank=int(obj["rank"]), total_bytes=int(obj["total_bytes"]), budget_bytes=obj.get("budget_bytes"),
                   gpu=obj.get("gpu"), fits=obj.get("fits"), rank_that_fits=obj.get("rank_that_fits"),
                   remedies=tuple(Remedy.from_json(r) for r in obj.get("remedies", ())),
                   explanation=str(obj.get("explanation", "")),
                   gpus=_gpu_count(obj.get("gpus")),
                   sharding=str(obj["sharding"]) if obj.get("sharding") is not None else None)


def _gpu_count(value: Any) -> int | None:
    """A fits object's gpus: None (not recorded), a whole number of at least 1 as that int (2.0, as a file edited by
    hand or another JSON writer may hold it, reads as 2), else BadInput naming the field: int() read 1.5 as 1 GPU
    and true as 1, which priced nothing the explanation says."""
    if value is None:
        return None
    whole = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float)
                                                                          and value.is_integer())
    if not whole or value < 1:
        raise BadInput(f"fits: gpus must be a whole number of at least 1, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class RankPattern:
    """A per-module allocation (peft rank_pattern: key = module-name regex suffix, value = rank).

    ranks: every adapted module's rank under the pattern (module path -> rank; empty when not known).
    parameters / uniform_parameters: LoRA parameters (r·(d_in+d_out) summed) under the pattern and under the
    uniform rank it was budgeted against (None when not known)."""

    pattern: Mapping[str, int]
    source: str
    explanation: str
    ranks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    parameters: int | None = None
    uniform_parameters: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _frozen(self.pattern))
        object.__setattr__(self, "ranks", _frozen(self.ranks))


@dataclass(frozen=True)
class Recommendation:
    """rank, alpha and scaling convention, learning rate, targets and per-module ranks, with the evidence.

    tolerance: the knee's tolerance as a fraction of the best rank's improvement (0.05: a rank whose
    improvement over the base model is at least 95% of the best rank's counts as good enough).
    confidence: (low, high), the band of ranks the evidence cannot tell apart.
    cost_seconds: the training time spent on the evidence (0 for the capacity prior alone).
    pattern_checked: rank_pattern beat one rank for every module on the user's data, by more than the seed noise,
    in the ladder's pattern check (recommend.measured.pattern_check): `--write` and the Recommend tab's `a` apply
    it. False for a pattern offered unchecked (or no pattern): applied only when asked for.
    """

    rank: int
    alpha: float
    use_rslora: bool
    learning_rate: float
    target_modules: tuple[str, ...]
    rank_pattern: Mapping[str, int]
    tolerance: float
    confidence: tuple[int, int]
    cost_seconds: float
    fits: Fit | None
    ladder: tuple[LadderRow, ...]
    evidence: tuple[Evidence, ...]
    model: str = ""
    task: str = "causal-lm"
    alpha_pattern: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    capacity: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    pattern_checked: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank_pattern", _frozen(self.rank_pattern))
        object.__setattr__(self, "alpha_pattern", _frozen(self.alpha_pattern))
        object.__setattr__(self, "capacity", _frozen(self.capacity))
        low, high = self.confidence
        if not low <= self.rank <= high:
            raise BadInput(f"recommendation: rank {self.rank} lies outside its band {low}-{high}")
        if self.pattern_checked and not self.rank_pattern:
            raise BadInput("recommendation: pattern_checked with no rank_pattern")

    def to_json(self) -> dict[str, Any]:
        """The `lorplan recommend --json` object (shared contract keys first, then model, task, alpha_pattern,
        capacity, pattern_checked)."""
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "use_rslora": self.use_rslora,
            "learning_rate": self.learning_rate,
            "target_modules": list(self.target_modules),
            "rank_pattern": dict(self.rank_pattern),
            "tolerance": self.tolerance,
            "confidence": {"low": self.confidence[0], "high": self.confidence[1]},
            "cost_seconds": self.cost_seconds,
            "fits": self.fits.to_json() if self.fits is not None else None,
            "ladder": [row.to_json() for row in self.ladder],
            "evidence": [e.to_json() for e in self.evidence],
            "model": self.model,
            "task": self.task,
            "alpha_pattern": dict(self.alpha_pattern),
            "capacity": dict(self.capacity),
            "pattern_checked": self.pattern_checked,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Recommendation:
        """The Recommendation that to_json() wrote (`lorplan recommend --json`'s object). Raises KeyError,
        TypeError or ValueError (BadInput for values a Recommendation rejects) on a damaged object."""
        conf = obj["confidence"]
        alpha = float(obj["alpha"])
        fit = obj.get("fits")
        return cls(
            # an integral alpha stays an int: peft's LoraConfig and the exporters' schemas type lora_alpha as int
            rank=int(obj["rank"]), alpha=int(alpha) if alpha.is_integer() else alpha,
            use_rslora=bool(obj["use_rslora"]), learning_rate=float(obj["learning_rate"]),
            target_modules=tuple(obj["target_modules"]),
            rank_pattern={str(k): int(v) for k, v in dict(obj.get("rank_pattern") or {}).items()},
            tolerance=float(obj["tolerance"]), confidence=(int(conf["low"]), int(conf["high"])),
            cost_seconds=float(obj.get("cost_seconds") or 0.0), fits=Fit.from_json(fit) if fit is not None else None,
            ladder=tuple(LadderRow.from_json(row) for row in obj.get("ladder", ())),
            evidence=tuple(Evidence.from_json(e) for e in obj.get("evidence", ())),
            model=str(obj.get("model", "")), task=str(obj.get("task", "causal-lm")),
            alpha_pattern={str(k): float(v) for k, v in dict(obj.get("alpha_pattern") or {}).items()},
            capacity=dict(obj.get("capacity") or {}),
            pattern_checked=bool(obj.get("pattern_checked", False)),
        )


_ROW_FIELDS = tuple(f.name for f in fields(LadderRow))
