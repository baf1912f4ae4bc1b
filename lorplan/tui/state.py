"""The frozen values the main screen owns and hands down to its panels (no Textual, no I/O).

The Plan tab posts a `PlanSnapshot` whenever a new valid plan is on screen; the Data tab posts a `PlanData`
after each profile. The screen keeps the latest of each and gives them to the panels that need them (the Data
tab, the Probes tab, the Recommend tab, export), so no panel reads another panel's widgets. A `Tuning` is what
the Recommend tab applied to the plan (alpha, learning rate, scaling, per-module ranks); the Plan tab keeps it
and puts it in every snapshot until another model is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lorplan.tui import bridge


@dataclass(frozen=True)
class Tuning:
    """What a recommendation sets beside the rank: lora_alpha, the learning rate, rsLoRA scaling or not, and
    peft's rank_pattern (module-name regex -> rank; the setup's targets carry it, so the table prices it).
    `source` says where it came from, in words ("capacity prior", "probe ladder run 20260101-...")."""

    alpha: float
    learning_rate: float
    use_rslora: bool = False
    rank_pattern: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank_pattern", MappingProxyType(dict(self.rank_pattern)))


@dataclass(frozen=True)
class PlanSnapshot:
    """The plan on screen: the model as typed (`source`), its spec, the validated setup, the selected rank and
    the whole rank table (its budget included), and the applied `tuning` (None: the plan's defaults). Only
    valid plans are snapshotted. `spec` is the model's; a classifier's table is priced with the head the Data
    tab's labels need (bridge.data_spec), the head the export re-derives from `spec` and the profile.
    trust_remote_code: the planner was started with `lorplan --trust-remote-code` (the plan's
    model.trust_remote_code, so its exports, probes and ladders may run the model's own code)."""

    source: str
    spec: bridge.ModelSpec
    setup: bridge.TrainingSetup
    rank: int
    table: bridge.RankTable
    tuning: Tuning | None = None
    trust_remote_code: bool = False

    @property
    def budget_bytes(self) -> int | None:
        """The memory budget per GPU the table was priced against (None: no GPU or budget chosen)."""
        return self.table.budget_bytes

    @property
    def ranks(self) -> tuple[int, ...]:
        """Every rank in the table, in table order."""
        return tuple(row.rank for row in self.table.rows)


@dataclass(frozen=True)
class PlanData:
    """What a plan's [data] table takes from the Data tab: the profiled file (absolute path), its schema, the
    masking rule (`completion` or `all`) and the suggested held-out fraction; and the profile itself (its
    trained tokens, examples and labels are what the Recommend tab's capacity prior weighs)."""

    path: str
    schema: str
    train_on: str
    eval_split: float
    profile: bridge.DataProfile | None = None
