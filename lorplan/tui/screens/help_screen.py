"""Help: what every field means in plain words, and the keys. Opens on the topic of the focused field."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lorplan.tui.help_topics import BY_ID, TOPICS

HERE = Path(__file__).resolve().parent


class HelpScreen(ModalScreen[None]):
    """Modal help. `topic` (a help_topics id) is shown first and highlighted."""

    CSS_PATH = HERE / "help_screen.tcss"
    BINDINGS = [
        Binding("escape,f1,q,question_mark", "close_help", "Close help", id="help.close"),
    ]

    def __init__(self, topic: str | None = None, keys: list[tuple[str, str]] | None = None,
                 topic_keys: dict[str, tuple[str, list[tuple[str, str]]]] | None = None) -> None:
        """`keys`: (keys, description) rows of the Keys section; `topic_keys`: topic id -> (heading, rows) shown
        under that topic (a widget's own keys next to what it means)."""
        super().__init__()
        self._topic = topic if topic in BY_ID else None
        self._keys = keys or []
        self._topic_keys = topic_keys or {}

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = "Help"
            box.border_subtitle = "Esc to close"
            with VerticalScroll(id="help-scroll"):
                ordered = sorted(TOPICS, key=lambda t: t.id != self._topic)
                for topic in ordered:
                    text = Text()
                    text.append(topic.title + "\n", style="bold")
                    text.append(topic.text)
                    if topic.id in self._topic_keys:
                        heading, rows = self._topic_keys[topic.id]
                        text.append(f"\n{heading}")
                        for key, description in rows:
                            text.append(f"\n{key:>14}  ", style="bold")
                            text.append(description)
                    classes = "help-topic -current" if topic.id == self._topic else "help-topic"
                    yield Static(text, id=f"help-{topic.id}", classes=classes)
                if self._keys:
                    keys = Text("Keys\n", style="bold")
                    for key, description in self._keys:
                        keys.append(f"{key:>14}  ", style="bold")
                        keys.append(description + "\n")
                    yield Static(keys, id="help-keys", classes="help-topic")

    def action_close_help(self) -> None:
        self.dismiss(None)
