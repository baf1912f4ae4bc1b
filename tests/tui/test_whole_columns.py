"""Which columns of a table wider than its view lie whole in it: one pure function (whole_span) for the Plan tab's
rank table and the Probes tab's DataTable, which each chose on their own before (twin loops that could drift)."""

from __future__ import annotations

import pytest

from lorplan.tui.widgets.whole_columns import column_spans, scroll_stops, whole_span

# the rank table's way: a leading space and the rank column (5 cells with its gap) fixed, columns 2 cells apart
GAPPED = column_spans([9, 7, 6], 5, gap=2)
# the DataTable's way: each column's padding is inside its width, so the columns touch
TOUCHING = column_spans([4, 6, 3], 7)


def test_column_spans_lay_the_columns_out_from_the_fixed_edge():
    assert GAPPED == [(5, 14), (16, 23), (25, 31)]
    assert TOUCHING == [(7, 11), (11, 17), (17, 20)]
    assert column_spans([], 3) == []


@pytest.mark.parametrize(("spans", "start", "end", "expected"), [
    (GAPPED, 5, 31, (5, 31)),    # the whole line fits: every column
    (GAPPED, 5, 30, (5, 23)),    # the right edge cuts the last column by a cell: it is left out
    (GAPPED, 5, 14, (5, 14)),    # a column exactly as wide as the view
    (GAPPED, 6, 31, (16, 31)),   # the left edge cuts the first column by a cell
    (GAPPED, 15, 40, (16, 31)),  # a view starting in a gap takes the next column whole
    (GAPPED, 17, 24, (17, 17)),  # no column lies whole: nothing, at the view's left edge
    (TOUCHING, 7, 17, (7, 17)),  # touching columns: the edge between two is no cut
    (TOUCHING, 8, 19, (11, 17)),  # cut at both edges: only the middle one
    ([], 4, 9, (4, 4)),
])
def test_whole_span_keeps_only_the_columns_lying_whole_in_the_view(spans, start, end, expected):
    assert whole_span(spans, start, end) == expected


def test_scroll_stops_bring_each_column_to_the_fixed_edge_up_to_the_last_scroll():
    assert scroll_stops(GAPPED, 5, 100) == [0, 11, 20]
    assert scroll_stops(GAPPED, 5, 15) == [0, 11, 15]  # the last column's stop is past the end: the end
    assert scroll_stops(TOUCHING, 7, 4) == [0, 4]  # two stops capped to one
