"""A DataTable that shows only whole columns when it is wider than its view.

DataTable scrolls sideways a cell at a time and cuts the column at either edge, so a figure could show in part
("400." of "400.00 MiB", a heading's first letters) and read as another figure. Here the first `fixed_columns`
stay put (the row keeps its name on screen), a column that does not lie whole in the view is drawn blank (its
row's colours kept, its text not), and ←/→ with a row cursor scroll a whole column at a time, as the Plan tab's
rank table does (widgets/rank_table.py). Which columns lie whole in a view is one pure function, `whole_span`
(widgets/whole_columns.py), that both tables call; they differ only in how they blank the rest.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import DataTable

from lorplan.tui.widgets.whole_columns import column_spans, next_stop, scroll_stops, whole_span


def _blank(strip: Strip) -> Strip:
    """The strip's cells as spaces in their own styles (a cursor row or a zebra stripe keeps its background)."""
    return Strip([Segment(" " * seg.cell_length, seg.style) for seg in strip if not seg.control], strip.cell_length)


class WholeColumnTable(DataTable):
    """A DataTable whose scrolled columns show whole or not at all; ←/→ (row cursor) move a column at a time."""

    def _spans(self) -> tuple[int, list[tuple[int, int]]]:
        """The fixed columns' width and the [start, end) cells of every other column in the unscrolled line."""
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        fixed = sum(widths[: self.fixed_columns]) + self._row_label_column_width
        return fixed, column_spans(widths[self.fixed_columns:], fixed)

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.max_scroll_x <= 0:
            return strip  # everything shows
        scroll_x, width = self.scroll_offset.x, self.size.width
        fixed, spans = self._spans()
        fixed = min(fixed, width)
        left, right = (x - scroll_x for x in whole_span(spans, fixed + scroll_x, scroll_x + width))
        return Strip.join([strip.crop(0, fixed), _blank(strip.crop(fixed, left)), strip.crop(left, right),
                           _blank(strip.crop(right, width))])

    def column_stops(self) -> list[int]:
        """The scroll_x that puts each scrolled column's left edge at the fixed columns' right edge, capped at
        max_scroll_x (where the last columns all show)."""
        fixed, spans = self._spans()
        return scroll_stops(spans, fixed, self.max_scroll_x)

    def _scroll_column(self, step: int) -> None:
        stop = next_stop(self.column_stops(), self.scroll_offset.x, step)
        if stop is not None:
            self.scroll_to(x=stop, animate=False)  # not animated: a quick second press aims from the first

    def action_cursor_right(self) -> None:
        if self.show_cursor and self.cursor_type in ("cell", "column"):
            super().action_cursor_right()
        else:
            self._set_hover_cursor(False)
            self._scroll_column(1)

    def action_cursor_left(self) -> None:
        if self.show_cursor and self.cursor_type in ("cell", "column"):
            super().action_cursor_left()
        else:
            self._set_hover_cursor(False)
            self._scroll_column(-1)
