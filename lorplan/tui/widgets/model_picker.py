"""Model picker: search the catalog as you type, or type a folder / config.json path / cached hub id."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from lorplan.core.errors import BadInput
from lorplan.tui import bridge
from lorplan.tui.help_topics import tooltip
from lorplan.tui.messages import ModelChosen
from lorplan.tui.widgets.field_input import FieldInput
from lorplan.tui.widgets.focus_within import FocusWithin


class ModelPicker(FocusWithin, Vertical):
    """Input + live list of catalog matches + one status line (the loaded model, or what went wrong)."""

    def __init__(self, catalog: tuple[str, ...], cached: tuple[str, ...] = (), *, id: str | None = None) -> None:
        """`catalog`: built-in ids; `cached`: hub ids found in the local Hugging Face cache (listed after)."""
        super().__init__(id=id)
        self._catalog = catalog + cached
        self._cached = set(cached)
        self._planned: str | None = None  # the model the table is for (show_loaded)
        self._loaded = ""  # its line, shown again when the field that failed is emptied
        self.border_title = "Model"

    def compose(self) -> ComposeResult:
        yield FieldInput(placeholder="search catalog, or folder / hub id ⏎", id="model-input", compact=True)
        yield OptionList(*self._options(""), id="model-matches", compact=True)
        yield Static("", id="model-status")

    def on_mount(self) -> None:
        self.query_one("#model-input").tooltip = tooltip("model")
        self.query_one("#model-matches").tooltip = tooltip("model")

    def _options(self, query: str) -> list[Option]:
        return [
            Option(f"{model_id}  (in your HF cache)" if model_id in self._cached else model_id, id=model_id)
            for model_id in bridge.search_catalog(query, self._catalog)
        ]

    @on(Input.Changed, "#model-input")
    def _filter(self, event: Input.Changed) -> None:
        matches = self.query_one("#model-matches", OptionList)
        matches.set_options(self._options(event.value))
        if matches.option_count:
            matches.highlighted = 0
        if not event.value.strip() and self.has_class("-error") and self._loaded:
            self.show_loaded(self._loaded)  # the error was about what the field held

    @on(Input.Submitted, "#model-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        try:
            chosen = bridge.model_choice(text, bridge.search_catalog(text, self._catalog))
        except BadInput as exc:  # an ambiguous name lists its candidates; nothing like it lists the closest
            self.show_error(str(exc))
            return
        self.post_message(ModelChosen(chosen))

    @on(OptionList.OptionSelected, "#model-matches")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.post_message(ModelChosen(event.option.id))

    def focus_input(self) -> None:
        self.query_one("#model-input").focus()

    def show_loading(self, source: str) -> None:
        self.set_class(False, "-error")
        self.query_one("#model-status", Static).update(f"loading {source} …")

    def show_loaded(self, text: str, model_id: str | None = None) -> None:
        """The loaded model's line; model_id: the model the table is now for (an error later names it)."""
        self.set_class(False, "-error")
        self.query_one("#model-status", Static).update(text)
        if model_id is not None:
            self._planned, self._loaded = model_id, text

    def show_error(self, message: str) -> None:
        """The error, and which model the table (kept as it was) is still for: the error replaced the line that
        named it, and nothing else on the tab said which model was priced."""
        self.set_class(True, "-error")
        kept = f" · the table is still for {self._planned}" if self._planned else ""
        self.query_one("#model-status", Static).update(message + kept)
