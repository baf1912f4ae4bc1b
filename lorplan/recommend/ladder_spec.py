"""What a probe ladder was asked to do, and what it has decided so far: two files in the probe run's folder.

    ladder.json          LadderSpec: written once when the ladder starts (the model, the data's size, the
                         learning rate, the planned training length, the first ranks, the budget ...)
    ladder-state.json    LadderState: the driver's decisions (passes started, ranks stopped by successive
                         halving and at which rung, the budget spent), rewritten atomically as they are made
    recommendation.json  the recommendation from what is known, rewritten as evidence arrives
    pattern-signals.json what the pattern probes' adapters share per module (recommend.pattern, in a child
                         process of the driver), once they have ended
    ladder-clock.json    the seconds the ladder has been driven (a driver lived), rewritten every few seconds
                         by the driver: what its budget counts (LadderFiles.driven_seconds)
    ladder.lock          held (flock) by the driver process while it lives

Everything the driver decides is written before it is acted on, so a driver killed at any moment and started
again (lorplan recommend --run RUN) carries on where it stopped. Stdlib only.
"""

from __future__ import annotations

import time
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

from lorplan.core.errors import BadInput

VERSION = 1


# the spec's tuples, which LadderSpec.from_json reads as empty when a ladder.json lacks them
TUPLE_FIELDS = ("target_modules", "seeds", "ranks", "notes", "pattern_probes")


@dataclass(frozen=True)
class LadderSpec:
    """The ladder's settings.

    kind: "demo" (the fixed demo ladder) or "data" (the user's model and data). model: the model's id as
    shown; spec_source: what lorplan.core.model.load_spec reads for it. data / adapter: the fields of the
    recommend.DataSize and recommend.AdapterSize the capacity prior is computed from. learning_rate (and
    where it comes from): the policy's. rate_first: the ladder tries three rates (learning_rate / 3, × 1,
    × 3) at reference_rank before it compares ranks, and compares them at the best (recommend.decide); without
    it every rank runs at learning_rate and the other rates are tried at the leading rank last (ladders
    written before rate_first existed). planned_steps: the
    optimizer steps of the planned training (examples × epochs / batch), where curves are extrapolated to;
    probe_steps: steps per probe. seeds: training seeds per probe (the held-out split stays the run's).
    ranks: the first pass. budget_seconds: the wall-clock seconds the ladder may spend running (None: no
    limit), counted while a driver lives (LadderFiles.driven_seconds): a ladder resumed after the machine was off
    goes on with what was left. started: when the ladder started (the time since is not what the budget counts).
    budget_bytes / gpu: the memory budget the recommended rank is priced against. notes: evidence (JSON of
    recommend.Evidence) known at the start. pattern_probes: the probes (same rank and learning rate, other
    seeds) that save their adapters for the per-module pattern (recommend.pattern); pattern_why: why there are
    none, or fewer than two. second_seed: a one-seed ladder's last pass trains the ranks that can still be the
    knee once more with this seed (recommend.decide); None in ladders with several seeds and those written
    before the pass existed.
    """

    kind: str
    model: str
    spec_source: str
    task: str
    target_modules: tuple[str, ...]
    data: dict
    adapter: dict
    learning_rate: float
    learning_rate_why: str
    planned_steps: int
    probe_steps: int
    seeds: tuple[int, ...]
    ranks: tuple[int, ...]
    max_rank: int = 256
    refine: bool = True
    extra_learning_rates: bool = True
    halving: bool = True
    budget_seconds: float | None = None
    parallel: int = 1
    started: float = field(default_factory=lambda: round(time.time(), 3))
    budget_bytes: int | None = None
    gpu: str | None = None
    trust_remote_code: bool = False
    notes: tuple[dict, ...] = ()
    pattern_probes: tuple[str, ...] = ()
    pattern_why: str = ""
    rate_first: bool = False
    pattern_seed: int | None = None  # the second pattern probe's training seed (rate_first: added with the ranks)
    second_seed: int | None = None  # the "second seed" pass's training seed (None: no such pass; recommend.decide)
    version: int = VERSION

    @property
    def reference_rank(self) -> int | None:
        """rate_first's reference rank, the first-pass rank in the middle (recommend.ladder.reference_rank);
        None without rate_first."""
        if not self.rate_first or not self.ranks:
            return None
        from lorplan.recommend.ladder import reference_rank

        return reference_rank(self.ranks)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> LadderSpec:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in obj.items() if k in known}
        for key in TUPLE_FIELDS:
            kw[key] = tuple(kw.get(key, ()))
        return cls(**kw)


def trained_seeds(seeds, run_seed: int | None) -> list[int]:
    """The training seeds a ladder's probes trained with, from its spec's `seeds`: with several, those; with
    one, the probes name no seed of their own and train with the run's (`run_seed`, the plan's
    training.seed). Ladders written before lorplan stored that seed kept 0 there, so one seed is always
    read from the run when its seed is known."""
    seeds = list(seeds)
    return [run_seed] if len(seeds) == 1 and run_seed is not None else seeds


@dataclass(frozen=True)
class Pass:
    """One pass of the ladder: "first" (the base and ranks ×4 apart), "refine" (×2 around the knee), "learning
    rate" (three rates at the reference rank before the first pass, or two more at the leading rank after the
    refinement in ladders without rate_first). specs: the probes it added, as ProbeSpec fields (id, rank, lr,
    seed); skipped: why it did not run (empty when it ran); learning_rate: the rate its rank probes use, when
    the ladder chose it (rate_first's "first" pass); budget_minutes: the --budget-minutes that would have bought
    it, by the probes' measured time, when the budget left did not (None otherwise).
    """

    name: str
    specs: tuple[dict, ...] = ()
    ranks: tuple[int, ...] = ()
    skipped: str = ""
    learning_rate: float | None = None
    budget_minutes: int | None = None

    @property
    def probes(self) -> tuple[str, ...]:
        return tuple(d["id"] for d in self.specs)

    def to_json(self) -> dict:
        return {"name": self.name, "specs": [dict(d) for d in self.specs], "ranks": list(self.ranks),
                "skipped": self.skipped, "learning_rate": self.learning_rate,
                **({"budget_minutes": self.budget_minutes} if self.budget_minutes is not None else {})}

    @classmethod
    def from_json(cls, obj: dict) -> Pass:
        return cls(obj["name"], tuple(dict(d) for d in obj.get("specs", ())), tuple(obj.get("ranks", ())),
                   obj.get("skipped", ""), obj.get("learning_rate"), obj.get("budget_minutes"))


@dataclass(frozen=True)
class Stop:
    """A rank successive halving stopped: at which rung (step), and why in words."""

    rank: int
    step: int
    reason: str

    def to_json(self) -> dict:
        return {"rank": self.rank, "step": self.step, "reason": self.reason}


@dataclass(frozen=True)
class LadderState:
    """The driver's decisions so far. judged: "rank@rung" keys already compared; budget_spent: when the
    budget ran out (the seconds the ladder had run, LadderFiles.driven_seconds), None while it lasts; cancelled:
    when the user cancelled the whole run (the same count); done: nothing more will run."""

    passes: tuple[Pass, ...] = ()
    stops: tuple[Stop, ...] = ()
    judged: tuple[str, ...] = ()
    budget_spent: float | None = None
    done: bool = False
    cancelled: float | None = None

    @property
    def stopped_ranks(self) -> set[int]:
        return {s.rank for s in self.stops}

    def ladder_rate(self, spec: LadderSpec) -> float:
        """The learning rate every rank is compared at: the one the first pass chose (rate_first), else the
        spec's."""
        chosen = next((p.learning_rate for p in self.passes if p.name == "first" and p.learning_rate), None)
        return float(chosen) if chosen is not None else spec.learning_rate

    def with_pass(self, p: Pass) -> LadderState:
        return replace(self, passes=self.passes + (p,))

    def to_json(self) -> dict:
        return {"passes": [p.to_json() for p in self.passes], "stops": [s.to_json() for s in self.stops],
                "judged": list(self.judged), "budget_spent": self.budget_spent, "done": self.done,
                "cancelled": self.cancelled}

    @classmethod
    def from_json(cls, obj: dict) -> LadderState:
        return cls(
            passes=tuple(Pass.from_json(p) for p in obj.get("passes", ())),
            stops=tuple(Stop(int(s["rank"]), int(s["step"]), str(s["reason"])) for s in obj.get("stops", ())),
            judged=tuple(obj.get("judged", ())), budget_spent=obj.get("budget_spent"), done=bool(obj.get("done")),
            cancelled=obj.get("cancelled"))


class LadderFiles:
    """The ladder's files in a probe run folder (a lorplan.probe.runs.RunDir)."""

    def __init__(self, run) -> None:
        self.run = run

    @property
    def spec_path(self) -> Path:
        return self.run.path / "ladder.json"

    @property
    def state_path(self) -> Path:
        return self.run.ladder_state  # read by the probe layer too (RunDir.ladder_ended)

    @property
    def recommendation_path(self) -> Path:
        return self.run.path / "recommendation.json"

    @property
    def lock_path(self) -> Path:
        return self.run.driver_lock  # where the probe layer looks for a live driver (RunStatus.driver_alive)

    @property
    def log_path(self) -> Path:
        return self.run.path / "ladder.log"

    @property
    def clock_path(self) -> Path:
        return self.run.path / "ladder-clock.json"

    def driven_seconds(self) -> float:
        """The seconds the ladder has run, as its driver last wrote them (ladder-clock.json, every few seconds
        while a driver lives, so a driver killed loses at most those): the time it had a live driver, which
        is what its budget (LadderSpec.budget_seconds) counts. The time the machine was off, or no driver ran
        (killed, not yet re-attached), is not counted, nor are probes that trained on meanwhile without a
        driver. A ladder written before the clock: the time from its start to its driver's last
        recommendation.json ("updated"); 0 before it wrote any."""
        from lorplan.probe.runs import read_json

        obj = read_json(self.clock_path)
        seconds = obj.get("driven_seconds") if isinstance(obj, dict) else None
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < float("inf"):
            return float(seconds)
        rec = read_json(self.recommendation_path)
        updated = rec.get("updated") if isinstance(rec, dict) else None
        if isinstance(updated, (int, float)) and not isinstance(updated, bool) and self.spec_path.is_file():
            try:
                return max(0.0, float(updated) - self.spec().started)
            except (BadInput, TypeError, ValueError):
                return 0.0
        return 0.0

    def write_driven(self, seconds: float) -> None:
        from lorplan.probe.runs import atomic_write_json

        atomic_write_json(self.clock_path, {"driven_seconds": round(seconds, 1), "updated": round(time.time(), 3)})

    @property
    def signals_path(self) -> Path:
        """pattern-signals.json: what the pattern probes' adapters share per module (recommend.pattern), or
        the error that stopped the measurement."""
        return self.run.path / "pattern-signals.json"

    def signals(self) -> dict | None:
        from lorplan.probe.runs import read_json

        return read_json(self.signals_path)

    def is_ladder(self) -> bool:
        return self.spec_path.is_file()

    def spec(self) -> LadderSpec:
        from lorplan.probe.runs import read_json

        obj = read_json(self.spec_path)
        damaged = (f"--run {self.run.id}: its {self.spec_path.name} is damaged, so the ladder cannot be read or "
                   f"picked up again (`lorplan probe status {self.run.id}` shows its probes)")
        if obj is None:
            if self.spec_path.exists():  # there, but not a JSON object
                raise BadInput(f"{damaged}: not a JSON object")
            raise BadInput(f"--run {self.run.id}: not a recommend run (no {self.spec_path.name}; "
                           "lorplan probe status shows a plain probe run)")
        missing = [f.name for f in fields(LadderSpec)
                   if f.default is MISSING and f.default_factory is MISSING and f.name not in obj
                   and f.name not in TUPLE_FIELDS]
        if missing:
            raise BadInput(f"{damaged}: it lacks {', '.join(missing)}")
        try:
            return LadderSpec.from_json(obj)
        except (TypeError, ValueError, AttributeError) as exc:  # fields of the wrong kind
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInput(f"{damaged}: {why[:200]}") from None

    def write_spec(self, spec: LadderSpec) -> None:
        from lorplan.probe.runs import atomic_write_json

        atomic_write_json(self.spec_path, spec.to_json())

    def state(self) -> LadderState:
        from lorplan.probe.runs import read_json

        obj = read_json(self.state_path)
        return LadderState.from_json(obj) if obj is not None else LadderState()

    def write_state(self, state: LadderState) -> None:
        from lorplan.probe.runs import atomic_write_json

        atomic_write_json(self.state_path, state.to_json())

    def recommendation(self) -> dict | None:
        """recommendation.json, its "seeds" the ones the probes trained with (trained_seeds: a one-seed
        ladder written before lorplan recorded the seed says 0 on disk)."""
        from lorplan.probe.runs import read_json

        obj = read_json(self.recommendation_path)
        if isinstance(obj, dict) and len(obj.get("seeds") or ()) == 1:
            try:
                obj["seeds"] = trained_seeds(obj["seeds"], self.run.plan().seed)
            except BadInput:  # no plan.json: the file as it is
                pass
        return obj

    def write_recommendation(self, obj: dict) -> None:
        from lorplan.probe.runs import atomic_write_json

        atomic_write_json(self.recommendation_path, obj)
