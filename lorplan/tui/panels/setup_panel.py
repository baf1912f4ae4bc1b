"""Setup panel: quantization, targets (from the real architecture), batch, sequence, optimizer, GPUs.

It only collects what the user typed (`FormValues`, posted up as SetupChanged) and shows messages per field;
validation lives in `setup_form` and the plan view decides what to recompute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from lorplan.core.errors import BadInput
from lorplan.core.vocab import FOUR_BIT_QUANTS, default_sharding
from lorplan.tui.help_topics import tooltip
from lorplan.tui.messages import SetupChanged
from lorplan.tui.panels.setup_form import (
    ATTENTION_CHOICES,
    MAX_GPUS,
    OPTIMIZER_CHOICES,
    QUANT_CHOICES,
    SHARDING_CHOICES,
    FormValues,
    attention_for_model,
    parse_int,
    sharding_for_gpus,
)
from lorplan.tui.widgets.checkbox import Checkbox
from lorplan.tui.widgets.field_input import FieldInput
from lorplan.tui.widgets.focus_within import FocusWithin
from lorplan.tui.widgets.select import Select

SHORTCUTS = ("all-linear", "attention", "mlp")


def _field(label: str, widget, topic: str):
    widget.tooltip = tooltip(topic)
    return Label(label, classes="field-label"), widget


class SetupPanel(FocusWithin, Vertical):
    """The setup form. Field ids are `f-<name>` with <name> as in FormValues."""

    def __init__(
        self,
        initial: FormValues | None = None,
        architecture: tuple[tuple[str, ...], Mapping[str, str], Mapping[str, tuple[str, ...]]] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        """`architecture` (module names, name -> role, preset -> names) composes the target boxes at once."""
        super().__init__(id=id)
        initial = initial or FormValues()
        self._auto_sharding = False  # the sharding field holds ddp because the GPU count went above 1, not a choice
        try:  # a session saves such a ddp as the form's default (remembered): set it again, as typing the count does
            sharding, self._auto_sharding = sharding_for_gpus(parse_int(initial.gpus, "GPUs", 1, MAX_GPUS),
                                                              initial.sharding, False)
            initial = replace(initial, sharding=sharding)
        except BadInput:
            pass  # build_setup marks the field
        self._initial = initial
        self._names, self._roles = (architecture[0], dict(architecture[1])) if architecture else ((), {})
        self._presets: dict[str, tuple[str, ...]] = dict(architecture[2]) if architecture else {}
        self._all_linear = True
        self._shown_errors: dict[str, str] | None = None
        self._auto_attention = False  # the attention field holds a model's default (eager on Gemma 2), not a choice
        # the opening setup's attention (the last session's) until one is picked in this session: it follows the
        # model as the saved checkpointing tick does (attention_for_model)
        self._attention_saved: str | None = initial.attention
        self._attention_echo: str | None = initial.attention  # the field's own Changed at mount: no choice
        # the checkpointing box holds the opening setup's tick (the last session's), not one made in this session;
        # and, while _checkpointing_cleared, that tick taken off for a model that cannot checkpoint
        self._checkpointing_saved = initial.grad_checkpointing
        self._checkpointing_cleared = False
        self.border_title = "Setup"

    def compose(self) -> ComposeResult:
        v = self._initial
        with Grid(id="setup-grid"):
            yield from _field("Quantization", Select(QUANT_CHOICES, value=v.quant, allow_blank=False, id="f-quant", compact=True), "quant")
            yield from _field("Optimizer", Select(OPTIMIZER_CHOICES, value=v.optimizer, allow_blank=False, id="f-optimizer", compact=True), "optimizer")
            yield from _field("Micro-batch", FieldInput(v.micro_batch, id="f-micro_batch", compact=True), "micro_batch")
            yield from _field("Seq length", FieldInput(v.seq_len, id="f-seq_len", compact=True), "seq_len")
            yield from _field("LoRA dropout", FieldInput(v.lora_dropout, id="f-lora_dropout", compact=True), "lora_dropout")
            yield from _field("Attention", Select(ATTENTION_CHOICES, value=v.attention, allow_blank=False, id="f-attention", compact=True), "attention")
            yield from _field("GPUs", FieldInput(v.gpus, id="f-gpus", compact=True), "gpus")
            yield from _field("Sharding", Select(SHARDING_CHOICES, value=v.sharding, allow_blank=False, id="f-sharding", compact=True), "gpus")
            yield from _field("Custom rank", FieldInput(v.custom_rank, placeholder="e.g. 12", id="f-custom_rank", compact=True), "custom_rank")
            yield from _field("Batches", Checkbox("padding mask", v.padding_mask, id="f-padding_mask", compact=True), "padding_mask")
        with Horizontal(id="options-row"):
            yield Label("Options", classes="field-label")
            # disabled from the start as on_mount's _sync_double_quant leaves it (a change after mount restyles it)
            yield Checkbox("double quant", v.double_quant, id="f-double_quant", compact=True,
                           disabled=v.quant not in FOUR_BIT_QUANTS)
            yield Checkbox("grad checkpointing", v.grad_checkpointing, id="f-grad_checkpointing", compact=True)
            yield Checkbox("DoRA", v.dora, id="f-dora", compact=True)
        with Horizontal(id="targets-row"):
            yield Label("Targets", classes="field-label")
            for name in SHORTCUTS:
                yield Button(name, id=f"shortcut-{name}", compact=True, classes="shortcut")
        with Grid(id="targets-boxes"):
            yield from self._target_boxes(self._names, None)
        # rows only while it says something: empty, it was a blank row in the box (and one more to scroll at 80x24)
        errors = Static("", id="setup-errors", classes="field-error")
        errors.display = False
        yield errors

    def on_mount(self) -> None:
        self.query_one("#f-double_quant").tooltip = tooltip("double_quant")
        self.query_one("#f-grad_checkpointing").tooltip = tooltip("grad_checkpointing")
        self.query_one("#f-dora").tooltip = tooltip("dora")
        for name in SHORTCUTS:
            self.query_one(f"#shortcut-{name}").tooltip = tooltip("targets")
        self._sync_double_quant()

    # -- targets -------------------------------------------------------------------------------------------
    def _target_boxes(self, names: tuple[str, ...], previous: set[str] | None) -> list[Checkbox]:
        widgets = []
        for name in names:
            ticked = previous is None or name in previous
            box = Checkbox(name, ticked, id=f"target-{name}", compact=True, classes="target")
            box.tooltip = f"{self._roles.get(name, 'other')} module {name!r}. " + tooltip("targets")
            widgets.append(box)
        return widgets

    async def set_architecture(self, names: tuple[str, ...], roles: Mapping[str, str],
                               presets: Mapping[str, tuple[str, ...]]) -> None:
        """Rebuild the target checkboxes from the model's real module names; keep ticks that still exist.
        `presets` says which names each preset button ticks (core's rule, lorplan.core.lora.preset_members)."""
        self._presets = dict(presets)
        if names == self._names and dict(roles) == self._roles and self.query(".target"):
            self._changed()  # same architecture (another size of the same family): keep the boxes as they are
            return
        previous = None if self._all_linear or not self._names else set(self.checked_targets())
        self._names, self._roles = names, dict(roles)
        boxes = self.query_one("#targets-boxes", Grid)
        await boxes.remove_children()
        widgets = self._target_boxes(names, previous)
        await boxes.mount_all(widgets)
        self._all_linear = all(box.value for box in widgets) if widgets else True
        self._changed()

    def checked_targets(self) -> tuple[str, ...]:
        return tuple(box.label.plain for box in self.query(".target").results(Checkbox) if box.value)

    def apply_shortcut(self, shortcut: str) -> None:
        """Tick the modules of a preset: all-linear, or the names core resolves attention / mlp to."""
        with self.prevent(Checkbox.Changed):
            for box in self.query(".target").results(Checkbox):
                box.value = shortcut == "all-linear" or box.label.plain in self._presets.get(shortcut, ())
        self._all_linear = shortcut == "all-linear"
        self._changed()

    @on(Button.Pressed, ".shortcut")
    def _shortcut(self, event: Button.Pressed) -> None:
        self.apply_shortcut(str(event.button.label))

    @on(Checkbox.Changed, ".target")
    def _target_toggled(self) -> None:
        boxes = list(self.query(".target").results(Checkbox))
        self._all_linear = bool(boxes) and all(box.value for box in boxes)
        self._changed()

    # -- every other field ----------------------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed, "#options-row Checkbox, #f-padding_mask")
    def _field_changed(self, event: Message) -> None:
        event.stop()
        if isinstance(event, Select.Changed) and event.select.id == "f-sharding":
            # chosen by hand: never changed behind the user's back (the field's own Changed at mount, showing the
            # ddp set again for a remembered GPU count, is no choice)
            self._auto_sharding = self._auto_sharding and event.value == default_sharding(2).value
        elif isinstance(event, Select.Changed) and event.select.id == "f-attention":
            # likewise, but for the field's own Changed at mount (the opening value, which may come after a model
            # has replaced it): picked by hand, kept, and marked on a model without it (bridge.rank_table)
            echo, self._attention_echo = event.value == self._attention_echo, None
            if not echo:
                self._auto_attention, self._attention_saved = False, None
        elif isinstance(event, Checkbox.Changed) and event.checkbox.id == "f-grad_checkpointing":
            # ticked or unticked by hand: the user's, kept for every model and marked on one that cannot checkpoint
            self._checkpointing_saved = self._checkpointing_cleared = False
        elif isinstance(event, Input.Changed) and event.input.id == "f-gpus":
            try:
                self._follow_gpu_count(parse_int(event.value, "GPUs", 1, MAX_GPUS))
            except BadInput:
                pass  # build_setup marks the field
        self._sync_double_quant()
        self._changed()

    def _follow_gpu_count(self, count: int) -> None:
        """Set the sharding field as `lorplan plan` defaults it for `count` GPUs (sharding_for_gpus)."""
        field = self.query_one("#f-sharding", Select)
        sharding, self._auto_sharding = sharding_for_gpus(count, str(field.value), self._auto_sharding)
        if sharding != field.value:
            with self.prevent(Select.Changed):
                field.value = sharding

    def show_gpu_count(self, count: int) -> FormValues:
        """The GPU panel picked `count` GPUs: show it in the GPUs field (and the sharding `lorplan plan` would
        default to, as when the field is typed). Posts nothing: the caller re-plans once with the values returned."""
        self._follow_gpu_count(count)
        with self.prevent(Input.Changed):
            gpus = self.query_one("#f-gpus", Input)
            if gpus.value.strip() != str(count):
                gpus.value = str(count)
        return self.values()

    def show_custom_rank(self, rank: int) -> FormValues:
        """Show `rank` in the custom rank field (a recommended rank the table has no row for). Posts nothing:
        the caller re-plans once with the values returned."""
        with self.prevent(Input.Changed):
            field = self.query_one("#f-custom_rank", Input)
            if field.value.strip() != str(rank):
                field.value = str(rank)
        return self.values()

    def show_seq_len(self, tokens: int) -> FormValues:
        """Show `tokens` in the sequence length field (a model whose context is shorter than the value there).
        Posts nothing: the caller re-plans once with the values returned."""
        with self.prevent(Input.Changed):
            field = self.query_one("#f-seq_len", Input)
            if field.value.strip() != str(tokens):
                field.value = str(tokens)
        return self.values()

    def follow_model_attention(self, supported: tuple[str, ...], default: str) -> tuple[FormValues, str | None]:
        """A model implementing the `supported` attentions was chosen: the attention field as `lorplan plan`
        defaults it for that model (attention_for_model: SDPA, the form's default, or the attention the opening
        setup saved, becomes `default` on a model without it, and comes back for the next one that has it); one
        picked in this session stays, and is marked on a model without it. Posts nothing: the caller re-plans once
        with the values returned, and says so when the second value is not None: the attention the model lacks,
        just replaced by `default`."""
        field = self.query_one("#f-attention", Select)
        wanted = self._attention_saved if self._attention_saved is not None else FormValues.attention
        attention, self._auto_attention = attention_for_model(str(field.value), supported, default,
                                                              self._auto_attention, self._attention_saved)
        changed = attention != field.value
        if changed:
            with self.prevent(Select.Changed):
                field.value = attention
        return self.values(), wanted if changed and self._auto_attention else None

    def follow_model_checkpointing(self, checkpoints: bool) -> tuple[FormValues, bool]:
        """A model whose class does (`checkpoints`) or does not implement gradient checkpointing was chosen. A box
        the opening setup ticked (the last session's, not touched in this one) follows it: unticked for a model
        that cannot checkpoint (CTRL), as its plan must go without, and ticked again for the next model that can.
        A box ticked or unticked by hand in this session is the user's and stays: the form marks it on such a
        model (bridge.rank_table, `lorplan plan --grad-checkpointing`'s refusal). Posts nothing: the caller
        re-plans once with the values returned, and says so when the second value is True (just unticked)."""
        if not self._checkpointing_saved:
            return self.values(), False
        box = self.query_one("#f-grad_checkpointing", Checkbox)
        self._checkpointing_cleared = not checkpoints
        changed = box.value != checkpoints
        if changed:
            with self.prevent(Checkbox.Changed):
                box.value = checkpoints
        return self.values(), changed and not checkpoints

    def remembered(self, values: FormValues, seq_cut: tuple[int, int] | None = None) -> FormValues:
        """`values` as the session keeps them (PlanChanged.form, the app's saved [setup]): a value the planner set
        on its own as what it stands for, so that the next session does not take it for the user's choice and
        plan every later model with it; that session sets it again where it applies. The opening setup's attention
        not picked again in this session as saved (a model without it had it replaced); an attention a model set
        (eager on Gemma 2, follow_model_attention) and a sharding the GPU count set (ddp, _follow_gpu_count) as
        the form's defaults; a sequence length cut to a model's context (`seq_cut`: the length the user
        had, and the one the field shows since, PlanView._fit_seq_len) as the user's length; the saved checkpointing
        tick taken off for a model that cannot checkpoint (follow_model_checkpointing) as ticked. Every other
        value, and one typed or picked by hand, as shown."""
        kept = {}
        if self._attention_saved is not None:
            kept["attention"] = self._attention_saved
        elif self._auto_attention:
            kept["attention"] = FormValues.attention
        if self._auto_sharding:
            kept["sharding"] = FormValues.sharding
        if self._checkpointing_cleared:
            kept["grad_checkpointing"] = True
        if seq_cut is not None and values.seq_len.strip() == str(seq_cut[1]):
            kept["seq_len"] = str(seq_cut[0])
        return replace(values, **kept) if kept else values

    def show_micro_batch(self, rows: int) -> FormValues:
        """Show `rows` in the micro-batch field (a model of another task loaded while the field held the other
        task's default). Posts nothing: the caller re-plans once with the values returned."""
        with self.prevent(Input.Changed):
            field = self.query_one("#f-micro_batch", Input)
            if field.value.strip() != str(rows):
                field.value = str(rows)
        return self.values()

    def focus_first(self) -> None:
        """Focus the first field (quantization)."""
        self.query_one("#f-quant").focus()

    def _sync_double_quant(self) -> None:
        quant = self.query_one("#f-quant", Select).value
        self.query_one("#f-double_quant", Checkbox).disabled = quant not in FOUR_BIT_QUANTS

    def values(self) -> FormValues:
        def text(field: str) -> str:
            return self.query_one(f"#f-{field}", Input).value

        def choice(field: str) -> str:
            return str(self.query_one(f"#f-{field}", Select).value)

        def flag(field: str) -> bool:
            return bool(self.query_one(f"#f-{field}", Checkbox).value)

        targets = ("all-linear",) if self._all_linear else self.checked_targets()
        return FormValues(
            quant=choice("quant"),
            double_quant=flag("double_quant"),
            targets=targets,
            micro_batch=text("micro_batch"),
            seq_len=text("seq_len"),
            grad_checkpointing=flag("grad_checkpointing"),
            optimizer=choice("optimizer"),
            attention=choice("attention"),
            lora_dropout=text("lora_dropout"),
            dora=flag("dora"),
            gpus=text("gpus"),
            sharding=choice("sharding"),
            custom_rank=text("custom_rank"),
            padding_mask=flag("padding_mask"),
        )

    def _changed(self) -> None:
        self.post_message(SetupChanged(self.values()))

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Mark bad fields (text, choice or flag: the grad checkpointing box on a model that cannot checkpoint)
        and list their messages under the form (empty mapping clears)."""
        if dict(errors) == self._shown_errors:
            return  # nothing changed: skip the restyle (this runs on every keystroke)
        self._shown_errors = dict(errors)
        for widget in self.query("Input, Select, Checkbox"):
            if (widget.id or "").startswith("f-"):
                widget.set_class(widget.id.removeprefix("f-") in errors, "-invalid")
        self.query_one("#targets-boxes").set_class("targets" in errors, "-invalid")
        line = self.query_one("#setup-errors", Static)
        line.update("\n".join(errors.values()))
        line.display = bool(errors)
