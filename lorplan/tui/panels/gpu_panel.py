"""GPU panel: what NVML sees (refreshed in a thread worker), or a preset / typed budget without a GPU."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, WorkerState

from lorplan.core.errors import BadInput
from lorplan.core.units import format_bytes
from lorplan.tui import bridge
from lorplan.tui.help_topics import tooltip
from lorplan.tui.messages import (
    BudgetChanged,
    BudgetRejected,
    FreeMemoryChanged,
    GpuReportReceived,
    WorkerFailed,
)
from lorplan.tui.panels.setup_form import budget_words, parse_budget
from lorplan.tui.widgets.field_input import FieldInput
from lorplan.tui.widgets.focus_within import FocusWithin
from lorplan.tui.widgets.select import Select

REFRESH_SECONDS = 3.0
NO_GPU_REFRESH_SECONDS = 15.0


def _closest_preset(presets: tuple[tuple[str, int], ...], target: int = 24 * 1024**3) -> int | None:
    """Index of the preset nearest to 24 GiB, the commonest workstation card (the default before any choice)."""
    if not presets:
        return None
    return min(range(len(presets)), key=lambda i: abs(presets[i][1] - target))


class GpuPanel(FocusWithin, Vertical):
    """Devices with used / free / total; several can be picked. Without GPU: banner, presets, typed budget."""

    has_gpu: reactive[bool] = reactive(False, init=False)

    def __init__(self, source: bridge.GpuSource, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-no-gpu")  # the common SSH-without-driver case styles once
        self._source = source
        self._presets = bridge.gpu_presets()
        self._report: bridge.GpuReport | None = None  # None until the first NVML answer
        self._names: tuple[str, ...] = ()
        self._last_budget: BudgetChanged | None = None
        self._preset_behind: int | None = None  # the preset a typed budget replaced (_show_preset_in_use)
        self.border_title = "GPU"

    def compose(self) -> ComposeResult:
        yield Static("Reading GPUs through NVML …", id="gpu-banner")
        # the GPU list (#gpu-list) is mounted here when NVML first reports GPUs (_gpu_list): without a driver,
        # the common case over SSH, it is never shown
        yield Static("", id="gpu-usage")
        yield Static("", id="gpu-note")  # order_note: CUDA programs may number these GPUs otherwise
        with Horizontal(id="gpu-budget-row"):
            yield Select(
                [(f"{label} ({format_bytes(size, 0)})" if "GiB" not in label and "GB" not in label else label, i)
                 for i, (label, size) in enumerate(self._presets)],
                prompt="preset GPU",
                id="gpu-preset",
                compact=True,
                value=Select.NULL if _closest_preset(self._presets) is None else _closest_preset(self._presets),
            )
            yield FieldInput(placeholder="or type 24GiB", id="gpu-budget", compact=True)
        yield Static("", id="gpu-error", classes="field-error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(WorkerFailed(event.worker.name, event.worker.error))

    def on_mount(self) -> None:
        self.query_one("#gpu-preset").tooltip = tooltip("gpu")
        self.query_one("#gpu-budget").tooltip = tooltip("gpu")
        # The first query runs in the worker too: initialising NVML can take a while on a GPU machine and the
        # first frame should not wait for it.
        self.refresh_gpus()

    def _gpu_list(self) -> SelectionList[int]:
        """The list of GPUs to pick, mounted under the banner the first time it is needed."""
        found = self.query("#gpu-list")
        if found:
            return found.first(SelectionList)
        selections = SelectionList[int](id="gpu-list", compact=True)
        selections.tooltip = tooltip("gpu")
        self.mount(selections, after="#gpu-banner")
        return selections

    def watch_has_gpu(self, has_gpu: bool) -> None:
        self.set_class(not has_gpu, "-no-gpu")

    @work(thread=True, exclusive=True, group="gpu-poll", exit_on_error=False)
    def refresh_gpus(self) -> None:
        """Read NVML again, in a thread worker: it never touches widgets, it posts the report."""
        self.post_message(GpuReportReceived(self._source()))

    def on_gpu_report_received(self, message: GpuReportReceived) -> None:
        report = message.report
        if self._report is None:
            self.set_interval(REFRESH_SECONDS if report.gpus else NO_GPU_REFRESH_SECONDS, self.refresh_gpus)
        self._report = report
        self.has_gpu = bool(report.gpus)
        note = self.query_one("#gpu-note", Static)  # one line, cut to the panel's width; whole in its tooltip
        note.update(report.note or "")
        note.tooltip = report.note
        note.display = bool(report.gpus and report.note)
        if report.gpus:
            names = tuple(f"{g.index}: {g.name}" for g in report.gpus)
            if names != self._names:
                self._names = names
                selections = self._gpu_list()
                selections.clear_options()
                selections.add_options(
                    Selection(name, gpu.index, i == 0) for i, (name, gpu) in enumerate(zip(names, report.gpus, strict=True))
                )
            lines = [
                f"{g.index}: {format_bytes(g.used_bytes, 1)} used · {format_bytes(g.free_bytes, 1)} free · "
                f"{format_bytes(g.total_bytes, 1)}"
                for g in report.gpus
            ]
            self.query_one("#gpu-usage", Static).update("\n".join(lines))
            self._emit_gpu_selection()
        else:
            self._names = ()
            self.query_one("#gpu-banner", Static).update(
                f"No GPU visible ({report.reason}). Plan for a preset GPU or type a memory budget."
            )
            self._emit_budget()

    @on(SelectionList.SelectedChanged, "#gpu-list")
    def _on_gpu_selection(self) -> None:
        self._emit_gpu_selection()

    def _emit_gpu_selection(self) -> None:
        if self._report is None:
            return
        chosen = set(self._gpu_list().selected)
        gpus = [g for g in self._report.gpus if g.index in chosen]
        if not gpus:
            self._post_budget(BudgetChanged(None, None, "no GPU picked"))
            return
        smallest = min(gpus, key=lambda g: g.total_bytes)
        label = smallest.name if len(gpus) == 1 else f"{len(gpus)} × {smallest.name}"
        free = min(g.free_bytes for g in gpus)
        self._post_budget(BudgetChanged(smallest.total_bytes, len(gpus), label, free))

    def _post_budget(self, message: BudgetChanged) -> None:
        """Tell the plan when the budget really changed (re-planned); the 3-second poll mostly moves the free memory
        alone, which is told as that (FreeMemoryChanged: the summary's "is free now" follows it, nothing is
        re-planned). A change of free memory under 1 GiB was not told at all, and the summary said "only 8.00 GiB
        is free now" beside the panel's 8.9 GiB free."""
        last = self._last_budget
        self._last_budget = message
        if last is None or (message.budget_bytes, message.gpu_count, message.label) != (
                last.budget_bytes, last.gpu_count, last.label):
            self.post_message(message)
        elif message.free_bytes != last.free_bytes:
            self.post_message(FreeMemoryChanged(message.free_bytes))

    @on(Select.Changed, "#gpu-preset")
    def _on_preset(self, event: Select.Changed) -> None:
        # the user's pick (the blank one too) replaces the preset a typed budget hid: emptying the field later
        # must not bring that one back (_show_preset_in_use changes the value without this message)
        self._preset_behind = None
        if event.value is not Select.NULL:
            budget = self.query_one("#gpu-budget", Input)
            if budget.value:
                with budget.prevent(Input.Changed):
                    budget.value = ""
        self._emit_budget()

    @on(Input.Changed, "#gpu-budget")
    def _on_budget_typed(self, event: Input.Changed) -> None:
        self._show_preset_in_use(bool(event.value.strip()))
        self._emit_budget()

    def _show_preset_in_use(self, typed: bool) -> None:
        """A typed budget replaces the preset: the preset's line then shows its prompt, not a card the plan no
        longer uses (it read "RTX-3090 (24 GiB)" beside a typed 12GiB); emptying the field brings the card back."""
        preset = self.query_one("#gpu-preset", Select)
        if typed and preset.value is not Select.NULL:
            self._preset_behind = preset.value
            with preset.prevent(Select.Changed):
                preset.value = Select.NULL
        elif not typed and preset.value is Select.NULL and self._preset_behind is not None:
            with preset.prevent(Select.Changed):
                preset.value = self._preset_behind
        if not typed:
            self._preset_behind = None

    def _emit_budget(self) -> None:
        if self._report is None or self.has_gpu:
            return  # no NVML answer yet, or real GPUs: their selection sets the budget
        typed = self.query_one("#gpu-budget", Input)
        error = self.query_one("#gpu-error", Static)
        if typed.value.strip():
            try:
                size = parse_budget(typed.value)
            except BadInput as exc:
                typed.add_class("-invalid")
                error.update(str(exc))
                # the plan keeps its last valid table, marked stale; the next valid budget is posted even when
                # it equals the last one (it ends the stale state)
                self._last_budget = None
                self.post_message(BudgetRejected(str(exc)))
                return
            typed.remove_class("-invalid")
            error.update("")
            self._post_budget(BudgetChanged(size, None, budget_words(typed.value, size)))
            return
        typed.remove_class("-invalid")
        error.update("")
        preset = self.query_one("#gpu-preset", Select)
        if preset.value is Select.NULL:
            self._post_budget(BudgetChanged(None, None, "no budget"))
        else:
            label, size = self._presets[int(preset.value)]
            self._post_budget(BudgetChanged(size, None, label))

    @property
    def ready(self) -> bool:
        """True once NVML answered (a GPU list or the reason there is none)."""
        return self._report is not None

    @property
    def presets(self) -> tuple[tuple[str, int], ...]:
        return self._presets

    def select_preset(self, label: str) -> None:
        """Pick a preset by its label (used by the command palette and tests). Raises KeyError if unknown."""
        for i, (name, _size) in enumerate(self._presets):
            if name == label:
                self.query_one("#gpu-budget", Input).value = ""
                self.query_one("#gpu-preset", Select).value = i
                return
        raise KeyError(label)
