"""A Select whose drop-down list is made the first time it opens.

Textual's Select composes its drop-down (a SelectOverlay, an OptionList hidden until the Select opens) with it,
and fills and styles it at mount: five of them in the Plan tab were built, styled and bound before the first
frame, though none shows until the user opens one. This Select composes only the line it shows (SelectCurrent),
already marked as holding a value, and mounts the list on first open, filled and highlighted as Textual does;
from then on it is Textual's Select.
"""

from __future__ import annotations

import os
from pathlib import Path

import textual
from textual.css.query import NoMatches
from textual.widgets import Select as TextualSelect
from textual.widgets._select import SelectCurrent, SelectOverlay


class Select(TextualSelect):
    """Textual's Select with its drop-down list (SelectOverlay) made on first open (see the module docstring)."""

    def compose(self):
        current = SelectCurrent(self.prompt)
        # Made with the -has-value class the value gives it at mount (a Select without a blank always has one):
        # adding it then restyled the line and its three parts, for the same classes in the end.
        if self._value != self.NULL or not self._allow_blank:
            current.set_reactive(SelectCurrent.has_value, True)
            current.add_class("-has-value", update=False)
        yield current

    def _overlay(self) -> SelectOverlay | None:
        return next((child for child in self._nodes if isinstance(child, SelectOverlay)), None)

    def _make_overlay(self) -> SelectOverlay:
        """Mount the drop-down list as Textual's compose makes it (registered now: Textual mounts at once and
        sends the Mount event later), with the options and the value's highlight."""
        overlay = SelectOverlay(type_to_search=self._type_to_search)
        overlay.compact = self.compact  # Textual binds it to the Select's compact, which lorplan never changes
        self.mount(overlay)
        super()._setup_options_renderables()
        index = next((i for i, (_prompt, value) in enumerate(self._options) if value == self.value), None)
        if index is not None and self.value != self.NULL:
            overlay.highlighted = index
        return overlay

    def _setup_options_renderables(self) -> None:
        if self._overlay() is not None:  # else made with the list when it first opens
            super()._setup_options_renderables()

    def _watch_value(self, value) -> None:
        """Textual's, with the list's highlight only when the list exists (it takes the value when made)."""
        self._value = value
        try:
            select_current = self.query_one(SelectCurrent)
        except NoMatches:  # not composed yet, or removed
            return
        if value == self.NULL:
            select_current.update(self.NULL)
        else:
            for index, (prompt, option_value) in enumerate(self._options):
                if option_value == value:
                    overlay = self._overlay()
                    if overlay is not None:
                        overlay.highlighted = index
                    select_current.update(prompt)
                    break
        self.post_message(self.Changed(self, value))

    def _watch_expanded(self, expanded: bool) -> None:
        if expanded and self._overlay() is None and self.is_attached:
            self._make_overlay()
        super()._watch_expanded(expanded)

    def action_show_overlay(self) -> None:
        if self._overlay() is None:
            self._make_overlay()
        super().action_show_overlay()

    def _watch_prompt(self, prompt: str) -> None:
        if self.is_mounted and self._overlay() is None:
            # Textual's also renames the list's blank option, which the list takes when it is made
            select_current = self.query_one(SelectCurrent)
            select_current.placeholder = prompt
            if self._allow_blank and self.value == self.NULL:
                select_current.update(self.NULL)
            return
        super()._watch_prompt(prompt)


def textual_version() -> str:
    """The installed Textual's version. textual.__version__ asks importlib.metadata, whose import (email, zipfile,
    csv, ...) took about 15 ms of the planner's start-up and nothing else there loads it; the version is also the
    name of the one metadata folder installed beside the package (`textual-8.2.8.dist-info`, a name with no other
    dash), read here. Without exactly one such folder, or once textual.__version__ is set, Textual's answer."""
    told = vars(textual).get("__version__")  # the module's __getattr__ computes it anew on each read otherwise
    if told is not None:
        return str(told)
    folder = Path(textual.__file__).parent.parent
    try:
        names = [name[len("textual-"):-len(".dist-info")] for name in os.listdir(folder)
                 if name.startswith("textual-") and name.endswith(".dist-info")]
    except OSError:
        names = []
    if len(names) == 1 and "-" not in names[0] and names[0][:1].isdigit():
        return names[0]
    return textual.__version__


# The subclass re-implements parts of Textual's private Select code as Textual 8.2 has it (pyproject allows any
# 8.x): on another minor version, whose Select may differ inside, lorplan uses Textual's Select as it is and only
# gives up the start-up saving.
if not textual_version().startswith("8.2."):
    Select = TextualSelect  # type: ignore[misc]  # noqa: F811
