"""A panel whose border shows that the focus is in it, restyling the panel alone when the focus comes or goes.

Textual's `:focus-within` pseudo-class restyles the panel and every widget inside it at each change of focus
inside it, even from one field to the next, which leaves the pseudo-class as it was: each Tab through the setup
panel restyled its ~150 widgets. The panels' stylesheets style the class `-focus-within` instead (their border,
nothing inside them), which this mixin sets while the focus is on the panel or inside it.
"""

from __future__ import annotations

from textual import events
from textual.containers import Vertical
from textual.widget import Widget

FOCUS_WITHIN = "-focus-within"


class FocusWithin(Widget):
    """Has the class `-focus-within` while the focus is on it or on a widget inside it. Only the panel itself is
    restyled when the class changes: no rule on the class may style a widget inside the panel."""

    def _follow_focus(self) -> None:
        """Set the class as the focus is now (read when each focus message arrives, so the last one wins)."""
        inside = self.has_focus_within
        if inside != self.has_class(FOCUS_WITHIN):
            self.set_class(inside, FOCUS_WITHIN, update=False)
            self.app.stylesheet.update_nodes([self], animate=True)

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self._follow_focus()

    def on_descendant_blur(self, _event: events.DescendantBlur) -> None:
        self._follow_focus()

    def on_focus(self, _event: events.Focus) -> None:
        self._follow_focus()

    def on_blur(self, _event: events.Blur) -> None:
        self._follow_focus()


class FocusWithinVertical(FocusWithin, Vertical):
    """A Vertical container that shows the focus in it (FocusWithin)."""
