"""A checkbox whose box differs in shape, not only in colour: `[x]` ticked, `[ ]` unticked.

Textual's Checkbox draws the same `▐X▌` either way and tells the states apart by colour alone, which a terminal
without colour (NO_COLOR, a 16-colour theme mapping both shades to one) or a colour-blind user cannot see. The
box keeps Textual's width (three cells) and component classes, so the layouts and theme rules stay as they were.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.style import Style
from textual.widgets import Checkbox as TextualCheckbox

TICKED = "[x]"
UNTICKED = "[ ]"


class Checkbox(TextualCheckbox):
    """Textual's Checkbox drawn as `[x]` / `[ ]` (see the module docstring)."""

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        # The brackets take the label's colours; only the mark carries the on/off colour of the theme.
        bracket_style = Style(foreground=self.get_visual_style("toggle--label").foreground)
        left, mark, right = TICKED if self.value else UNTICKED
        return Content.assemble((left, bracket_style), (mark, button_style), (right, bracket_style))


class SpaceCheckbox(Checkbox, inherit_bindings=False):
    """A Checkbox that only Space toggles: Enter goes on to the screen (a dialog's "write" key)."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]
