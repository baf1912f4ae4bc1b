"""The lorplan planner (Textual app): themes, user config, key bindings, command palette, help and export.

The screens and widgets live in their own modules; this file wires them together and talks to the main
screen through its methods (never to a widget by id). Importing it loads Textual and the light core only:
never torch, transformers or peft (tests/tui/test_tui_import_hygiene.py).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from functools import cache, partial
from pathlib import Path

from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter
from textual.timer import Timer

from lorplan.core.errors import BadInput, LorplanError
from lorplan.tui import bridge, take_start_up_gc_pause
from lorplan.tui.ansi16 import Ansi16
from lorplan.tui.commands import LorplanCommands
from lorplan.tui.config import (
    LEFT_AS_IS,
    ConfigLeftAsIs,
    UserConfig,
    config_dir,
    default_config_path,
    load_config,
    save_config,
)
from lorplan.tui.messages import DatasetProfiled, ModelLoaded, PlanChanged, SetupRejected, WorkerFailed
from lorplan.tui.panels.setup_panel import SHORTCUTS
from lorplan.tui.screens.help_screen import HelpScreen
from lorplan.tui.screens.main_screen import MainScreen
from lorplan.tui.themes import ANSI16_THEMES, DEFAULT_THEME, load_themes
from lorplan.tui.widgets.rank_table import RankTable

HERE = Path(__file__).resolve().parent
LORPLAN_THEMES = ("dark", "light", "high-contrast")

# focused widget id (prefix) -> help topic
_HELP_FOR = {
    "f-quant": "quant",
    "f-double_quant": "double_quant",
    "f-micro_batch": "micro_batch",
    "f-seq_len": "seq_len",
    "f-optimizer": "optimizer",
    "f-attention": "attention",
    "f-lora_dropout": "lora_dropout",
    "f-custom_rank": "custom_rank",
    "f-gpus": "gpus",
    "f-sharding": "gpus",
    "f-grad_checkpointing": "grad_checkpointing",
    "f-dora": "dora",
    "f-padding_mask": "padding_mask",
    "target-": "targets",
    "shortcut-": "targets",
    "model-": "model",
    "gpu-": "gpu",
    "rank-table": "table",
}

# The tabs other than Plan open the help on their own topic, named as the tab.
_TABS_WITH_TOPICS = ("data", "probes", "recommend")


SETUP_SAVE_DELAY = 1.0  # seconds
TABS = Binding.Group("Tabs")  # one footer entry for the tab keys: "f5 f6 f7 Tabs"
_MAIN_SCREEN_ACTIONS = {"export", "focus_model", "focus_setup", "focus_table", "show_tab", "refresh_gpus",
                        "leave_field"}


def _typed_character(key: str) -> str | None:
    """The character a text field inserts for `key` (a Textual key name: "q", "Q", "space", "question_mark",
    "shift+a"), None for a key that types nothing there ("ctrl+q", "f9", "alt+x", "tab")."""
    from textual.keys import REPLACED_KEYS, key_to_character

    *modifiers, base = key.split("+")
    if any(m != "shift" for m in modifiers):
        return None
    char = base if len(base) == 1 else key_to_character(REPLACED_KEYS.get(base, base))
    if char is None or not char.isprintable():
        return None
    return char.upper() if modifiers else char


# The ids of the bindings of the panels and the dialog imported on first use (their modules load plotting, the
# probe runner and the recommender): known here so that a keymap can remap them before they exist. Textual applies
# the app's keymap to every binding chain as it is built (Screen._binding_chain), so they take effect once the
# panel is shown. tests/tui/test_app.py checks this list against their BINDINGS.
LATE_BINDING_IDS = (
    "export.cancel", "export.write",
    "probes.cancel_probe", "probes.cancel_run", "probes.compare", "probes.retry_probe", "probes.start_demo",
    "probes.start_plan",
    "recommend.apply", "recommend.apply_pattern", "recommend.apply_uniform", "recommend.start_ladder",
)


_MODIFIERS = frozenset({"ctrl", "alt", "shift", "super", "meta", "hyper"})


@cache
def _key_names() -> frozenset[str]:
    """The names Textual gives key presses beyond single characters: its Keys ("escape", "f24"), the names it gives
    +, -, / and @ ("plus", "minus", "slash", "at": unicodedata's names, which key_to_character reads, are "plus
    sign", "hyphen-minus", ...) and the keys a terminal with the kitty keyboard protocol sends ("f35", "menu",
    "pause", "print_screen", "media_play")."""
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys

    names = {key.value.rsplit("+", 1)[-1] for key in Keys} | set(KEY_NAME_REPLACEMENTS.values())
    try:
        from textual._keyboard_protocol import FUNCTIONAL_KEYS
    except ImportError:  # a Textual without it: those keys are refused, the rest checked as before
        return frozenset(names)
    return frozenset(names | set(FUNCTIONAL_KEYS.values()))


def _key_name_problem(keys: str) -> str | None:
    """Why a keymap's `keys` ("ctrl+e,f9", after Textual's normalisation) names a key no key press sends, or
    None. Textual takes any string and binds it, so "ctrl+e," or ",,," left the binding on no key at all, and
    "Ctrl+E", "control+e" or "f99" on a key that never comes: the action silently had no key."""
    from textual.keys import key_to_character

    for key in keys.split(","):
        if not key:
            return f"{keys!r} has an empty key (a stray comma)"
        *modifiers, base = key.split("+")
        unknown = next((m for m in modifiers if m not in _MODIFIERS), None)
        if unknown is not None:
            return f"{key!r}: {unknown!r} is not a modifier (ctrl, alt, shift, super, meta, hyper)"
        if len(base) != 1 and base not in _key_names() and key_to_character(base) is None:
            return f"{key!r}: {base!r} is not a key name (e.g. ctrl+e, f9, escape, question_mark)"
    return None


def _text_key_problem(binding: Binding, keys: str) -> str | None:
    """Why `keys` cannot be `binding`'s, or None. A priority binding is checked before the focused widget sees the
    key, so a key that types a character would never reach a text field again (`quit = "q"` quits on the q of
    "qwen" in the model search). A binding without priority may use one: a text field takes its characters
    first, as the default `q` (quit-q) and `?` (help-alt) do."""
    if not binding.priority:
        return None
    for key in keys.split(","):
        char = _typed_character(key)
        if char is not None:
            return (f"{key!r} types {char!r} in text fields, and {binding.description} is checked before them "
                    f"(typing {char!r} in a field would run it); use a ctrl+, alt+ or F key; ignored, "
                    f"{binding.key} kept")
    return None


class LorplanApp(App[int]):
    """The planner. `gpu_source` and `config_path` exist so tests can fix the GPU state and the config file."""

    TITLE = "lorplan"
    SUB_TITLE = "plan a LoRA run"
    CSS_PATH = [HERE / "app.tcss", *MainScreen.CSS_FILES]
    COMMANDS = App.COMMANDS | {LorplanCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, tooltip="Quit lorplan"),
        Binding("q", "quit", "Quit", id="quit-q", show=False),
        Binding("f1", "help", "Help", id="help", priority=True, tooltip="What the focused field means"),
        Binding("question_mark", "help", "Help", id="help-alt", show=False),
        Binding("ctrl+e", "export", "Export", id="export", priority=True,  # over Input's ctrl+e (End still works)
                tooltip="Write the plan for the selected rank"),
        Binding("f2", "focus_model", "Model", id="focus-model", tooltip="Search the model catalog"),
        Binding("f3", "focus_setup", "Setup", id="focus-setup", show=False),
        Binding("f4", "focus_table", "Ranks", id="focus-table", tooltip="Move through the rank table"),
        # Priority: the tab keys work from any field (an Input or a Select would otherwise see them first).
        Binding("f5", "show_tab('plan')", "Plan tab", id="tab-plan", priority=True, group=TABS),
        Binding("f6", "show_tab('data')", "Data tab", id="tab-data", priority=True, group=TABS),
        Binding("f7", "show_tab('probes')", "Probes tab", id="tab-probes", priority=True, group=TABS),
        Binding("f8", "show_tab('recommend')", "Recommend tab", id="tab-recommend", priority=True, group=TABS),
        Binding("ctrl+t", "next_theme", "Next theme", id="next-theme", show=False),
        Binding("ctrl+r", "refresh_gpus", "Refresh GPUs", id="refresh-gpus", show=False),
        # Not priority: an open drop-down, the help and the export dialog close on Esc first.
        Binding("escape", "leave_field", "Leave the field", id="leave-field", show=False,
                tooltip="Move the focus from a field to its panel, whose keys then work (a, l on the Recommend "
                        "tab)"),
    ]

    def __init__(
        self,
        theme: str | None = None,
        model: str | None = None,
        *,
        gpu_source: bridge.GpuSource | None = None,
        config_path: Path | None = None,
        save_settings: bool = True,
        trust_remote_code: bool = False,
    ) -> None:
        super().__init__()
        # the user's `lorplan --trust-remote-code`: this session may run a model's own Python code (auto_map) and
        # hands that consent to what it starts (the profile's tokenizer, probe runs, ladders); never remembered
        self.trust_remote_code = trust_remote_code is True
        self.config_path = config_path or default_config_path()
        self.user_config, self.config_problems = load_config(self.config_path)
        self._save_settings = save_settings
        themes, theme_problems = load_themes(self.config_path.parent / "themes")
        self.config_problems += [str(p) for p in theme_problems]
        # a file that cannot be parsed is never written over (save_config): said once, at start or at first save
        self._told_left_as_is = any(LEFT_AS_IS in p for p in self.config_problems)
        self._told_save_failed: str | None = None  # the reason a settings save last failed (_remember)
        for registered in themes.values():
            self.register_theme(registered)
        chosen = theme or self.user_config.theme or DEFAULT_THEME
        # a theme whose file was skipped as bad is installed but unusable: said with the file's problem
        unusable = next((p for p in theme_problems if p.name == chosen), None)
        if theme is not None and theme not in self.available_themes:
            if unusable is not None:
                raise BadInput(f"--theme: theme {theme!r} in {unusable.path} could not be used: {unusable.message}")
            raise BadInput(f"--theme: unknown theme {theme!r} (try {', '.join(sorted(themes))})")
        if chosen not in self.available_themes:
            if unusable is not None:  # one notice in place of the file's own, not a second "not installed"
                self.config_problems[self.config_problems.index(str(unusable))] = (
                    f"theme {chosen!r} in {unusable.path} could not be used: {unusable.message}; using {DEFAULT_THEME}")
            else:
                self.config_problems.append(
                    f"{self.config_path}: theme {chosen!r} is not installed; using {DEFAULT_THEME}")
            chosen = DEFAULT_THEME
        self.theme = chosen
        self._gpu_source = gpu_source or bridge.query_gpus
        self._ansi16 = Ansi16()
        self._setup_timer: Timer | None = None  # saves the setup once typing pauses (not per keystroke)
        # the field being typed (one form field changed from one valid plan to the next) and the valid form before
        # its typing began: a field that goes bad is remembered as it was then (on_setup_rejected)
        self._last_valid_form = None
        self._editing: str | None = None
        self._before_edit = None
        self._initial_model = model or self.user_config.last_model
        self._apply_keymap(self.user_config.keymap)
        self._gc_paused = False  # see on_load

    # -- setup ------------------------------------------------------------------------------------------------
    def _apply_keymap(self, keymap) -> None:
        bindings = {b.id: b for b in self.BINDINGS if isinstance(b, Binding) and b.id}
        known = {*bindings, *LATE_BINDING_IDS}
        unknown = sorted(set(keymap) - known)
        if unknown:
            self.config_problems.append(
                f"{self.config_path}: keymap.{unknown[0]} is not a binding id (known: {', '.join(sorted(known))})"
            )
        applied = {}
        for binding_id, keys in keymap.items():
            binding = bindings.get(binding_id)
            if binding_id in known:
                named = _key_name_problem(self._normalize_keymap({binding_id: keys})[binding_id])
                if named:
                    kept = f", {binding.key} kept" if binding is not None else ", its own key kept"
                    self.config_problems.append(f"{self.config_path}: keymap.{binding_id}: {named}; ignored{kept}")
                    continue
            if binding is None:
                if binding_id in LATE_BINDING_IDS:  # a panel's or the dialog's: none has priority over a field
                    applied[binding_id] = keys
                continue
            problem = _text_key_problem(binding, self._normalize_keymap({binding_id: keys})[binding_id])
            if problem:
                self.config_problems.append(f"{self.config_path}: keymap.{binding_id}: {problem}")
            else:
                applied[binding_id] = keys
        self.set_keymap(applied)

    def on_load(self) -> None:
        # Start-up makes ~100,000 objects (widgets, styles, strips) and little garbage, yet Python's cyclic
        # collector runs hundreds of times over them before the first frame (about 30 ms of it on a 2-core
        # machine). It is paused until the first frame is painted, and resumed at the latest when the app ends;
        # launch() paused it before importing this module already (lorplan.tui.start_up_gc_pause): that pause
        # is this one, resumed at the same moment.
        handed_over = take_start_up_gc_pause()
        self._gc_paused = gc.isenabled() or handed_over
        gc.disable()

    def _resume_gc(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def on_mount(self) -> None:
        # Pushed once the app's start-up batch is over: frames painted inside that batch are thrown away, so a
        # screen pushed here directly would reach the terminal one layout pass later.
        screen = MainScreen(self._gpu_source, self._initial_model, self.user_config.last_data,
                            self.user_config.setup)
        self.call_later(self.push_screen, screen)
        screen.call_after_refresh(self._resume_gc)  # run by the screen after its first refresh
        for problem in self.config_problems:
            self.notify(problem, title="lorplan config", severity="warning", timeout=10)
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def refresh_css(self, animate: bool = True) -> None:
        """Textual parses every stylesheet again when the theme is set (this app sets it in __init__, so once just
        after Load), into a copy that keeps its parse cache: the first widget registered made the stylesheet
        parse them all a second time (about 8 ms of start-up). Before the first screen nothing is styled yet, so
        the stylesheet is parsed in place with the theme's variables, and later parses reuse that work. With a
        screen (a change of theme) the refresh is Textual's, which keeps the old rules if the new ones fail."""
        if self.screen_stack:
            super().refresh_css(animate=animate)
            return
        self.stylesheet.set_variables(self.get_css_variables())
        self.stylesheet.parse()
        self.stylesheet.update(self, animate=animate)

    def update_styles(self, node, animate: bool = True) -> None:
        """Textual restyles a widget whenever its classes change, also one not yet mounted (a Checkbox ticked, a
        compact Input, in its __init__): that work is thrown away, since each widget is styled when it is mounted
        (App._register). About 40 such widgets at start-up: only widgets in the DOM are restyled here."""
        if node is not self and not node.is_attached:
            return
        super().update_styles(node, animate=animate)

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, and for a 16-colour theme the one that sends only the 16 standard colours."""
        filters = list(super().get_line_filters())
        if self.theme in ANSI16_THEMES:
            filters.append(self._ansi16)
        return filters

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("main screen is not open")

    # -- settings persistence -------------------------------------------------------------------------------
    def _remember(self, config: UserConfig) -> None:
        self.user_config = config
        if not self._save_settings:
            return
        try:
            save_config(config, self.config_path)
        except ConfigLeftAsIs as exc:
            if not self._told_left_as_is:  # once a session: every theme or model change would repeat it
                self._told_left_as_is = True
                self.notify(str(exc), title="lorplan config", severity="warning", timeout=10)
        except OSError as exc:
            # once for each reason until a save works again: a full disk failed every theme, model or setup change
            reason = exc.strerror or str(exc)
            if reason != self._told_save_failed:
                self._told_save_failed = reason
                self.notify(f"could not save settings to {self.config_path} ({reason}); this session keeps them",
                            title="lorplan config", severity="warning", timeout=10)
        else:
            self._told_save_failed = None

    def _on_theme_changed(self, theme) -> None:
        if theme.name != self.user_config.theme:
            self._remember(self.user_config.with_theme(theme.name))

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.source != self.user_config.last_model:
            self._remember(self.user_config.with_last_model(message.source))

    def on_dataset_profiled(self, message: DatasetProfiled) -> None:
        if message.data.path != self.user_config.last_data:
            self._remember(self.user_config.with_last_data(message.data.path))

    def on_plan_changed(self, message: PlanChanged) -> None:
        """Remember the setup of each valid plan, written SETUP_SAVE_DELAY seconds after the last change (and at
        exit), so typing "4096" writes the file once."""
        form = message.form
        if form is None:
            return
        last = self._last_valid_form
        if last is not None and form != last:
            changed = {f.name for f in fields(form) if getattr(form, f.name) != getattr(last, f.name)}
            if changed != {self._editing}:  # a new field is being typed: keep what it held before
                self._editing = next(iter(changed)) if len(changed) == 1 else None
                self._before_edit = last
        self._last_valid_form = form
        if form == self.user_config.setup:
            return
        self._remember_setup(form)

    def on_setup_rejected(self, message: SetupRejected) -> None:
        """A field went bad while typed: remember it as it was before the typing began, not the last valid
        prefix the table was priced with ("99999999" left micro_batch = 999999 in the config)."""
        form, before = self.user_config.setup, self._before_edit
        if form is None or before is None or self._editing not in message.fields:
            return
        kept = replace(form, **{self._editing: getattr(before, self._editing)})
        if kept != form:
            self._remember_setup(kept)

    def _remember_setup(self, form) -> None:
        self.user_config = self.user_config.with_setup(form)
        if self._setup_timer is not None:
            self._setup_timer.stop()
        self._setup_timer = self.set_timer(SETUP_SAVE_DELAY, self._save_setup)

    def _save_setup(self) -> None:
        if self._setup_timer is not None:
            self._setup_timer.stop()
            self._setup_timer = None
            self._remember(self.user_config)

    def on_unmount(self) -> None:
        self._resume_gc()  # an app that ends before its first frame
        self._save_setup()  # a setup changed just before quitting is still remembered

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """The one place a failed background job is reported (a bug, not bad input: that is shown inline)."""
        error = message.error
        self.notify(f"{message.name} failed: {type(error).__name__}: {error}", title="lorplan",
                    severity="error", timeout=15)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Plan actions only from the main screen (hidden from the footer while a dialog or the help is open)."""
        if action in _MAIN_SCREEN_ACTIONS and not isinstance(self.screen, MainScreen):
            return False
        return True

    # -- actions --------------------------------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        topic = None
        focused = self.focused
        tab = self.screen.active_tab if isinstance(self.screen, MainScreen) else ""
        if tab in _TABS_WITH_TOPICS:  # the Data, Probes or Recommend tab: its own topic, whatever has the focus
            topic = tab
        elif focused is not None:
            for node in (focused, *focused.ancestors):
                node_id = getattr(node, "id", None) or ""
                topic = next((t for prefix, t in _HELP_FOR.items() if node_id.startswith(prefix)), None)
                if topic:
                    break
        self.push_screen(HelpScreen(topic or "rank", self.key_table(), self.topic_keys()))

    def _key_rows(self, bindings, where: str = "") -> list[tuple[str, str]]:
        """(keys, description) of `bindings` after keymap overrides, as the help screen lists them: an id once
        (ProbesPanel's c is two bindings under one id, the second hidden; a keymap moves both), as its first."""
        rows, listed = [], set()
        for binding in bindings:
            if isinstance(binding, Binding) and (binding.id is None or binding.id not in listed):
                listed.add(binding.id)
                keys = self._keymap.get(binding.id or "", binding.key)
                described = f"{binding.description} ({where})" if where else binding.description
                rows.append((keys, f"{described}  [{binding.id}]" if binding.id else described))
        return rows

    def key_table(self) -> list[tuple[str, str]]:
        """(keys, description) of the app's and the tabs' bindings after keymap overrides, for the help screen."""
        rows = self._key_rows(self.BINDINGS)
        rows.append(("ctrl+p", "Command palette: everything else"))
        # The tabs' own keys, read from their widgets' bindings so the list cannot drift from them (the panels
        # imported here, on the first F1, not at start-up: they load plotting).
        from lorplan.tui.panels.probes_panel import ProbesPanel
        from lorplan.tui.panels.recommend_panel import RecommendPanel

        for where, widget in (("Plan tab, rank table", RankTable), ("Probes tab", ProbesPanel),
                              ("Recommend tab", RecommendPanel)):
            rows += self._key_rows(widget.BINDINGS, where)
        return rows

    def topic_keys(self) -> dict[str, tuple[str, list[tuple[str, str]]]]:
        """Help topic id -> (heading, key rows) shown under that topic: the rank table's own keys under the Plan
        tab's "Reading the table", from RankTable.BINDINGS so the text cannot drift from the code."""
        focus = self._keymap.get("focus-table", next(b.key for b in self.BINDINGS if b.id == "focus-table"))
        return {"table": (f"Keys when the table has the focus ({focus}; a click selects a row too):",
                          self._key_rows(RankTable.BINDINGS))}

    def action_export(self) -> None:
        if not isinstance(self.screen, MainScreen):
            return  # a dialog or the help is open: one at a time
        plan = self.main.plan
        if plan is None:
            self.notify("Nothing to export yet: choose a model first.", severity="warning")
            return
        bad = self.main.bad_fields()
        if bad:  # the plan kept is the last valid one, not the setup the form shows: never write it silently
            self.notify(f"Not exported: fix {', '.join(bad)} first (the table shown is the last valid one).",
                        severity="warning")
            return
        try:
            planned = bridge.plan_from_setup(plan, self.main.data)
        except LorplanError as exc:
            self.notify(str(exc), severity="warning")
            return
        from lorplan.tui.screens.export_dialog import ExportDialog  # on first use: it loads the exporters

        self.push_screen(ExportDialog(planned))

    def action_copy_command(self) -> None:
        """Copy the `lorplan plan` command that prints the table on screen (OSC 52: works over SSH where the
        terminal allows it) and show it, so it can be copied by hand where the terminal does not."""
        if not isinstance(self.screen, MainScreen):
            return
        plan = self.main.plan
        if plan is None:
            self.notify("Nothing to copy yet: choose a model first.", severity="warning")
            return
        command = bridge.plan_command(plan)
        self.copy_to_clipboard(command)
        bad = self.main.bad_fields()  # the table shown is then the last valid one, and so is its command
        title = "Copied (if your terminal passes OSC 52 on)"
        if bad:
            names, are, them = (bad[0], "is", "it") if len(bad) == 1 else (
                f"{', '.join(bad[:-1])} and {bad[-1]}", "are", "them")
            title = (f"Copied the command of the last valid table (if your terminal passes OSC 52 on); {names} "
                     f"{are} not valid yet: fix {them} to copy the form's setup")
        self.notify(command, title=title, timeout=20, severity="warning" if bad else "information")

    def action_focus_model(self) -> None:
        self.main.focus_model()

    def action_focus_setup(self) -> None:
        self.main.focus_setup()

    def action_focus_table(self) -> None:
        self.main.focus_table()

    def action_leave_field(self) -> None:
        if not self.main.leave_field():
            raise SkipAction()  # not in a field: Esc is free for whoever else binds it

    def action_show_tab(self, tab_id: str) -> None:
        self.main.show_tab(tab_id)

    def action_next_theme(self) -> None:
        names = [n for n in LORPLAN_THEMES if n in self.available_themes]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]

    def action_refresh_gpus(self) -> None:
        self.main.refresh_gpus()

    # -- command palette ------------------------------------------------------------------------------------
    def palette_commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        """Everything the palette offers, as (\"namespace: action\", help, callback)."""
        for name in (*LORPLAN_THEMES, *sorted(set(self.available_themes) - set(LORPLAN_THEMES))):
            if name in self.available_themes:
                yield f"theme: {name}", "Switch the colour theme (remembered)", partial(setattr, self, "theme", name)
        yield "theme: next", "Cycle dark → light → high-contrast", self.action_next_theme
        for tab in ("plan", "data", "probes", "recommend"):
            yield f"view: {tab}", f"Show the {tab.capitalize()} tab", partial(self.action_show_tab, tab)
        yield "plan: export selected rank", "Write the plan file / trainer configs", self.action_export
        yield ("plan: copy as a lorplan plan command", "The CLI line that prints this table (for scripts, notes)",
               self.action_copy_command)
        yield ("plan: apply the recommendation", "Rank, alpha and learning rate from the Recommend tab (p there adds "
               "the per-module pattern)", self.main.apply_recommendation)
        yield "plan: focus model search", "Search the catalog or type a path", self.action_focus_model
        yield "plan: focus setup", "Jump to quantization, batch and sequence", self.action_focus_setup
        yield "plan: focus rank table", "Move through the ranks", self.action_focus_table
        main = self.main  # pushed at start-up and never popped
        for shortcut in SHORTCUTS:
            yield f"plan: targets {shortcut}", "Tick these target modules", partial(main.tick_targets, shortcut)
        for label, _size in bridge.gpu_presets():
            yield f"gpu: preset {label}", "Plan against this GPU's memory", partial(main.pick_gpu_preset, label)
        yield "gpu: refresh", "Read NVML now", self.action_refresh_gpus
        yield "help: what the fields mean", "Rank, activations, double quantization, …", self.action_help
        yield "config: show settings file", "Where theme, keymap and last model are kept", self._show_config_path
        yield "app: quit", "Leave lorplan (probes keep running)", self.exit

    def _show_config_path(self) -> None:
        self.notify(f"{self.config_path} (themes: {config_dir() / 'themes'})", title="settings")
