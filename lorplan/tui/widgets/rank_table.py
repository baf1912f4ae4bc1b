"""The rank table: one row per rank with parameters, every memory component, a bar against the GPU, fits."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from lorplan.core.units import format_count
from lorplan.tui.help_topics import tooltip

# The answer (total, bar, fits) comes before the breakdown, so an 80-column terminal shows it without scrolling.
COLUMNS = (
    ("rank", "rank"),
    ("trainable", "trainable"),
    ("pct", "% model"),
    ("total", "total"),
    ("bar", "vs GPU memory"),
    ("fits", "fits"),
    ("max_mb", "max mb"),
    ("weights", "weights"),
    ("adapter", "adapter"),
    ("gradients", "grads"),
    ("optimizer", "optim"),
    ("activations", "activ"),
    ("overhead", "other"),
)
BAR_CELLS = 10
_EIGHTHS = " ▏▎▍▌▋▊▉"


def compact_bytes(n: int) -> str:
    """Bytes in 7 characters or fewer for a table cell: 16060522496 -> "14.96G", 88080384 -> "84M"."""
    n = int(n)
    if n >= 1024**4:
        return f"{n / 1024**4:.2f}T"
    if n >= 1024**3:
        return f"{n / 1024**3:.2f}G"
    if n >= 1024**2:
        return f"{n / 1024**2:.0f}M"
    if n >= 1024:
        return f"{n / 1024:.0f}K"
    return str(n)


def memory_bar(total: int, budget: int | None, cells: int = BAR_CELLS) -> tuple[str, float | None]:
    """A bar of `cells` characters for total/budget (eighth-block resolution) and the fraction."""
    if not budget:
        return " " * cells, None
    fraction = total / budget
    eighths = round(min(fraction, 1.0) * cells * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return bar.ljust(cells), fraction


@dataclass
class RankSelected(Message):
    """The highlighted row changed to this rank."""

    rank: int


class RankTable(DataTable):
    """A DataTable fed with a core RankTable; the selected rank survives every recompute."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.selected_rank: int | None = None
        self._ranks: list[int] = []
        self._updating = False

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.tooltip = tooltip("table")

    def show(self, table, total_params: int, custom_rank: int | None = None) -> None:
        """Replace the rows with this core RankTable (kept selection; colours from the current theme)."""
        colours = self.app.theme_variables
        good, bad, accent = colours.get("success", "green"), colours.get("error", "red"), colours.get("accent", "")
        self._updating = True
        try:
            self.clear()
            self._ranks = []
            for row in table.rows:
                m = row.memory
                bar, fraction = memory_bar(m.total, table.budget_bytes)
                colour = good if row.fits else bad if row.fits is False else accent
                bar_text = Text(bar, style=colour)
                if fraction is not None:
                    bar_text.append(f" {fraction * 100:3.0f}%" if fraction < 10 else " >999%", style=colour)
                fits = "—" if row.fits is None else "✓ yes" if row.fits else "✗ no"
                max_mb = "—" if row.max_micro_batch is None else str(row.max_micro_batch)
                pct = 100.0 * row.trainable_params / total_params if total_params else 0.0
                label = f"{row.rank}*" if row.rank == custom_rank else str(row.rank)
                self.add_row(
                    Text(label, justify="right", style="bold"),
                    Text(format_count(row.trainable_params), justify="right"),
                    Text(f"{pct:.3f}" if pct < 1 else f"{pct:.2f}", justify="right"),
                    Text(compact_bytes(m.total), justify="right", style="bold"),
                    bar_text,
                    Text(fits, style=colour),
                    Text(max_mb, justify="right"),
                    *(Text(compact_bytes(v), justify="right") for v in (
                        m.weights, m.adapter, m.gradients, m.optimizer, m.activations, m.overhead)),
                    key=str(row.rank),
                )
                self._ranks.append(row.rank)
            if self.selected_rank in self._ranks:
                self.move_cursor(row=self._ranks.index(self.selected_rank), animate=False)
            elif self._ranks:
                default = 16 if 16 in self._ranks else self._ranks[len(self._ranks) // 2]
                self.selected_rank = default
                self.move_cursor(row=self._ranks.index(default), animate=False)
        finally:
            self._updating = False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._updating or event.row_key is None or event.row_key.value is None:
            return
        rank = int(event.row_key.value)
        if rank != self.selected_rank:
            self.selected_rank = rank
            self.post_message(RankSelected(rank))

    def cell_text(self, rank: int, column: str) -> str:
        """The plain text shown in a cell (tests and screen readers)."""
        value = self.get_cell(str(rank), column)
        return value.plain if isinstance(value, Text) else str(value)
