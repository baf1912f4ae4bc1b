"""Every message of the planner, in one place: past-tense facts a widget posts to its parents.

State flows one way. Values go down: the main screen hands its panels frozen values (state.PlanSnapshot,
state.PlanData). Messages go up: a widget says what happened and its parent decides what to do. A message
posted by a thread worker carries a frozen value and never a widget; the ones posted often can replace a queued
one of their kind (`can_replace`, as Textualize/toolong's progress messages do), so a backlog costs one repaint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from textual.message import Message

if TYPE_CHECKING:  # the values messages carry; importing them here would load the probe layer at start-up
    from lorplan.tui import bridge, probe_bridge, recommend_bridge
    from lorplan.tui.panels.setup_form import FormValues
    from lorplan.tui.state import PlanData, PlanSnapshot, Tuning


class _Replaceable(Message):
    """A message that a newer one of the same class replaces while both wait in the queue."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


# -- Plan tab -------------------------------------------------------------------------------------------------
@dataclass
class ModelChosen(Message):
    """The user asked for this model (catalog id, path or hub id); the plan view loads it."""

    source: str


@dataclass
class SpecLoaded(Message):
    """A thread worker loaded the spec of `source` (for the request numbered `generation`)."""

    generation: int
    source: str
    spec: bridge.ModelSpec


@dataclass
class SpecFailed(Message):
    """A thread worker could not load `source`; `message` is one line naming the input."""

    generation: int
    source: str
    message: str


@dataclass
class ModelLoaded(Message):
    """A model spec was loaded and shown (the app remembers it as the last model)."""

    source: str


@dataclass
class SetupChanged(Message):
    """Something in the setup form changed; `values` is the whole form as typed."""

    values: FormValues


@dataclass
class BudgetChanged(Message):
    """The memory budget per GPU changed (None = no budget chosen) and how many GPUs were picked."""

    budget_bytes: int | None
    gpu_count: int | None
    label: str
    free_bytes: int | None = None  # NVML's free memory now (smallest over the picked GPUs); None for presets


@dataclass
class FreeMemoryChanged(Message):
    """NVML's free memory on the picked GPUs moved (the smallest over them), the budget being the same: the plan's
    summary says the free memory now ("⚠ but only … is free now"); nothing is re-planned."""

    free_bytes: int | None


@dataclass
class BudgetRejected(Message):
    """The typed budget is not one the field accepts; `message` is its one line (naming the field). The plan
    keeps its last valid table, marked stale, until a budget is valid again (a BudgetChanged)."""

    message: str


@dataclass
class GpuReportReceived(_Replaceable):
    """A thread worker read NVML."""

    report: bridge.GpuReport


@dataclass
class RankSelected(Message):
    """The highlighted row of the rank table changed to this rank."""

    rank: int


@dataclass
class PlanChanged(Message):
    """A new valid plan is on screen; `form` is the setup form as typed for it (the app remembers it)."""

    snapshot: PlanSnapshot
    form: FormValues | None = None


@dataclass
class SetupRejected(Message):
    """The setup form has bad fields (`fields`: FormValues names, and others such as gpu_budget): the table on
    screen is the last valid one. The app then remembers those fields as they were before they were typed, not
    the last valid prefix of a number still being typed (99999999 saved 999999 to the config)."""

    fields: tuple[str, ...]


# -- Data tab -------------------------------------------------------------------------------------------------
@dataclass
class ProfileProgressed(_Replaceable):
    """The profiling worker read `done` of `total` in `unit` (the profile's progress units: bytes, rows, or the
    bytes of the first of a large JSON file's two passes)."""

    done: int
    total: int
    unit: str = "bytes"
    ask: int | None = None  # the ProfileAsk.generation of the profile it reports on (the panel reads its last ask's)

    def can_replace(self, message: Message) -> bool:
        # one of the other pass stays: the Data tab's status names the pass from it
        return super().can_replace(message) and message.unit == self.unit


class ProfileAsk(NamedTuple):
    """A profile the Data tab asked for: the path and schema as the fields held them, the planner's model, the
    masking rule (`train_all`: every token trained) and the ask's number (`generation`: the same file asked for
    twice is two asks). An answer is read only while its ask is the last one made."""

    path: str
    schema: str
    model: str | None
    train_all: bool
    generation: int


@dataclass
class ProfileFinished(Message):
    """A profile is ready, made as `asked` says."""

    profile: bridge.DataProfile
    asked: ProfileAsk

    @property
    def train_all(self) -> bool:
        """The masking rule it was made with (every token trained)."""
        return self.asked.train_all


@dataclass
class ProfileFailed(Message):
    """The dataset at `path` could not be profiled; `error` is one line saying why; `asked`: the ask that failed."""

    error: str
    path: str = ""
    asked: ProfileAsk | None = None


@dataclass
class DatasetProfiled(Message):
    """A profile finished: what an exported plan's [data] table and the probes take from it."""

    data: PlanData


# -- Probes tab -----------------------------------------------------------------------------------------------
@dataclass
class ProbeRunUpdated(_Replaceable):
    """The polling worker read the run folders again; `seq` numbers the reads in the order they were started."""

    read: probe_bridge.ProbesRead
    seq: int = 0


@dataclass
class ProbeActionFinished(Message):
    """A start, cancel or retry finished in its thread worker; `text` says what happened."""

    text: str
    severity: str = "information"  # Textual's notify severities: information, warning, error
    timeout: float | None = None
    run_id: str | None = None  # the run a start began (the panel follows it)
    retried: tuple[str, str] | None = None  # (run id, probe id) of a retry that ended, queued or refused


# -- Recommend tab --------------------------------------------------------------------------------------------
@dataclass
class LadderUpdated(_Replaceable):
    """The polling worker read the probe ladder's recommendation.json again."""

    read: recommend_bridge.LadderRead


@dataclass
class LadderActionFinished(Message):
    """Starting a probe ladder finished in its thread worker; `text` says what happened."""

    text: str
    severity: str = "information"
    timeout: float | None = None
    run_id: str | None = None  # the run started (the panel follows it)


@dataclass
class RecommendationApplied(Message):
    """The user applied a recommendation: the plan on screen takes this rank and tuning. spec: the model the
    Recommend tab's plan had when the key was pressed (None: not said); a plan whose model field was read again as
    another model before the message arrived does not take it."""

    rank: int
    tuning: Tuning
    spec: object = None


@dataclass
class SeqLenChosen(Message):
    """The user took the Data tab's suggested sequence length: the plan on screen uses it."""

    seq_len: int


# -- any panel ------------------------------------------------------------------------------------------------
@dataclass
class WorkerFailed(Message):
    """A panel's background job raised (a bug, not bad input: that is shown inline); the app reports it."""

    name: str
    error: BaseException | None
