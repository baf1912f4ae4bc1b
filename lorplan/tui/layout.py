"""The terminal width under which the Plan, Data and Recommend tabs take their narrow layouts (80x24: panels
stacked, the histogram and the plot under the text beside them)."""

from __future__ import annotations

from textual.widget import Widget

NARROW_BELOW = 110  # terminal columns


def narrow_terminal(widget: Widget) -> bool:
    """True when the terminal is under NARROW_BELOW columns. The terminal's width, not the widget's: the Data and
    Recommend panels' own content is 4 columns narrower (border and padding), and a hidden tab's is 0, so each
    measuring itself went narrow at another width (110 to 113 columns: Data and Recommend narrow, Plan wide)."""
    return widget.app.size.width < NARROW_BELOW
