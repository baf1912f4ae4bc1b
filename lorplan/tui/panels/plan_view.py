"""The Plan tab: GPU, model and setup on top, the rank table below; owns the planning state.

Its panels post what the user did (ModelChosen, SetupChanged, BudgetChanged, RankSelected); the view keeps the
state, recomputes the table inline (the estimate takes milliseconds) and posts a frozen PlanSnapshot up
(PlanChanged) for the screen to hand to the other tabs. Loading a spec from a folder or the cache runs in a
thread worker. Bad input never replaces the last valid table: it is kept and marked stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.visual import visualize
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from lorplan.core.errors import BadInput, LorplanError
from lorplan.core.units import format_bytes, format_count
from lorplan.tui import bridge
from lorplan.tui.layout import narrow_terminal, tab_shown
from lorplan.tui.messages import (
    BudgetChanged,
    BudgetRejected,
    FreeMemoryChanged,
    ModelChosen,
    ModelLoaded,
    PlanChanged,
    RankSelected,
    SetupChanged,
    SetupRejected,
    SpecFailed,
    SpecLoaded,
    WorkerFailed,
)
from lorplan.tui.panels.gpu_panel import GpuPanel
from lorplan.tui.panels.setup_form import FormValues, build_setup, parse_int
from lorplan.tui.panels.setup_panel import SetupPanel
from lorplan.tui.state import PlanData, PlanSnapshot, Tuning
from lorplan.tui.widgets.focus_within import FocusWithinVertical
from lorplan.tui.widgets.model_picker import ModelPicker
from lorplan.tui.widgets.rank_table import RankTable


def _architecture(spec) -> tuple[tuple[str, ...], dict[str, str], dict[str, tuple[str, ...]]]:
    """The target-module names inside the blocks that peft adapts, the role of each (attention, mlp, ...) for tooltips,
    and the names each preset adapts, as core decides it (so a preset box ticks what the plan will train)."""
    roles: dict[str, str] = {}
    for linear in spec.linears:
        if linear.layer is not None:
            roles.setdefault(linear.name, linear.role)
    return bridge.target_names(spec), roles, bridge.preset_members(spec)


def budget_named(budget_bytes: int, label: str) -> str:
    """The budget as the summary names it: "24.00 GiB (RTX-3090)" for a GPU or a preset; a typed budget's label
    already holds its size ("80 GB = 74.51 GiB", setup_form.budget_words), which is not said twice."""
    shown = format_bytes(budget_bytes)
    return label if shown in label else f"{shown} ({label})"


@dataclass
class PlanState:
    """What the plan view currently holds (the last valid values)."""

    source: str | None = None
    spec: bridge.ModelSpec | None = None
    form: FormValues = field(default_factory=FormValues)
    budget_bytes: int | None = None
    budget_label: str = ""
    free_bytes: int | None = None
    setup: bridge.TrainingSetup | None = None
    custom_rank: int | None = None
    table: bridge.RankTable | None = None
    reference: bridge.FullFinetuneView | None = None  # full fine-tuning of the same setup, the table's last row
    budget_error: str | None = None  # the typed budget's message while the field rejects it
    stale: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message while stale (FIELD_NAMES' keys)
    tuning: Tuning | None = None  # applied from the Recommend tab; kept while the model (its spec) is the same
    data: PlanData | None = None  # the Data tab's last profile (the screen hands it down)
    priced: bridge.ModelSpec | None = None  # the spec the table was priced with: `spec`, or its data's head
    # What else the table was priced with (the summary of a dimmed table names these, not the form's since):
    priced_label: str = ""  # the budget's name (table.budget_bytes is its size)
    priced_free: int | None = None  # the GPU's free memory then (its last reading while the form named it)
    priced_tuning: Tuning | None = None  # the recommendation applied then
    priced_head_note: str | None = None  # a 1-output (regression) head's note, as lorplan plan --write says it


# The fields a message can name, in the words of their labels (for one line such as "fix micro-batch first").
FIELD_NAMES = {"micro_batch": "micro-batch", "seq_len": "seq len", "lora_dropout": "LoRA dropout",
               "gpus": "GPUs", "sharding": "sharding", "custom_rank": "custom rank", "targets": "targets",
               "gpu_budget": "GPU budget", "setup": "the setup"}


class PlanView(VerticalScroll):
    """Main planning view. Exposes `state`, `table` (the RankTable) and `choose_model` for tests/commands."""

    def __init__(self, gpu_source: bridge.GpuSource, initial_model: str | None, *,
                 initial_form: FormValues | None = None, id: str | None = None) -> None:
        """`initial_form`: the setup form to open with (the last session's), else the form's defaults."""
        super().__init__(id=id)
        self._gpu_source = gpu_source
        self._priced_for: tuple | None = None  # (spec, data, the spec priced for them): _priced_spec's memo
        self._architecture_for: tuple | None = None  # (spec, its _architecture): _architecture_of's memo
        self._catalog = bridge.catalog_ids()
        self._cached = bridge.cached_ids(exclude=self._catalog)
        self._initial_model = initial_model or bridge.default_model(self._catalog)
        self._generation = 0
        self._summary_height = -1  # the summary's lines less the warning's (_set_summary)
        self._warning_height = -1  # the warning's lines above them while the table is stale
        self._summary_plain = "Choose a model to see the table."  # the summary less its stale line (_plain_height)
        self._model_line = ""  # the loaded model's line, where a model that failed to load puts its error
        self._mode_due = False  # the short-terminal mode waits for a layout at the terminal's width (_follow_size)
        self._summary_cap: int | None = None  # the summary's rows under the docked table (_dock), else the CSS's
        self._seq_clamp: tuple[int, int] | None = None  # (seq len the user had, the context it was cut to)
        self._kept_in_view = None  # the focused field above the table that the view keeps in sight
        self._kept_geometry: tuple | None = None  # the layout it was last scrolled in (see _keep_in_view)
        self.state = PlanState(form=initial_form or FormValues())
        # A catalog model is read now (a small JSON file) so the first frame is composed with its target
        # boxes instead of re-mounting them a moment later.
        self._preloaded = None
        if self._initial_model in self._catalog:
            try:
                self._preloaded = bridge.load_spec(self._initial_model)
            except LorplanError:
                self._preloaded = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="plan-top"):
            with Vertical(id="plan-left"):
                yield GpuPanel(self._gpu_source, id="gpu-panel")
                yield ModelPicker(self._catalog, self._cached, id="model-picker")
            yield SetupPanel(self.state.form,
                             architecture=self._architecture_of(self._preloaded) if self._preloaded else None,
                             id="setup-panel")
        with FocusWithinVertical(id="plan-table-box") as box:
            box.border_title = "Memory per GPU for each LoRA rank"
            yield RankTable(id="rank-table")
            yield Static("Choose a model to see the table.", id="plan-summary")

    @property
    def table(self) -> RankTable:
        return self.query_one(RankTable)

    def _architecture_of(self, spec):
        """_architecture(spec), worked out once per spec: the model read before compose composes its target boxes
        with it, and _apply_spec asks for the same spec's again (core's preset members, about 1.5 ms)."""
        made = self._architecture_for
        if made is None or made[0] is not spec:
            made = self._architecture_for = (spec, _architecture(spec))
        return made[1]

    def on_resize(self) -> None:
        self._layout()
        self._summary_height = -1  # the summary wraps at another width: measure it again
        self._follow_size()

    def _follow_size(self) -> None:
        """A terminal resized while a field is edited: the mode follows the new size, and the field is kept in
        view after the next layout (_keep_in_view). Where the panels restack (the narrow width crossed), the rows
        the view needs are known after the next layout only: it decides then (_after_layout)."""
        focused = self.app.focused
        field = focused is not None and self.scrolls_to(focused)
        short = self._short() if field else False
        self._mode_due = short is None
        if short is not None:  # on, or off; or on still, with the room the new size leaves
            self._dock(short)
        if field:
            self._kept_in_view, self._kept_geometry = focused, None

    def _layout(self) -> None:
        """Narrow terminals stack the panels (the GPU/model column above the setup) with the rank table first (the
        answer before the questions)."""
        narrow = narrow_terminal(self)
        if narrow == self.has_class("-narrow"):
            return
        self.set_class(narrow, "-narrow")
        top, box = self.query_one("#plan-top"), self.query_one("#plan-table-box")
        if narrow:
            self.move_child(box, before=top)
        else:
            self.move_child(box, after=top)

    def scrolls_to(self, widget) -> bool:
        """True for the fields above the rank table: the view itself scrolls them into view when they are
        focused (the screen's `set_focus` asks Textual not to, see MainScreen.set_focus)."""
        return any(node.id == "plan-top" and node.parent is self for node in widget.ancestors)

    def short_terminal(self) -> bool:
        """The terminal is too short for the whole view: its plain state (no error line under a field, no custom
        rank row, the table not docked) needs more rows than the view has at this width. Only the terminal's size
        counts: an error line or the custom rank's row never switches the view into its short-terminal mode
        (at 120x40 they did, when the mode asked whether the content overflowed). False until the view is laid
        out for the terminal's width."""
        return bool(self._short())

    def _short(self) -> bool | None:
        """short_terminal(), or None while the view is not laid out for the terminal's width yet."""
        needed = self._plain_height()
        return None if needed is None else needed > self.content_region.height

    def _plain_height(self) -> int | None:
        """The rows the view's content takes in its plain state at the terminal's width: the panels above the
        table and the table's box, from the widgets' own heights (the field labels, the summary and the status
        lines wrap with the width), less the rows an error line and the custom rank take. Worked out at the width
        the view has without a scrollbar (the plain view that fits has none). None before the first layout, and
        until the layout has the panels stacked or side by side as the width asks (a size measured before was
        the old bug of a summary wrapped at one column)."""
        top = self._top_rows(plain=True)
        if top is None:
            return None
        width = self.content_region.width
        box = self.query_one("#plan-table-box")
        inner = width - box.styles.gutter.width
        table = self.table
        ranks = len(table.ranks)
        custom = self.state.custom_rank
        if custom is not None and custom in table.ranks and custom not in bridge.default_ranks():
            ranks -= 1  # the custom rank's own row
        rows = 1 + ranks + (table.reference_text("rank") is not None)  # the header, the ranks, full fine-tuning
        rows += self._table_bar(inner)
        cap = table.styles.max_height
        if cap is not None:
            rows = min(rows, int(cap.resolve(Size(inner, self.content_region.height), self.app.size)))
        summary = self.query_one("#plan-summary", Static)
        lines = visualize(summary, self._summary_plain).get_height(summary.styles,
                                                                   inner - summary.styles.gutter.width)
        return top + box.styles.gutter.height + rows + lines

    def _top_rows(self, plain: bool) -> int | None:
        """The rows the panels above the table take at the terminal's width without a scrollbar: as they stand,
        or (`plain`) in the plain state, less the rows an error line takes (under the setup, the GPU budget's
        past its blank row, the model's in place of the loaded model's line) and with the loaded model's line
        for a status shown for a moment ('loading …'). None as for _plain_height."""
        width = self.content_region.width
        narrow = narrow_terminal(self)
        left, setup = self.query_one("#plan-left"), self.query_one(SetupPanel)
        if width <= 0 or self.has_class("-narrow") != narrow or not (left.size and setup.size):
            return None
        if (setup.virtual_region.y > left.virtual_region.y) != narrow:  # laid out before the panels restacked
            return None
        bar = width - self.scrollable_content_region.width  # a vertical scrollbar now takes these columns
        left_width = left.outer_size.width + (bar if narrow else 0)  # side by side: 48, the setup takes the rest
        setup_width = setup.outer_size.width + bar
        left_rows = self._rows_at(left, left_width)
        setup_rows = self._rows_at(setup, setup_width)
        if plain:
            gpu = self.query_one(GpuPanel)
            gpu_error = gpu.query_one("#gpu-error")  # a blank row when there is no error
            left_rows -= max(0, self._rows_at(gpu_error, left_width - left.styles.gutter.width
                                              - gpu.styles.gutter.width) - 1)
            picker = self.query_one(ModelPicker)
            status = picker.query_one("#model-status", Static)
            if status.content != self._model_line:  # a model that did not load (its error) or is loading: the
                # loaded model's line counts instead, the line the plain view shows
                status_width = left_width - left.styles.gutter.width - picker.styles.gutter.width
                left_rows -= (self._lines_at(status, status.content, status_width)
                              - self._lines_at(status, self._model_line, status_width))
            errors = setup.query_one("#setup-errors")  # shown only while a field is bad
            if errors.display:
                setup_rows -= self._rows_at(errors, setup_width - setup.styles.gutter.width)
        return left_rows + setup_rows if narrow else max(left_rows, setup_rows)

    def _table_bar(self, inner: int) -> int:
        """The rows of the rank table's horizontal scrollbar in a box `inner` columns wide: one where the table
        is wider than the box (80 columns), else none."""
        table = self.table
        if table.virtual_size.width > inner - table.styles.gutter.width:
            return table.styles.scrollbar_size_horizontal
        return 0

    def _docked_rows(self) -> tuple[int, int | None]:
        """(rank rows, summary rows) of the docked table (short-terminal mode): the rows the panels above leave
        in the view, the summary's first rows (up to 2, as plan_view.tcss caps it) kept for it; the table takes
        as many of the rest as it has rows, at least the selected one; the summary the room still left, never
        less than those 2. (1, None) while the view is not laid out for the terminal's width."""
        top = self._top_rows(plain=False)
        if top is None:
            return 1, None
        box = self.query_one("#plan-table-box")
        inner = self.content_region.width - box.styles.gutter.width
        table = self.table
        summary = self.query_one("#plan-summary", Static)
        lines = visualize(summary, summary.content).get_height(summary.styles, inner - summary.styles.gutter.width)
        room = self.content_region.height - top - box.styles.gutter.height - 1 - self._table_bar(inner)  # 1: header
        body = table.body_lines
        cap = table.styles.max_height
        if cap is not None:
            body = min(body, int(cap.resolve(Size(inner, self.content_region.height), self.app.size)) - 1
                       - self._table_bar(inner))
        rows = max(1, min(body, room - min(lines, 2)))
        return rows, max(2, room - rows)

    def _dock(self, editing: bool) -> None:
        """The short-terminal mode on (`editing`: the table docked at an edge, the rows the room takes: _docked_rows)
        or off; on, it follows the room left as it changes (an error line under a field: _after_layout)."""
        rows, summary_rows = self._docked_rows() if editing else (1, None)
        self.set_class(editing, "-editing")
        if summary_rows != self._summary_cap:
            self._summary_cap = summary_rows
            self.query_one("#plan-summary", Static).styles.max_height = summary_rows  # None: plan_view.tcss's
        self.table.set_compact(editing, rows)

    def _rows_at(self, widget: Widget, width: int) -> int:
        """The rows `widget` (its height auto) takes at `width` columns with its border and padding, as Textual
        lays it out: its content's height at the width inside them."""
        gutter = widget.styles.gutter
        container = Size(width, self.content_region.height)
        return widget.get_content_height(container, self.app.size, width - gutter.width) + gutter.height

    def _lines_at(self, static: Static, text, width: int) -> int:
        """The rows `static` (its height auto) takes showing `text` at `width` columns, its max-height applied."""
        rows = visualize(static, text).get_height(static.styles, width - static.styles.gutter.width)
        rows += static.styles.gutter.height
        cap = static.styles.max_height
        return rows if cap is None else min(rows, int(cap.resolve(Size(width, self.content_region.height),
                                                                  self.app.size)))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """While a field above the table is edited on a terminal too short for the whole view, the table keeps
        to one edge of the view and shows the rows the fields above leave room for (the selected one among them,
        at least that one: _docked_rows), so every keystroke's new figures stay in sight (the field scrolls in
        the room left where the fields alone overflow the view)."""
        widget = event.widget
        field = self.scrolls_to(widget)
        short = self._short() if field else False
        if short is None:  # focused before the first layout: the mode is decided after it (_after_layout)
            self._mode_due, short = True, False
        editing = field and short
        docking = editing != self.has_class("-editing")
        if docking:
            self._dock(editing)
        if not field:
            self._kept_in_view = None
            if docking:  # back to the table (Textual scrolls to it): its rows again
                self.call_after_refresh(widget.scroll_visible, animate=False)
            return
        self._kept_in_view, self._kept_geometry = widget, None
        if not docking:  # the layout on screen is the one the field is in: scroll now
            self._keep_in_view()
        # else the table is docking: the next layout (see _after_layout) places the field, then it is scrolled

    def _after_layout(self, _screen) -> None:
        """After each layout of the screen (called inside it, so every region read here is the new layout's)."""
        if self._mode_due:
            self._follow_size()
        elif self.has_class("-editing"):  # the room the panels above leave may have changed (an error line)
            self._dock(True)
        self._keep_in_view()

    def _keep_in_view(self) -> None:
        """Scroll the focused field into the room the docked table leaves, without animation, and again after
        any layout that moves it (the table docking, an error line above it), not after a scroll of the user's.

        This is the only scroll of a focused field above the table: Textual's own (animated, and computed on
        the layout before the table docked) is turned off for them, so no two scrolls race to different ends.
        """
        widget = self._kept_in_view
        if widget is None:
            return
        if widget is not self.screen.focused or not widget.is_attached or not self.display:
            self._kept_in_view = None
            return
        top = self.query_one("#plan-top")
        # Where the layout put things, scroll offsets aside: a change means the field may have moved.
        geometry = (self.size, self.virtual_size, top.dock_gutter,
                    tuple(node.virtual_region for node in (widget, *widget.ancestors) if node is not self
                          and self in node.ancestors))
        if geometry == self._kept_geometry:
            return
        self._kept_geometry = geometry
        if not widget.region:
            return  # not laid out yet: the next layout comes back here
        picker = self.query_one(ModelPicker)
        if picker in widget.ancestors:  # the search with its matches under it, when the room allows
            self.scroll_to_widget(picker, animate=False, immediate=True)
        self.scroll_to_widget(widget, animate=False, immediate=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(WorkerFailed(event.worker.name, event.worker.error))

    def on_mount(self) -> None:
        self.state.form = self.query_one(SetupPanel).values()  # as the panel opened (a remembered ddp set again)
        self._layout()
        self.screen.screen_layout_refresh_signal.subscribe(self, self._after_layout, immediate=True)
        if self._preloaded is not None:
            self._generation += 1
            self.call_later(self._apply_spec, self._initial_model, self._preloaded)
        elif self._initial_model:
            self.choose_model(self._initial_model)
        else:
            self.query_one(ModelPicker).show_error("The catalog is empty: type a folder with a config.json.")

    # -- model -----------------------------------------------------------------------------------------------
    @property
    def _trusted(self) -> bool:
        """The session's consent to run a model's own code (`lorplan --trust-remote-code`, LorplanApp)."""
        return bridge.session_trusts(self.app)

    @on(ModelChosen)
    def _on_model_chosen(self, event: ModelChosen) -> None:
        event.stop()
        self.choose_model(event.source)

    def choose_model(self, source: str) -> None:
        """Load a model: catalog ids inline (a small JSON read), anything else in a thread worker."""
        self._generation += 1
        picker = self.query_one(ModelPicker)
        source = source.strip()
        if source in self._catalog:
            try:
                spec = bridge.load_spec(source)
            except LorplanError as exc:
                self._model_failed(str(exc))
                return
            self.call_later(self._apply_spec, source, spec)
            return
        picker.show_loading(source)
        self._load_in_thread(self._generation, source, self._trusted)

    @work(thread=True, exclusive=True, group="spec", exit_on_error=False)
    def _load_in_thread(self, generation: int, source: str, trusted: bool = False) -> None:
        try:
            spec = bridge.load_spec(source, trust_remote_code=trusted)
        except LorplanError as exc:  # bad input, or a fallback build that failed and says why
            self.post_message(SpecFailed(generation, source, str(exc)))
            return
        self.post_message(SpecLoaded(generation, source, spec))

    async def on_spec_loaded(self, message: SpecLoaded) -> None:
        if message.generation == self._generation:
            await self._apply_spec(message.source, message.spec)

    def on_spec_failed(self, message: SpecFailed) -> None:
        if message.generation == self._generation:
            self._model_failed(message.message)

    def _model_failed(self, message: str) -> None:
        """Say why the model did not load; with no table yet (the planner opened on a model that is not there)
        the focus goes from the empty rank table, where no key does anything, to the model field to fix it. Only
        while the Plan tab is shown: a tab switch leaves the focus nowhere until the new tab's field takes it, and
        the model field taking it then would show the Plan tab again (F5 and F4 take it there later)."""
        picker = self.query_one(ModelPicker)
        picker.show_error(message)
        if not self.table.ranks and self.screen.focused in (None, self.table) and tab_shown(self):
            picker.focus_input()

    async def _apply_spec(self, source: str, spec) -> None:
        if source != self.state.source:
            self.state.tuning = None  # a recommendation (its rank_pattern, its learning rate) is for one model
        elif self.state.tuning is not None and not bridge.same_model(spec, self.state.spec):
            self._drop_tuning(self.state.spec, spec)
        self.state.source, self.state.spec = source, spec
        names, roles, presets = self._architecture_of(spec)
        note = f" · {spec.notes[0]}" if getattr(spec, "notes", ()) else ""
        self._model_line = (f"{spec.id} · {spec.model_type} · {format_count(spec.total_params)} params · "
                            f"{spec.num_layers} layers · context {spec.max_position_embeddings:,}{note}")
        self.query_one(ModelPicker).show_loaded(self._model_line, spec.id)
        self._summary_height = -1  # the summary may shrink to the new model's text
        self._fit_seq_len(spec)
        self._fit_attention(spec)
        self._fit_checkpointing(spec)
        wanted, defaults = bridge.task_micro_batches(spec)
        try:  # read as the form reads it (core.units.whole_number: "1.0" and "1e0" are 1; "²" is refused)
            shown = parse_int(self.state.form.micro_batch, "Micro-batch", 1, bridge.MAX_MICRO_BATCH)
        except BadInput:
            shown = None  # a bad value, left for the form to refuse
        if shown in defaults and shown != wanted:  # a default, not the user's
            self.state.form = self.query_one(SetupPanel).show_micro_batch(wanted)
        await self.query_one(SetupPanel).set_architecture(names, roles, presets)
        self.post_message(ModelLoaded(source))

    def _drop_tuning(self, old, spec) -> None:
        """The same model field read as another model: a folder whose config.json now names its sequence
        classifier or other sizes keeps its id (the path), so the text alone does not tell. The applied tuning was
        recommended for `old` (the Recommend tab applies only a recommendation of the plan's model and task) and
        goes, so that neither the table nor a written plan carries it; a spec read again unchanged keeps it."""
        tuning, self.state.tuning = self.state.tuning, None
        if spec.task != old.task:
            why = f"now a {spec.task} model, was a {old.task} model"
        elif spec.architecture != old.architecture:
            why = f"now {spec.architecture}, was {old.architecture}"
        else:
            why = "its config now gives other sizes or settings"
        parts = [f"alpha {tuning.alpha:g}", f"learning rate {tuning.learning_rate:g}",
                 *(["rsLoRA"] if tuning.use_rslora else []), *(["rank_pattern"] if tuning.rank_pattern else [])]
        applied = f"{', '.join(parts[:-1])} and {parts[-1]}"
        self.app.notify(f"{spec.id} was read again as another model ({why}): the {applied} applied from the "
                        f"{tuning.source} were dropped; the plan uses its defaults until a recommendation for this "
                        "model is applied", severity="warning", timeout=10)

    def _fit_seq_len(self, spec) -> None:
        """The sequence length within the new model's context, as `lorplan plan` does; a length cut for one
        model comes back for the next one whose context allows it, unless the user changed it since. The field's
        text is read as the form reads it (setup_form.parse_int: "4,096", "4_096" and "4096.0" are 4096; only
        plain digits were fitted) and compared as a number, so a length within the context stays as typed."""
        limit = bridge.context_limit(spec)
        try:  # any whole number, as the plain digits were: one beyond MAX_SEQ_LEN is cut to the context too
            typed = parse_int(self.state.form.seq_len, "Sequence length", 0, 10**18)
        except BadInput:
            return  # a bad value: the form says so
        if self._seq_clamp is not None and typed == self._seq_clamp[1]:
            wanted = self._seq_clamp[0]  # still the cut value: the user's length is what counts
        else:
            wanted, self._seq_clamp = typed, None
        shown = min(wanted, limit) if limit else wanted
        if shown != typed:
            self.state.form = self.query_one(SetupPanel).show_seq_len(shown)
        if shown < wanted:
            self._seq_clamp = (wanted, shown)
            if shown != typed:
                self.app.notify(f"Seq len {wanted:,} is beyond {spec.id}'s context of {shown:,} tokens: the plan "
                                f"uses {shown:,} while this model is chosen, and {wanted:,} again with a longer one",
                                timeout=6)
        else:
            self._seq_clamp = None

    def _fit_attention(self, spec) -> None:
        """The attention the model implements when the form holds the default one (SDPA) or the one the saved
        setup chose, and the model has none (Gemma 2: eager, as `lorplan plan` plans it), and the wanted one
        again for the next model that has it; an attention the user picked in this session stays, and the form
        marks it when the model lacks it (SetupPanel.follow_model_attention)."""
        supported, default = bridge.model_attention(spec)
        self.state.form, replaced = self.query_one(SetupPanel).follow_model_attention(supported, default)
        if replaced is not None:
            self.app.notify(f"Attention {default}: {spec.id} has no {replaced} attention in transformers (it "
                            f"supports {', '.join(supported)}): the plan uses {default}", timeout=6)

    def _fit_checkpointing(self, spec) -> None:
        """The grad checkpointing box ticked by the saved setup, unticked for a model whose class cannot checkpoint
        (CTRL) with a note, and ticked again for the next model that can; one ticked by hand stays, and the form
        marks it on such a model (SetupPanel.follow_model_checkpointing)."""
        lacked = bridge.checkpointing_lacked(spec)
        self.state.form, cleared = self.query_one(SetupPanel).follow_model_checkpointing(lacked is None)
        if cleared:
            self.app.notify(f"Grad checkpointing off: {lacked}: the plan goes without it while this model is "
                            "chosen, and with it again for a model that checkpoints", timeout=6)

    # -- setup and budget -----------------------------------------------------------------------------------
    @on(SetupChanged)
    def _on_setup_changed(self, event: SetupChanged) -> None:
        event.stop()
        typed_rank = event.values.custom_rank != self.state.form.custom_rank
        self.state.form = event.values
        self.recompute(select_custom=typed_rank)

    @on(BudgetChanged)
    def _on_budget_changed(self, event: BudgetChanged) -> None:
        event.stop()
        self.state.budget_error = None
        self.state.budget_bytes, self.state.budget_label = event.budget_bytes, event.label
        self.state.free_bytes = event.free_bytes
        if event.gpu_count:  # GPUs picked in the list: the form follows, and the plan is recomputed once
            self.state.form = self.query_one(SetupPanel).show_gpu_count(event.gpu_count)
        self.recompute()

    @on(FreeMemoryChanged)
    def _on_free_memory_changed(self, event: FreeMemoryChanged) -> None:
        """The picked GPUs' free memory moved, the budget the same: only the summary says it. While they are the
        table's GPUs it is also the table's last reading of them (a dimmed table keeps it once another is picked)."""
        event.stop()
        if self._form_budget_is_the_table_s():
            self.state.priced_free = event.free_bytes
        self.state.free_bytes = event.free_bytes
        if self.state.table is not None:
            self._update_summary()

    @on(BudgetRejected)
    def _on_budget_rejected(self, event: BudgetRejected) -> None:
        """A budget the field shows as invalid: never plan with it (nor with a prefix typed before it); keep the
        last valid table, dimmed, as for a bad setup field. The GPU panel shows the message under its field."""
        event.stop()
        self.state.budget_error = event.message
        self.recompute()

    @on(RankSelected)
    def _on_rank_selected(self, event: RankSelected) -> None:
        event.stop()
        self._update_summary()
        self._announce()

    def set_data(self, data: PlanData | None) -> None:
        """The Data tab's last profile, handed down by the screen: a classifier's figures are priced with the
        head its labels need (bridge.data_spec), the head the export writes and prices. Re-plans once per
        new profile (the screen hands the same one down after every plan change)."""
        if data is self.state.data:
            return
        self.state.data = data
        self.recompute()

    def _priced_spec(self):
        """The model's spec with the head the profiled labels need (labels 0 and 5: 6 outputs), else as it is.
        Labels no head can take (a negative one, too many classes) keep the model's head here: the export
        names the problem when the plan is written. Made once per model and profile, not on every keystroke's
        recompute (a new head rebuilds the spec from its config)."""
        spec, data = self.state.spec, self.state.data
        made = self._priced_for
        if made is None or made[0] is not spec or made[1] is not data:
            try:
                priced = bridge.data_spec(spec, data)
            except LorplanError:
                priced = spec
            made = self._priced_for = (spec, data, priced)
        return made[2]

    def recompute(self, select_custom: bool = False) -> None:
        """Validate the form and price every rank; on bad input keep the last table and say why. select_custom:
        the custom rank field was just typed, so its row is selected (the focus stays in the field); otherwise
        the selection is kept."""
        setup_panel = self.query_one(SetupPanel)
        if self.state.spec is None:
            return
        result = build_setup(self.state.form)
        errors = dict(result.errors)
        if self.state.budget_error is not None:
            errors["gpu_budget"] = self.state.budget_error
        if not errors and result.setup is not None:
            setup, tuning = result.setup, self.state.tuning
            try:
                if tuning is not None and tuning.rank_pattern:  # priced like peft: per-module ranks
                    setup = bridge.with_rank_pattern(setup, tuning.rank_pattern)
                spec = self._priced_spec()
                table = bridge.rank_table(spec, setup, self.state.budget_bytes, result.custom_rank)
            except LorplanError as exc:
                errors[bridge.error_field(str(exc))] = str(exc)
            else:
                setup_panel.show_errors({})
                self.state.setup, self.state.custom_rank, self.state.table = setup, result.custom_rank, table
                self.state.priced = spec
                self.state.priced_label, self.state.priced_free = self.state.budget_label, self.state.free_bytes
                self.state.priced_tuning = tuning
                self.state.priced_head_note = bridge.head_note(self.state.spec, spec, self.state.source or spec.id,
                                                               self.state.data)
                self.state.stale, self.state.errors = False, {}
                peaks = {row.rank: bridge.peak_view(spec, setup, row.rank) for row in table.rows}
                self.state.reference = bridge.full_finetune_view(spec, setup, table.budget_bytes)
                self.table.show(table, spec.total_params, result.custom_rank, peaks, self.state.reference)
                if select_custom and result.custom_rank is not None:
                    self.table.select_rank(result.custom_rank)
                self._update_summary()
                self._announce()
                return
        self._check_custom_rank(result, errors)
        errors = self._in_form_order(errors)
        setup_panel.show_errors({k: v for k, v in errors.items() if k != "gpu_budget"})  # shown by the GPU panel
        self.state.stale, self.state.errors = True, errors
        self._update_summary()
        self.post_message(SetupRejected(tuple(errors)))

    # the field a widget is (its id), where the id is not "f-" and the field's key
    _FIELD_OF = {"gpu-budget": "gpu_budget", "targets-boxes": "targets"}

    def _in_form_order(self, errors: dict[str, str]) -> dict[str, str]:
        """`errors` in the order of their fields on screen, top to bottom: the DOM's (the GPU budget above the
        setup form, whose grid fills its rows left to right, then the option boxes and the targets); a message on
        no field ("setup") after them. The form's checks run in another order (GPUs before LoRA dropout, which is
        above it), and the lines under the form, bad_fields and the summary's first error followed that."""
        keys: list[str] = []
        for widget in self.query("Input, Select, Checkbox, #targets-boxes"):
            wid = widget.id or ""
            key = self._FIELD_OF.get(wid, wid.removeprefix("f-") if wid.startswith("f-") else "")
            if key in errors and key not in keys:
                keys.append(key)
        return {**{key: errors[key] for key in keys}, **errors}

    def _check_custom_rank(self, result, errors: dict[str, str]) -> None:
        """With another field red no setup is built, so rank_table never checked the custom rank against the
        model on screen: a rank above its limit (5000 on Llama-3.2-1B, 2,048) went unmarked until the other
        field was fixed. Checked here against the model alone, and marked with the others."""
        form, spec = self.state.form, self.state.spec
        if result.custom_rank is None or "custom_rank" in errors or not form.targets or spec is None:
            return
        tuning = self.state.tuning
        try:
            bridge.check_custom_rank(spec, form.targets, form.dora, result.custom_rank,
                                     tuning.rank_pattern if tuning is not None else None)
        except LorplanError as exc:
            errors["custom_rank"] = str(exc)

    def bad_fields(self) -> tuple[str, ...]:
        """The fields the form shows as bad (their labels, in the form's order); empty when the table on screen
        is the form's. While any is bad, the plan handed to the other tabs is the last valid one."""
        if not self.state.stale:
            return ()
        return tuple(dict.fromkeys(FIELD_NAMES.get(key, key.replace("_", " ")) for key in self.state.errors))

    def _selected_row(self):
        table = self.state.table
        if table is None:
            return None
        rank = self.table.selected_rank
        return next((row for row in table.rows if row.rank == rank), None)

    def _update_summary(self) -> None:
        summary = self.query_one("#plan-summary", Static)
        row = self._selected_row()
        # The dimmed look of a stale table: on the two widgets it styles (a class on the view restyled its ~80
        # widgets, ~140 rules matched, each time a field turned bad or good again)
        summary.set_class(self.state.stale, "-stale")
        self.table.set_class(self.state.stale, "-stale")
        if row is None:
            self._set_summary(summary, "", f"Fix the marked field to see the table: {self._first_error()}"
                              if self.state.stale else "")
            return
        spec, m = self.state.priced or self.state.spec, row.memory  # the spec the table's row was priced with
        pct = 100.0 * row.trainable_params / spec.total_params if spec.total_params else 0.0
        parts = [f"rank {row.rank}: {format_count(row.trainable_params)} trainable ({pct:.2f} % of the model)",
                 f"peak {format_bytes(m.total)} per GPU"]
        ref = self.state.reference
        if ref is not None:  # the saving of LoRA / QLoRA, as `lorplan plan` words it under its table
            words = bridge.saving_words(ref.total, m.total)
            parts[-1] += (f", {words} {'as' if words.startswith('about') else 'than'} full fine-tuning "
                          f"({format_bytes(ref.total)}, the last row)")
        # Every figure and name below is the table's (the last valid setup's), not the form's since: while a field
        # is red the form's budget, GPU or model may be another (it said "does NOT fit in 24.00 GiB (T4)"). The
        # free memory is the GPU's now (NVML's poll moves it) while the form still names the table's GPU; once it
        # names another, the table's GPU is not read any more: its free memory is its last reading, and said so
        # ("was free on it when last read"), not "free now" of a figure that is not.
        budget = self.state.table.budget_bytes
        free_now = self._form_budget_is_the_table_s()
        free = self.state.free_bytes if free_now else self.state.priced_free
        if budget:
            verdict = "fits" if row.fits else "does NOT fit"
            parts.append(f"{verdict} in {budget_named(budget, self.state.priced_label)}")
            if row.fits is False:
                hints = bridge.fit_hints(spec, self.state.setup, row, budget)
                parts.append("to fit: " + ("; ".join(hints) if hints else
                                           "no single change of this setup is enough: pick a larger GPU"))
            else:
                if free is not None and m.total > free:
                    parts.append(f"⚠ but only {format_bytes(free)} is free now (other processes use the GPU)"
                                 if free_now else
                                 f"⚠ but only {format_bytes(free)} was free on it when last read (other processes used it)")
                if row.max_micro_batch is not None:
                    parts.append(f"room for micro-batch {row.max_micro_batch}")
                if row.max_seq_len is not None:
                    parts.append(f"or sequences of {row.max_seq_len:,} tokens")
        else:
            parts.append("pick a GPU or type a budget to see what fits")
        tuning = self.state.priced_tuning
        if tuning is not None:
            pattern = f", rank_pattern {bridge.pattern_words(tuning.rank_pattern)}" if tuning.rank_pattern else ""
            parts.append(f"alpha {tuning.alpha:g}, lr {tuning.learning_rate:g}{pattern} from the {tuning.source}")
        text = " · ".join(parts)
        peak = bridge.peak_view(spec, self.state.setup, row.rank)
        text += (f"\npeak at {peak.words}; largest then: "
                 + " · ".join(f"{k} {format_bytes(v)}" for k, v in peak.terms[:6]))
        head = (self.state.priced_head_note,) if self.state.priced_head_note else ()
        for note in (*bridge.setup_notes(spec, self.state.setup, row.rank), *head):
            text += f"\nnote: {note}"
        self._set_summary(summary, text, f"⚠ showing the last valid table: {self._first_error()}{self._still_for()}"
                          if self.state.stale else "")

    def _still_for(self) -> str:
        """While the table is dimmed: the model and budget it is for, where the form names another since (a model
        chosen, a preset picked, a budget typed or emptied), else nothing."""
        priced, spec, table = self.state.priced, self.state.spec, self.state.table
        if priced is None or spec is None or table is None:
            return ""
        label = self.state.priced_label
        if priced.id == spec.id and self._form_budget_is_the_table_s():
            return ""
        budget = f"at {budget_named(table.budget_bytes, label)}" if table.budget_bytes else "with no GPU budget"
        return f" · the table is still for {priced.id} {budget}"

    def _form_budget_is_the_table_s(self) -> bool:
        """Whether the budget on the form (its size and name) is the one the table was priced at."""
        table = self.state.table
        return table is not None and (table.budget_bytes, self.state.priced_label) == (self.state.budget_bytes,
                                                                                     self.state.budget_label)

    def _first_error(self) -> str:
        """The message of the bad field being typed (else the first), which names it, and how many more are
        marked: said in the summary, beside the table, because at 80×24 the line under the field is off screen
        while the table is docked."""
        errors = self.state.errors
        focused = self.app.focused
        key = (focused.id or "") if focused is not None else ""
        key = key[2:] if key.startswith("f-") else key.replace("-", "_")  # f-micro_batch, gpu-budget
        messages = list(dict.fromkeys([*([errors[key]] if key in errors else []), *errors.values()]))
        if not messages:
            return "fix the field marked in red."
        more = f" (and {len(messages) - 1} more marked in red)" if len(messages) > 1 else ""
        return messages[0] + more

    def _set_summary(self, summary: Static, text: str, warning: str = "") -> None:
        """Show `text` under `warning` (a line above it while the table is stale); re-layout the screen only when
        the summary needs another number of lines (not per keystroke): like the table's columns, `text` only grows
        (blank lines keep a shorter text at the height already laid out) until another model is chosen. The
        warning's lines come and go with it: they never pad the text once the field is fixed (they did, and at
        the height the plain view just fits it overflowed by blank rows). `_summary_plain` keeps `text` as shown,
        its padding with it, for the rows the plain view needs (_plain_height)."""
        width = summary.content_region.width
        shown = f"{warning}\n{text}" if warning and text else warning or text
        if width <= 0:  # not laid out yet: its height at one column (hundreds of lines) would pad every later text
            self._summary_plain = text
            summary.update(shown, layout=True)
            self._summary_height = self._warning_height = -1
            return
        height = len(Text(text).wrap(self.app.console, width)) if text else 0
        if 0 < height < self._summary_height:
            text += "\n" * (self._summary_height - height)
            shown += "\n" * (self._summary_height - height)
            height = self._summary_height
        warned = len(Text(warning).wrap(self.app.console, width)) if warning else 0
        self._summary_plain = text
        summary.update(shown, layout=height != self._summary_height or warned != self._warning_height)
        self._summary_height, self._warning_height = height, warned

    def _announce(self) -> None:
        row = self._selected_row()
        if row is not None and not self.state.stale:
            spec = self.state.spec
            trust = self._trusted and bridge.asks_own_code(spec)  # only a model whose code is needed asks for it
            self.post_message(PlanChanged(PlanSnapshot(self.state.source or "", spec, self.state.setup,
                                                       row.rank, self.state.table, self.state.tuning, trust),
                                          self.query_one(SetupPanel).remembered(self.state.form,
                                                                                      self._seq_clamp)))

    def apply_seq_len(self, tokens: int) -> None:
        """Take a sequence length chosen elsewhere (the Data tab's suggestion): shown in the field, cut to the
        model's context as a typed one is, and re-planned once."""
        self._seq_clamp = None
        self.state.form = self.query_one(SetupPanel).show_seq_len(tokens)
        if self.state.spec is not None:
            self._fit_seq_len(self.state.spec)
        self.recompute()

    def apply_tuning(self, rank: int, tuning: Tuning) -> None:
        """Take a recommendation (the screen hands it down from the Recommend tab): select `rank`, typed into
        the custom rank field when the table has no such row, and keep `tuning` (alpha, learning rate, scaling,
        rank_pattern) for every snapshot, so the export writes it. Re-plans once."""
        self.state.tuning = tuning
        shown = {row.rank for row in self.state.table.rows} if self.state.table is not None else set()
        if rank not in shown - {self.state.custom_rank}:
            self.state.form = self.query_one(SetupPanel).show_custom_rank(rank)
        self.table.select_rank(rank)
        self.recompute()
