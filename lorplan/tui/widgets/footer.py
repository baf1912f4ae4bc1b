"""A footer whose keys always fit the terminal's width: it hides the least useful ones instead of cutting them.

Textual's Footer lists every shown binding in one row and lets the rest run off its right edge. On the Probes
and Recommend tabs their own keys come first, so at 80 columns the app's Quit, Help and tab keys were off the
screen, and at 120 an entry was cut in half. A hidden key still works: F1 lists every key, ctrl+p every command.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup


class FittingFooter(Footer):
    """A Footer that, while its keys are wider than it, hides the entries named in `drop_order`, first to last:
    a key by its binding's action ("focus_table"), a binding group (its keys and label) by its description
    ("Tabs"). Entries not named are always shown. Fitted again on every resize and change of bindings."""

    def __init__(self, *, drop_order: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.drop_order = tuple(drop_order)
        self._composed_for: tuple | None = None  # what the keys on show were composed from (_keys_shown)

    def compose(self) -> ComposeResult:
        """Textual's keys, each made with the compact value it is bound to (the footer's). A FooterKey starts
        compact (its own default) and takes the footer's value when mounted: both changes restyled the key,
        twice per key at every recompose (each change of tab or focus), with the same classes in the end."""
        for widget in super().compose():
            bound = widget._reactive_connect or {}
            if isinstance(widget, FooterKey) and "compact" in bound:
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    def _keys_shown(self) -> tuple | None:
        """What compose makes the keys from: each shown binding (its key as displayed, description, action, group,
        whether it is enabled, its tooltip) and the palette's. None until the screen's bindings are known."""
        if not self._bindings_ready:
            return None
        app = self.app
        palette = app.COMMAND_PALETTE_BINDING if self.show_command_palette and app.ENABLE_COMMAND_PALETTE else None
        return (self.compact, palette, tuple(
            (key, app.get_key_display(binding), binding.description, binding.action, binding.tooltip,
             (binding.group.description, binding.group.compact) if binding.group is not None else None,
             enabled, tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette))

    async def recompose(self) -> None:
        """Compose the keys again when the bindings changed (another tab, another focused widget), unless they
        make the same keys: Textual's Footer re-mounts every key (about 25 widgets, restyled and laid out) at each
        change of focus, most of which (from one field of the setup to the next) show the very same keys."""
        shown = self._keys_shown()
        if shown is not None and shown == self._composed_for and self.children:
            return
        self._composed_for = shown
        await super().recompose()
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def entries(self) -> list[tuple[str, list[Widget]]]:
        """The footer's entries in order, each (name, its widgets): a key's action, or a group's description
        with the group's keys and label."""
        entries: list[tuple[str, list[Widget]]] = []
        children = list(self.children)
        for i, child in enumerate(children):
            if isinstance(child, KeyGroup):
                label = children[i + 1] if i + 1 < len(children) else None
                if isinstance(label, FooterLabel):
                    entries.append((str(label.content), [child, label]))
                else:
                    entries.append(("", [child]))
            elif isinstance(child, FooterKey):
                entries.append((child.action, [child]))
        return entries

    def _box(self, widget: Widget) -> int:
        """The cells a widget takes without its margins, when shown (whether or not it is shown now)."""
        if isinstance(widget, KeyGroup):
            inner = self._row(list(widget.children))
        else:
            inner = widget.get_content_width(self.size, self.size)
        return inner + widget.styles.gutter.width

    def _row(self, widgets: list[Widget]) -> int:
        """The width of widgets side by side, as Textual's horizontal layout places them (neighbours' margins
        overlap: the larger one counts)."""
        total, right = 0, None
        for widget in widgets:
            margin = widget.styles.margin
            total += self._box(widget) + (margin.left if right is None else max(right, margin.left))
            right = margin.right
        return total + (right or 0)

    def needed(self, shown: list[Widget]) -> int:
        """The width these of the footer's widgets take (a docked one, the palette's hint, beside the row)."""
        docked = [w for w in shown if w.styles.dock != "none"]
        return self._row([w for w in shown if w.styles.dock == "none"]) + sum(self._box(w) for w in docked)

    def fit(self) -> None:
        if not self.is_attached or self.size.width <= 0:
            return
        entries = self.entries()
        hidden: set[str] = set()
        for name in self.drop_order:
            shown = [w for entry, widgets in entries if entry not in hidden for w in widgets]
            if self.needed(shown) <= self.size.width:
                break
            hidden.add(name)
        for name, widgets in entries:
            for widget in widgets:
                widget.display = name not in hidden
