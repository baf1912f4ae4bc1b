"""The rank table: one row per rank with parameters, every memory component, a bar against the GPU, fits.

A line-API widget (not a DataTable): each row is one pre-built Rich Text, so a keystroke that changes every
number costs a few milliseconds to repaint instead of re-rendering ~130 cells. It keeps what a table needs here:
a header, a cursor row (the selected rank) moved by keys or the mouse, zebra rows, horizontal scrolling on narrow
terminals (a column per ←/→) with the rank column kept in place, and colours from the theme.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.events import Click, MouseDown, MouseEvent
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lorplan.core.units import format_count
from lorplan.tui.help_topics import tooltip
from lorplan.tui.messages import RankSelected
from lorplan.tui.widgets.whole_columns import column_spans, next_stop, scroll_stops, whole_span

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
LEFT_ALIGNED = {"bar", "fits"}
GAP = 2  # spaces between columns
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


REFERENCE_LABEL = "full"  # the rank cell of the full fine-tuning reference row


class RankTable(ScrollView, can_focus=True):
    """Rows of a core RankTable, and under them full fine-tuning of the same setup for reference (not
    selectable); the selected rank survives every recompute."""

    COMPONENT_CLASSES = {"rank-table--header", "rank-table--cursor", "rank-table--zebra", "rank-table--reference"}
    BINDINGS = [
        Binding("up,k", "move(-1)", "Previous rank", show=False),
        Binding("down,j", "move(1)", "Next rank", show=False),
        Binding("home", "move_to(0)", "Smallest rank", show=False),
        Binding("end", "move_to(-1)", "Largest rank", show=False),
        Binding("left", "column(-1)", "Previous column", show=False),
        Binding("right", "column(1)", "Next column", show=False),
        Binding("shift+left", "column_to(0)", "First column", show=False),
        Binding("shift+right", "column_to(-1)", "Last column", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected_rank: int | None = None
        self._ranks: list[int] = []
        self._cells: dict[int, list[Text]] = {}
        self._reference: list[Text] | None = None  # the full fine-tuning row's cells
        self._shown: tuple | None = None  # the arguments of the last show(), to recolour on a theme change
        self._widths = [len(label) for _key, label in COLUMNS]
        self._lines: list[Text] = []  # header first, then one per rank
        self._compact = False  # show the header and a few rows around the selected one only (set_compact)
        self._compact_rows = 1  # how many, while compact
        self._pressed_compact = False  # the last press was on the compact table and selected there (on_mouse_down)
        self._chain_compact = False  # the first click of the current chain (a double click's) was such a press

    def on_mount(self) -> None:
        self.tooltip = tooltip("table")
        self._layout_lines()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme) -> None:
        if self._shown is not None:  # the bar and fits colours come from the theme
            self.show(*self._shown)

    # -- data ------------------------------------------------------------------------------------------------
    def _verdict(self, total: int, fits: bool | None, budget: int | None) -> tuple[Text, Text]:
        """The bar against the budget and the fits cell, coloured from the theme."""
        colours = self.app.theme_variables
        good, bad, accent = colours.get("success", "green"), colours.get("error", "red"), colours.get("accent", "")
        bar, fraction = memory_bar(total, budget)
        colour = good if fits else bad if fits is False else accent
        bar_text = Text(bar, style=colour)
        if fraction is not None:
            bar_text.append(f" {fraction * 100:3.0f}%" if fraction < 10 else " >999%", style=colour)
        return bar_text, Text("—" if fits is None else "✓ yes" if fits else "✗ no", style=colour)

    def _row_cells(self, row, budget: int | None, total_params: int, custom_rank: int | None,
                   peak=None) -> list[Text]:
        m = row.memory
        bar_text, fits = self._verdict(m.total, row.fits, budget)
        max_mb = "—" if row.max_micro_batch is None else str(row.max_micro_batch)
        pct = 100.0 * row.trainable_params / total_params if total_params else 0.0
        label = f"{row.rank}*" if row.rank == custom_rank else str(row.rank)
        return [
            Text(label, style="bold"),
            Text(format_count(row.trainable_params)),
            Text(f"{pct:.3f}" if pct < 1 else f"{pct:.2f}"),
            Text(compact_bytes(m.total), style="bold"),
            bar_text,
            fits,
            Text(max_mb),
            # grads and activ at the step's peak moment (bridge.PeakView), so that every row adds up to its total
            *(Text(compact_bytes(v)) for v in (m.weights, m.adapter, peak.gradients if peak else m.gradients,
                                               m.optimizer, peak.activations if peak else m.activations,
                                               m.overhead)),
        ]

    def _reference_cells(self, ref, budget: int | None) -> list[Text]:
        """The full fine-tuning row (bridge.FullFinetuneView): every parameter trained, the same columns."""
        bar_text, fits = self._verdict(ref.total, ref.fits, budget)
        return [
            Text(REFERENCE_LABEL, style="bold"),
            Text(format_count(ref.trainable_params)),
            Text("100"),
            Text(compact_bytes(ref.total), style="bold"),
            bar_text,
            fits,
            Text("—"),
            Text(compact_bytes(ref.weights)),
            Text("—"),
            *(Text(compact_bytes(v)) for v in (ref.gradients, ref.optimizer, ref.activations, ref.overhead)),
        ]

    def show(self, table, total_params: int, custom_rank: int | None = None, peaks=None, reference=None) -> None:
        """Show this core RankTable (selection kept; colours from the current theme). `peaks`: rank ->
        bridge.PeakView, for the grads and activ columns at each rank's peak moment; `reference`: a
        bridge.FullFinetuneView, shown as the last row (full fine-tuning of the same setup)."""
        self._shown = (table, total_params, custom_rank, peaks, reference)
        self._ranks = [row.rank for row in table.rows]
        peaks = peaks or {}
        self._cells = {row.rank: self._row_cells(row, table.budget_bytes, total_params, custom_rank,
                                                 peaks.get(row.rank))
                       for row in table.rows}
        self._reference = None if reference is None else self._reference_cells(reference, table.budget_bytes)
        if self.selected_rank not in self._ranks and self._ranks:
            self.selected_rank = 16 if 16 in self._ranks else self._ranks[len(self._ranks) // 2]
        self._layout_lines()

    def _layout_lines(self) -> None:
        # Each column is as wide as its widest value across the rows shown, recomputed whenever the rows are
        # rebuilt: a keystroke changes a column's widest value seldom (every rank and the full fine-tuning row
        # count), so the columns stand still while typing, and they narrow again once a long value is gone.
        widths = [len(label) for _key, label in COLUMNS]
        rows = [self._cells[r] for r in self._ranks] + ([self._reference] if self._reference else [])
        for cells in rows:
            widths = [max(w, cell.cell_len) for w, cell in zip(widths, cells, strict=True)]
        header = [Text(label) for _key, label in COLUMNS]
        counted = len(self._lines)
        self._lines = [self._join(header, widths)] + [self._join(cells, widths) for cells in rows]
        size = Size(1 + sum(widths) + GAP * len(widths), self._height())
        self._widths = widths
        # Compact, a row more or fewer (a custom rank's) can leave the size as it was (the rows drawn are capped
        # at the room), while how many rows fit is for the owner to count again after a layout (PlanView._dock):
        # without one, a row added where every row fitted pushed one out, the room there for it.
        if size != self.virtual_size or (self._compact and len(self._lines) != counted):
            self.virtual_size = size  # re-layout only when the table's size changes, not on every keystroke
            self.refresh(layout=True)
        else:
            self.refresh()

    @staticmethod
    def _join(cells: list[Text], widths: list[int]) -> Text:
        line = Text(" ")
        for (key, _label), cell, width in zip(COLUMNS, cells, widths, strict=True):
            pad = " " * (width - cell.cell_len)
            if key in LEFT_ALIGNED:
                line.append_text(cell)
                line.append(pad)
            else:
                line.append(pad)
                line.append_text(cell)
            line.append(" " * GAP)
        return line

    def set_compact(self, compact: bool, rows: int = 1) -> None:
        """Show only the header and `rows` lines around the selected row (True; at least the selected row), e.g.
        while the setup above it is edited on a small terminal, so the live figures of the selected rank stay in
        view; or every row (False)."""
        rows = max(1, rows)
        if compact != self._compact or (compact and rows != self._compact_rows):
            docking = compact != self._compact
            self._compact, self._compact_rows = compact, rows
            if docking:
                self.scroll_to(y=0, animate=False)
            self._layout_lines()
            if not compact and self.selected_rank in self._ranks:
                self.call_after_refresh(self.scroll_to_region_of_row, self._ranks.index(self.selected_rank) + 1)

    @property
    def compact(self) -> bool:
        return self._compact

    @property
    def body_lines(self) -> int:
        """The lines under the header: a row per rank, and the full fine-tuning row when it is shown."""
        return max(0, len(self._lines) - 1)

    def _height(self) -> int:
        return min(1 + self._compact_rows, len(self._lines)) if self._compact else len(self._lines)

    def _window_start(self) -> int:
        """While compact: the body line (0: the first rank's) the lines drawn under the header start at, the
        selected row in the middle of them where the rows above and below allow."""
        shown = min(self._compact_rows, self.body_lines)
        selected = self._ranks.index(self.selected_rank) if self.selected_rank in self._ranks else 0
        return max(0, min(selected - (shown - 1) // 2, self.body_lines - shown))

    def _line_index(self, y: int) -> int:
        """The line (0: header, r: the r-th rank) drawn at row y."""
        if self._compact and y >= 1:
            return self._window_start() + y
        return y

    # -- rendering -------------------------------------------------------------------------------------------
    def get_content_height(self, container, viewport, width: int) -> int:
        return self._height() or 1

    def render_line(self, y: int) -> Strip:
        scroll_x, _scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y >= self._height():
            return Strip.blank(width, base)
        y = self._line_index(y)
        line = self._lines[y].copy()
        if y == 0:
            style = self.get_component_rich_style("rank-table--header")
        elif y > len(self._ranks):  # the full fine-tuning reference row
            style = self.get_component_rich_style("rank-table--reference")
        elif self._ranks[y - 1] == self.selected_rank:
            style = self.get_component_rich_style("rank-table--cursor")
            if not self.has_focus:
                style = Style(bgcolor=style.bgcolor, bold=True)
        elif y % 2 == 0:
            style = self.get_component_rich_style("rank-table--zebra")
        else:
            style = Style()
        line.stylize_before(style)
        segments = list(line.render(self.app.console))
        strip = Strip(segments, line.cell_len).simplify()
        strip = strip.extend_cell_length(scroll_x + width, style)
        # The rank column stays put while the others scroll sideways (as DataTable's fixed_columns would): the
        # figures on screen keep the rank they belong to. The scroll range is unchanged (the scrolled part
        # starts after the rank column and is that much narrower), so scroll_x 0 draws the same line as before.
        fixed = min(self.fixed_width, width)
        # Only whole columns: one cut by either edge showed as "weight│" or "16.2│", a label or a figure in part.
        left, right = whole_span(self._spans(), fixed + scroll_x, scroll_x + width)
        strip = Strip.join([strip.crop(0, fixed), Strip.blank(left - fixed - scroll_x, style),
                            strip.crop(left, right), Strip.blank(scroll_x + width - right, style)])
        return strip.apply_style(base)  # the widget's colours under the row's (cell styles stay on top)

    def _spans(self) -> list[tuple[int, int]]:
        """The [start, end) cells of each column after the rank in a line (leading space at 0), gaps left out."""
        return column_spans(self._widths[1:], self.fixed_width, GAP)

    @property
    def fixed_width(self) -> int:
        """Cells at the left that do not scroll sideways: the leading space, the rank column and its gap."""
        return 1 + self._widths[0] + GAP

    # -- sideways ----------------------------------------------------------------------------------------------
    def column_stops(self) -> list[int]:
        """The scroll_x of each column after the rank, from the first: its left edge at the fixed rank column's
        right (the scrolled part starts there), capped at max_scroll_x (the last columns then all show)."""
        return scroll_stops(self._spans(), self.fixed_width, self.max_scroll_x)

    def action_column(self, step: int) -> None:
        """Scroll one column left (-1) or right (1). A cell at a time took about 40 presses to reach the last
        column at 80 columns. From a position the mouse left between two columns, the next column either way."""
        if not self.allow_horizontal_scroll:
            raise SkipAction()  # everything shows: the key is free for whoever else binds it
        stop = next_stop(self.column_stops(), self.scroll_offset.x, step)
        if stop is not None:
            # not animated: an animation in flight would leave scroll_x short of its target, and a quick second
            # press would then aim for the column the first was already going to
            self.scroll_to(x=stop, animate=False)

    def action_column_to(self, index: int) -> None:
        """Scroll to the first column after the rank (0) or to the end (-1)."""
        if not self.allow_horizontal_scroll:
            raise SkipAction()
        self.scroll_to(x=0 if index == 0 else self.max_scroll_x, animate=False)

    # -- selection -------------------------------------------------------------------------------------------
    def _select_index(self, index: int) -> None:
        if not self._ranks:
            return
        index = max(0, min(len(self._ranks) - 1, index))
        rank = self._ranks[index]
        if rank != self.selected_rank:
            self.selected_rank = rank
            self.refresh()
            self.post_message(RankSelected(rank))
        self.scroll_to_region_of_row(index + 1)

    def scroll_to_region_of_row(self, y: int) -> None:
        if self._compact:
            return  # the lines drawn are the selected row and those around it (_window_start)
        if y < self.scroll_offset.y or y >= self.scroll_offset.y + self.scrollable_content_region.height:
            self.scroll_to(y=max(0, y - self.scrollable_content_region.height + 1), animate=False)

    def select_rank(self, rank: int) -> None:
        """Select `rank` now, or at the next show() when the table has no such row yet. Posts nothing: the
        caller re-plans (a recommendation applied from the Recommend tab)."""
        self.selected_rank = rank
        if rank in self._ranks:
            self.refresh()
            self.scroll_to_region_of_row(self._ranks.index(rank) + 1)

    def action_move(self, step: int) -> None:
        current = self._ranks.index(self.selected_rank) if self.selected_rank in self._ranks else 0
        self._select_index(current + step)

    def action_move_to(self, index: int) -> None:
        self._select_index(index if index >= 0 else len(self._ranks) - 1)

    def _rank_index_at(self, event: MouseEvent) -> int | None:
        """The index in the ranks of the row under the mouse as drawn now (the compact window's rows while
        compact), None on the header, the full fine-tuning row (a reference, not a choice) or off the rows."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y >= self._height():
            return None
        y = self._line_index(offset.y) if self._compact else offset.y + self.scroll_offset.y
        return y - 1 if 1 <= y <= len(self._ranks) else None

    def on_mouse_down(self, event: MouseDown) -> None:
        """A press on a row of the compact (docked) table selects that row's rank there and then. The press
        focuses the table and the focus ends the docking (PlanView: every row again, the table back in the view's
        flow), so by the click another row, or not the table at all, is under the mouse: a click on the docked
        row of rank 2 selected rank 1. The screen queues the table's Focus and this press together, so the table
        handles the press before PlanView hears of the focus (the DescendantFocus its Focus posts) and undocks:
        the docked window is the one drawn under the mouse."""
        self._pressed_compact = self._compact
        if self._compact and (index := self._rank_index_at(event)) is not None:
            self._select_index(index)

    def on_click(self, event: Click) -> None:
        # Its press selected on the docked table (on_mouse_down), or the first press of this double or triple
        # click did: the later presses came before the eye saw the table undock, onto another row by then.
        pressed, self._pressed_compact = self._pressed_compact, False
        self._chain_compact = pressed or (event.chain > 1 and self._chain_compact)
        if self._chain_compact:
            return
        index = self._rank_index_at(event)
        if index is not None:
            self._select_index(index)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- reading (tests, screenshots) ------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._ranks)

    @property
    def ranks(self) -> tuple[int, ...]:
        return tuple(self._ranks)

    def cell_text(self, rank: int, column: str) -> str:
        """The plain text shown in a cell."""
        index = [key for key, _label in COLUMNS].index(column)
        return self._cells[rank][index].plain

    def reference_text(self, column: str) -> str | None:
        """The plain text of a cell of the full fine-tuning row (None when it is not shown)."""
        if self._reference is None:
            return None
        return self._reference[[key for key, _label in COLUMNS].index(column)].plain
