"""The frozen values the main screen owns and hands down to its panels (no Textual, no I/O).

The Plan tab posts a `PlanSnapshot` whenever a new valid plan is on screen; the Data tab posts a `PlanData`
after each profile. The screen keeps the latest of each and gives them to the panels that need them (the Data
tab, the Probes tab, export), so no panel reads another panel's widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.tui import bridge


@dataclass(frozen=True)
class PlanSnapshot:
    """The plan on screen: the model as typed (`source`), its spec, the validated setup, the selected rank and
    the whole rank table (its budget included). Only valid plans are snapshotted."""

    source: str
    spec: bridge.ModelSpec
    setup: bridge.TrainingSetup
    rank: int
    table: bridge.RankTable

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
    masking rule (`completion` or `all`) and the suggested held-out fraction."""

    path: str
    schema: str
    train_on: str
    eval_split: float
