"""The values a recommendation is made of: evidence sentences, ladder rows, the memory verdict, the result.

A `Recommendation` is what `lorplan recommend` prints, the TUI shows and `--write` turns into a plan. Its
`to_json()` is the command's JSON contract: rank, alpha, use_rslora, learning_rate, target_modules,
rank_pattern, tolerance, confidence {low, high}, cost_seconds, fits, ladder, evidence (plus a few extra keys).
Pure Python: no torch, no I/O.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput

# States of a ladder probe, as lorplan probe status reports them.
PROBE_STATES = ("queued", "running", "finished", "failed", "oom", "cancelled", "died")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


# What reading a recommendation.json object can raise when the file is damaged (by hand, another tool, a full disk):
# the readers below raise BadInput naming the field, and the rest (KeyError for a missing key, TypeError for a
# list where an object belongs, ...) come from the parts they leave to Python. `lorplan recommend --run RUN` and
# the planner's recommend_bridge catch this one tuple, so the two cannot drift apart.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, BadInput)

_REQUIRED = object()
_KINDS = {"whole": "a whole number", "number": "a number", "string": "a string", "flag": "true or false"}


def _lookup(obj: Mapping[str, Any], key: str, name: str, default: Any) -> tuple[bool, Any]:
    """(False, default) for a missing or null key when a default is given, else (True, obj[key]); a missing
    required key is BadInput "NAME is missing" (a required null goes on to the type check: "..., not null")."""
    value = obj.get(key)
    if value is None:
        if default is not _REQUIRED:
            return False, default
        if key not in obj:
            raise BadInput(f"{name} is missing")
    return True, value


def read_field(obj: Mapping[str, Any], key: str, kind: str, *, name: str | None = None, least: float | None = None,
               positive: bool = False, default: Any = _REQUIRED) -> Any:
    """obj[key] checked as `kind`, else BadInput naming the field (`name`, the dotted key, e.g. "fits.gpus"):
    "whole" (an int; a whole float such as 2.0, as a file edited by hand or another JSON writer may hold it, reads
    as that int: int() read 1.5 as 1 and true as 1), "number" (an int or a finite float, never true or false),
    "string" or "flag" (true or false: bool() read "false" as True). least: the smallest value allowed; positive:
    above 0. default: what a missing key or a null gives (left out: the field is required)."""
    name = name or key
    found, value = _lookup(obj, key, name, default)
    if not found:
        return value
    noun = _KINDS[kind]
    if least is not None:
        noun += f" of at least {least:g}"
    elif positive:
        noun = "a positive number"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "whole":
        ok = numeric and (isinstance(value, int) or value.is_integer())
    elif kind == "number":
        try:
            ok = numeric and math.isfinite(value)
        except OverflowError:  # an integer of 400 digits: JSON holds it, a float does not
            ok = False
    else:
        ok = isinstance(value, str if kind == "string" else bool)
    if ok and least is not None:
        ok = value >= least
    if ok and positive:
        ok = value > 0
    if not ok:
        raise BadInput(f"{name} must be {noun}, not {'null' if value is None else reprlib.repr(value)}")
    return int(value) if kind == "whole" else value


def _reader(obj: Mapping[str, Any], prefix: str) -> Callable[..., Any]:
    """read_field on obj, each field named prefix + key ("fits." + "gpus")."""
    return lambda key, kind, **how: read_field(obj, key, kind, name=f"{prefix}{key}", **how)


def of_kind(value: Any, name: str, kind: type, noun: str) -> Any:
    """value when it is a `kind` (dict: a JSON object, list: an array), else BadInput naming it."""
    if not isinstance(value, kind):
        raise BadInput(f"{name} must be {noun}, not {'null' if value is None else reprlib.repr(value)}")
    return value


def _container(obj: Mapping[str, Any], key: str, name: str, kind: type, words: str, default: Any) -> Any:
    """obj[key] as a JSON object or array (`kind`; a missing key or null: `default`), else BadInput naming the
    field."""
    found, value = _lookup(obj, key, name, default)
    return of_kind(value, name, kind, words) if found else value


def _object(obj: Mapping[str, Any], key: str, name: str, default: Any = _REQUIRED) -> Any:
    """obj[key] as a JSON object (a missing key or null: `default`), else BadInput naming the field."""
    return _container(obj, key, name, Mapping, "a JSON object", default)


def array_field(obj: Mapping[str, Any], key: str, name: str, default: Any = _REQUIRED) -> Any:
    """obj[key] as a JSON array (a missing key or null: `default`), else BadInput naming the field: a string
    there was read letter by letter."""
    return _container(obj, key, name, list, "a JSON array", default)


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
    def from_json(cls, obj: Mapping[str, Any], name: str = "evidence") -> Evidence:
        """The Evidence to_json() wrote; BadInput naming the field (`name`: where it sits) for a wrong type."""
        of_kind(obj, name, Mapping, "a JSON object")
        return cls(read_field(obj, "source", "string", name=f"{name}.source"),
                   read_field(obj, "rank", "whole", name=f"{name}.rank", least=0, default=None),
                   read_field(obj, "explanation", "string", name=f"{name}.explanation"))


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
    def from_json(cls, obj: Mapping[str, Any], name: str = "ladder row") -> LadderRow:
        """The row to_json() wrote; keys it does not know (a newer lorplan's) are left out, and a wrong type is
        BadInput naming the field (`name`: where the row sits)."""
        of_kind(obj, name, Mapping, "a JSON object")
        read = _reader(obj, f"{name}.")

        return cls(
            rank=read("rank", "whole", least=1), learning_rate=read("learning_rate", "number", positive=True),
            eval_loss=read("eval_loss", "number", default=None),
            eval_accuracy=read("eval_accuracy", "number", default=None),
            train_seconds=read("train_seconds", "number", least=0, default=None),
            trainable_params=read("trainable_params", "whole", least=0, default=None),
            peak_memory_bytes=read("peak_memory_bytes", "whole", least=0, default=None),
            steps=read("steps", "whole", least=0, default=None),
            stopped_early=read("stopped_early", "flag", default=False), seed=read("seed", "whole", default=0),
            state=read("state", "string", default="finished"),
            predicted_loss=read("predicted_loss", "number", default=None),
            predicted_error=read("predicted_error", "number", default=None),
        )


@dataclass(frozen=True)
class Remedy:
    """One change to the training setup and what the recommended rank then needs (bytes per GPU)."""

    change: str  # the flags, e.g. "--grad-checkpointing" or "--quant nf4 --double-quant"
    total_bytes: int
    fits: bool

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "total_bytes": self.total_bytes, "fits": self.fits}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], name: str = "remedy") -> Remedy:
        """The Remedy to_json() wrote; BadInput naming the field (`name`: where it sits) for a wrong type."""
        of_kind(obj, name, Mapping, "a JSON object")
        return cls(read_field(obj, "change", "string", name=f"{name}.change"),
                   read_field(obj, "total_bytes", "whole", name=f"{name}.total_bytes", least=0),
                   read_field(obj, "fits", "flag", name=f"{name}.fits"))


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
        integers" was the line) and for a field of the wrong type, naming it ("fits.gpus must be a whole number of
        at least 1, not 1.5": int() read it as 1 GPU, which priced nothing the explanation says). A whole number
        written as a float (2.0) reads as that int. gpus and sharding null or missing: an older lorplan's file."""
        if not isinstance(obj, Mapping):
            raise BadInput(f"fits: must be a JSON object or null, not {reprlib.repr(obj)}")
        read = _reader(obj, "fits.")

        remedies = array_field(obj, "remedies", "fits.remedies", default=())
        return cls(rank=read("rank", "whole", least=1), total_bytes=read("total_bytes", "whole", least=0),
                   budget_bytes=read("budget_bytes", "whole", least=0, default=None),
                   gpu=read("gpu", "string", default=None), fits=read("fits", "flag", default=None),
                   rank_that_fits=read("rank_that_fits", "whole", least=1, default=None),
                   remedies=tuple(Remedy.from_json(r, f"fits.remedies[{i}]") for i, r in enumerate(remedies)),
                   explanation=read("explanation", "string", default=""),
                   gpus=read("gpus", "whole", least=1, default=None), sharding=read("sharding", "string", default=None))


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
        """The Recommendation that to_json() wrote (`lorplan recommend --json`'s object). A field of the wrong type
        is BadInput naming it (the dotted key: "confidence.low must be a whole number of at least 1, not 1.5"),
        never a silent int() or bool() (1.5 read as 1, "false" as True); a whole number written as a float (2.0)
        reads as that int. The readers of a damaged file catch UNREADABLE."""
        of_kind(obj, "recommendation", Mapping, "a JSON object")
        read = _reader(obj, "")

        conf = _object(obj, "confidence", "confidence")
        alpha = read("alpha", "number", positive=True)
        fit = obj.get("fits")
        targets = array_field(obj, "target_modules", "target_modules")
        pattern = _object(obj, "rank_pattern", "rank_pattern", default={})
        alpha_pattern = _object(obj, "alpha_pattern", "alpha_pattern", default={})
        return cls(
            # an integral alpha stays an int: peft's LoraConfig and the exporters' schemas type lora_alpha as int
            rank=read("rank", "whole", least=1), alpha=int(alpha) if float(alpha).is_integer() else alpha,
            use_rslora=read("use_rslora", "flag"), learning_rate=float(read("learning_rate", "number", positive=True)),
            target_modules=tuple(of_kind(t, f"target_modules[{i}]", str, "a string") for i, t in enumerate(targets)),
            rank_pattern={k: read_field(pattern, k, "whole", name=f"rank_pattern[{k!r}]", least=1) for k in pattern},
            tolerance=float(read("tolerance", "number", least=0)),
            confidence=(read_field(conf, "low", "whole", name="confidence.low", least=1),
                        read_field(conf, "high", "whole", name="confidence.high", least=1)),
            cost_seconds=float(read("cost_seconds", "number", least=0, default=0.0)),
            fits=Fit.from_json(fit) if fit is not None else None,
            ladder=tuple(LadderRow.from_json(row, f"ladder[{i}]")
                         for i, row in enumerate(array_field(obj, "ladder", "ladder", default=()))),
            evidence=tuple(Evidence.from_json(e, f"evidence[{i}]")
                           for i, e in enumerate(array_field(obj, "evidence", "evidence", default=()))),
            model=read("model", "string", default=""), task=read("task", "string", default="causal-lm"),
            alpha_pattern={k: float(read_field(alpha_pattern, k, "number", name=f"alpha_pattern[{k!r}]",
                                               positive=True)) for k in alpha_pattern},
            capacity=dict(_object(obj, "capacity", "capacity", default={})),
            pattern_checked=read("pattern_checked", "flag", default=False),
        )

