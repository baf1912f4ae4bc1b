"""Which columns of a line wider than its view lie whole in it, and where sideways scrolling stops: pure functions
that the Plan tab's rank table (widgets/rank_table.py) and the Probes tab's DataTable (widgets/whole_column_table.py)
both call. A module of their own, so that the rank table, on the first frame, does not import Textual's DataTable
(about 4 ms) for them.
"""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int]  # [start, end) cells of a column in the unscrolled line


def column_spans(widths: Sequence[int], start: int, gap: int = 0) -> list[Span]:
    """The [start, end) cells of columns `widths` wide laid out from cell `start`, `gap` cells apart."""
    spans, x = [], start
    for width in widths:
        spans.append((x, x + width))
        x += width + gap
    return spans


def whole_span(spans: Sequence[Span], start: int, end: int) -> Span:
    """The cells [left, right) from the first to the last of `spans` lying whole within [start, end) (what a
    view from `start` to `end` draws; the columns cut by either edge, and those beyond, are left out), or
    (start, start) when none does. Spans in order, as a line lays them out."""
    whole = [(a, b) for a, b in spans if start <= a and b <= end]
    return (whole[0][0], whole[-1][1]) if whole else (start, start)


def scroll_stops(spans: Sequence[Span], origin: int, max_scroll_x: int) -> list[int]:
    """The scroll_x that puts each span's left edge at cell `origin` of the view (the fixed columns' right
    edge), capped at max_scroll_x (where the last columns all show); ascending, each once."""
    return sorted({min(a - origin, max_scroll_x) for a, _b in spans})


def next_stop(stops: Sequence[int], x: int, step: int) -> int | None:
    """The stop `step` columns right (positive) or left (negative) of scroll_x `x`, the last one that way when
    there are fewer; None when none lies that way. From an x between two stops, the next stop either way."""
    ahead = [s for s in stops if s > x] if step > 0 else [s for s in reversed(stops) if s < x]
    return ahead[min(abs(step), len(ahead)) - 1] if ahead else None
