"""A one-line Input whose typing repaints only itself.

Textual's Input stores the width of its text as its virtual size, and every change of a widget's virtual size
asks the screen for a full layout pass (all ~110 widgets arranged again) on each keystroke. A fixed-size,
one-line input does not need it: its scrolling to the cursor reads the virtual size directly, and the compositor
never sizes a widget without children from it. This subclass keeps the value but drops the layout request.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class FieldInput(Input):
    """Input for fixed-width form fields (no screen layout per keystroke)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)
