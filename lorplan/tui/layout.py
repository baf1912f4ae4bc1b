"""The terminal width under which the Plan, Data and Recommend tabs take their narrow layouts (80x24: panels
stacked, the histogram and the plot under the text beside them), and whether a widget's tab is the one shown."""

from __future__ import annotations

from textual.widget import Widget

NARROW_BELOW = 110  # terminal columns


def narrow_terminal(widget: Widget) -> bool:
    """True when the terminal is under NARROW_BELOW columns. The terminal's width, not the widget's: the Data and
    Recommend panels' own content is 4 columns narrower (border and padding), and a hidden tab's is 0, so each
    measuring itself went narrow at another width (110 to 113 columns: Data and Recommend narrow, Plan wide)."""
    return widget.app.size.width < NARROW_BELOW


def tab_shown(widget: Widget) -> bool:
    """Whether the tab holding `widget` is the active one (True outside tabs, and before the tabs have opened one:
    they open on their initial tab, and a widget of theirs may mount first). The tab, not what the last screen
    update drew: switching tabs drops the focus and changes the active tab at once, before the screen is redrawn,
    and a widget that took the focus then would pull the tabs back to its own (a focused widget's tab is shown)."""
    from textual.widgets import TabbedContent, TabPane

    pane = next((a for a in widget.ancestors if isinstance(a, TabPane)), None)
    tabs = next((a for a in widget.ancestors if isinstance(a, TabbedContent)), None)
    return pane is None or tabs is None or tabs.active in ("", pane.id)
