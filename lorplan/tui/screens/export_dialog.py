"""Export dialog: write the current plan as a plan file and in the trainers' formats.

Pushed by the app with a plan (bridge.Plan). The user ticks formats, names an output folder, reads what each
tool cannot express (the warnings), and writes. Existing files are listed and replaced only after an explicit
"Overwrite". The chosen formats are written as one atomic write, all or none (bridge.write_exports). Dismisses
with the list of paths written (None when cancelled). Imports no torch: the plan file writer and the exporters are pure Python.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from lorplan.core.errors import BadInput, LorplanError
from lorplan.core.units import counted, format_bytes
from lorplan.core.vocab import DataSchema, ExportFormat, TrainOn
from lorplan.tui import bridge
from lorplan.tui.widgets.checkbox import SpaceCheckbox

HERE = Path(__file__).resolve().parent
FORMATS = ("plan", *ExportFormat.values())  # the plan file itself, then every export
TITLES = bridge.export_titles()
OUTPUT_NAMES = {"plan": "plan.toml", **{f.value: f.file_name for f in ExportFormat}}


def choice_label(fmt: str) -> str:
    """A format's checkbox label: its title and the name it writes in the folder, so that the Unsloth choice shows
    its script, unsloth_train.py, beside the YAML names (peft's files go in a folder, peft/)."""
    name = OUTPUT_NAMES[fmt] + ("/" if fmt == ExportFormat.PEFT else "")
    return TITLES[fmt] if name in TITLES[fmt] else f"{TITLES[fmt]} ({name})"


def default_folder(plan) -> str:
    name = plan.model.source.rstrip("/").split("/")[-1] or "model"
    return f"lorplan-{name}-r{plan.lora.r}"


def trained_words(schema: str, train_on: str | None) -> str:
    """Which tokens the plan's data trains, as the dialog's data line says it: a classifier one label per
    example; plain text has no prompt to mask, so every token whatever train_on says (the Data tab's profile
    counts them all); pre-tokenized rows as their labels mask them, whatever train_on says (core.data.encode
    keeps them)."""
    if train_on is None:
        return "one label per example"
    if schema == DataSchema.TOKENIZED:
        return "loss where its labels say"
    if train_on == TrainOn.ALL or schema == DataSchema.TEXT:
        return "loss on every token"
    return "loss on completions"


class ExportDialog(ModalScreen[list[Path] | None]):
    """Modal export of `plan` (see module docstring)."""

    CSS_PATH = HERE / "export_dialog.tcss"
    # Enter writes from anywhere but a button (which it presses): Space ticks a format, so Enter on a format's
    # checkbox no longer unticks it.
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel"),
                Binding("enter", "write", "Write", id="export.write")]

    def __init__(self, plan, folder: str | None = None) -> None:
        super().__init__()
        self.plan = plan
        self._folder = folder or default_folder(plan)
        self._confirming: list[Path] = []

    def compose(self) -> ComposeResult:
        p = self.plan
        # the box scrolls on a short terminal, its status and buttons docked at its foot: at 80x24 a status that
        # lists the files to replace pushed the Overwrite button below the box's edge. The box takes no focus:
        # the first format's checkbox has it when the dialog opens (Space ticks it), and a focused field scrolls
        # into view
        with VerticalScroll(id="export-box", can_focus=False) as box:
            box.border_title = "Export plan"
            box.border_subtitle = "Space ticks · Enter writes · Esc cancels"
            summary = f"{p.model.source} · r={p.lora.r} · alpha={p.lora.alpha}"
            if p.estimate is not None:
                summary += f" · planned {format_bytes(p.estimate.total_bytes)} per GPU"
            d = p.data
            if bridge.has_placeholder_data(p):
                summary += f"\ndata: {d.path} (a placeholder: profile your dataset in the Data tab, or edit the file)"
            else:  # the dataset profiled in the Data tab
                trains = trained_words(d.schema, d.train_on)
                summary += f"\ndata: {d.path} · {d.schema} · {trains} · eval split {d.eval_split:g}"
            yield Static(summary, id="export-summary")
            for fmt in FORMATS:
                default = fmt in ("plan", "peft") or (fmt == "accelerate" and p.hardware.gpus > 1)
                yield SpaceCheckbox(choice_label(fmt), value=default, id=f"fmt-{fmt}")
            yield Label("Output folder")
            yield Input(self._folder, id="export-folder", placeholder="folder for the files")
            with VerticalScroll(id="export-warnings-scroll"):
                yield Static("", id="export-warnings")
            with Vertical(id="export-foot"):
                yield Static("", id="export-status", classes="-hidden")
                with Horizontal(id="export-buttons"):
                    yield Button("Write", id="export-write", variant="primary")
                    yield Button("Overwrite", id="export-overwrite", variant="error", classes="-hidden")
                    yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self._refresh_warnings()

    def chosen(self) -> list[str]:
        return [f for f in FORMATS if self.query_one(f"#fmt-{f}", SpaceCheckbox).value]

    def targets(self, folder: Path | None = None) -> dict[str, list[Path]]:
        """format -> the files it would write in `folder` (None: the chosen folder)."""
        folder = folder if folder is not None else self._folder_path()
        return {fmt: bridge.export_paths(self.plan, fmt, folder / OUTPUT_NAMES[fmt]) for fmt in self.chosen()}

    def _folder_path(self) -> Path:
        """The folder typed, `~` expanded; BadInput for one no file can be written under (a NUL character, the
        home folder of a user who does not exist), which stopped the planner with ValueError / RuntimeError."""
        typed = self.query_one("#export-folder", Input).value.strip()
        if "\x00" in typed:
            raise BadInput("Output folder: a path cannot hold a NUL character")
        try:
            return Path(typed).expanduser()
        except RuntimeError:  # "~nobody/plans": Python cannot find that user's home folder
            raise BadInput(f"Output folder: {typed!r} starts with the home folder of an unknown user") from None

    def _refresh_warnings(self) -> None:
        said = {fmt: bridge.export_messages(self.plan, fmt) for fmt in self.chosen()}  # one export per format
        lines = [f"{TITLES[fmt]}: {w}" for fmt, (warnings, _) in said.items() for w in warnings]
        # what `lorplan export` says in note: lines (a relative model.path written absolute), after the warnings
        notes = [f"{TITLES[fmt]}: note: {n}" for fmt, (_, found) in said.items() for n in found]
        box = self.query_one("#export-warnings", Static)
        box.update("\n".join([f"• {line}" for line in lines] if lines else [self._no_warnings()])
                   + "".join(f"\n• {note}" for note in notes))
        box.set_class(bool(lines), "-warn")

    def _no_warnings(self) -> str:
        """What the warnings box says when no chosen format leaves a setting out or changes one."""
        chosen = self.chosen()
        if not chosen:
            return "No format chosen."
        if len(chosen) == 1:
            return "This format carries every setting of the plan."
        return "Each chosen format carries every setting of the plan."

    def _status(self, text: str) -> None:
        status = self.query_one("#export-status", Static)
        status.update(text)
        status.set_class(not text, "-hidden")

    def _reset_confirmation(self) -> None:
        self._confirming = []
        self.query_one("#export-overwrite").set_class(True, "-hidden")
        self._status("")

    @on(SpaceCheckbox.Changed)
    def _format_changed(self) -> None:
        self._refresh_warnings()
        self._reset_confirmation()

    @on(Input.Changed, "#export-folder")
    def _folder_changed(self) -> None:
        self._reset_confirmation()

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export-write")
    @on(Input.Submitted, "#export-folder")
    def action_write(self) -> None:
        if not self.chosen():
            self._status("Choose at least one format.")
            return
        if not self.query_one("#export-folder", Input).value.strip():
            self._status("Give an output folder.")
            return
        refused: dict[str, list[str]] = {}  # why -> the formats it refuses: a model's refusal said once for all
        for fmt in self.chosen():
            if (why := bridge.export_refusal(self.plan, fmt)) is not None:
                refused.setdefault(why, []).append(TITLES[fmt])
        if refused:  # nothing is written, not even the other formats: the user unticks what cannot be written
            self._status("Not written: " + " · ".join(f"{', '.join(titles)}: {why}" for why, titles in refused.items()))
            return
        try:
            folder = self._folder_path()  # read once: what is checked for existing files is what is written
        except BadInput as exc:
            self._status(f"Not written: {exc}")
            return
        try:
            existing = [p for paths in self.targets(folder).values() for p in paths if p.exists()]
        except OSError as exc:  # a name over 255 bytes, a folder that may not be looked in: exists() raises
            self._status(f"Not written: Output folder: cannot look in {folder} ({exc.strerror or exc})")
            return
        if existing:
            self._confirming = existing
            # what to do first, the folder once: at 80x24 the status has four lines
            names = ", ".join(str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p) for p in existing)
            self._status(f"{counted(len(existing), 'file')} would be replaced: press Overwrite to replace "
                         f"{'it' if len(existing) == 1 else 'them'}, or choose another folder. In {folder}: {names}")
            self.query_one("#export-overwrite").set_class(False, "-hidden")
            return
        self._do_write(folder, force=False)

    @on(Button.Pressed, "#export-overwrite")
    def _overwrite(self) -> None:
        if self._confirming:
            self._do_write(self._folder_path(), force=True)

    def _do_write(self, folder: Path, force: bool) -> None:
        # every chosen format in one atomic write: a failure at the second (its folder a file, a full disk) leaves
        # the first unwritten too, so "Not written" is true of them all and a retry starts from what was there
        try:
            written = bridge.write_exports(self.plan, {fmt: folder / OUTPUT_NAMES[fmt] for fmt in self.chosen()},
                                           force=force)
        except (LorplanError, OSError) as exc:
            self._status(f"Not written: {exc}")
            return
        self.app.notify(f"Wrote {counted(len(written), 'file')} to {folder}")  # peft's go in a folder under it
        self.dismiss(written)
