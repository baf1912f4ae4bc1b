"""The Data tab: pick a dataset, profile it in a thread worker, see its figures and a length histogram.

The screen calls `set_context(model_source, seq_len, classifier)` when the plan's model or sequence length
changes: a new model re-profiles with that model's tokenizer the file profiled (or being profiled) as it was asked
for, whatever the fields hold meanwhile; a new sequence length only recomputes truncation and
padding from the length histogram already in hand (no re-tokenizing). "Train on prompts too" re-profiles with
every token trained; it is hidden for a sequence classifier, which trains one label per example, and so are the
figures only a causal LM trains by (trained tokens, packing); it is disabled, saying why, once the profile finds
plain text or tokenized rows, where it changes no trained token, while the path field holds that file (another file
typed is offered as pending until its profile says). After each profile the panel posts DatasetProfiled
with what an exported plan's [data] table takes (`plan_data()`). Profiling runs in a thread worker (exclusive: a new run cancels the previous one) that posts
replaceable progress messages; it never touches widgets. Imports no torch/transformers: the tokenizer is loaded
inside the worker.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from lorplan.core.errors import BadInput, UnknownSchema
from lorplan.core.units import counted
from lorplan.core.vocab import DataSchema, Task
from lorplan.tui import bridge
from lorplan.tui.layout import narrow_terminal
from lorplan.tui.messages import (
    DatasetProfiled,
    ProfileAsk,
    ProfileFailed,
    ProfileFinished,
    ProfileProgressed,
    SeqLenChosen,
)
from lorplan.tui.plot_ticks import nice_ticks, tick_label
from lorplan.tui.state import PlanData
from lorplan.tui.widgets.checkbox import Checkbox
from lorplan.tui.widgets.focus_within import FocusWithin

HERE = Path(__file__).resolve().parent
SCHEMA_OPTIONS = [(name, name) for name in DataSchema.values()]
HIST_BINS = 30
LABELS_SHOWN = 6  # classes named in the figures; the rest are counted
NOTE_WIDTH = 64  # the label notes fit the figures column beside the histogram (66, less a scrollbar) on one line
# a causal LM's plan never sees the labels: in the narrow layout, where core's note (DataProfile.labels_unused_note)
# would push the skipped rows off an 80x24 screen, the labels line says it in place of the largest class's share
LABELS_UNUSED_SHORT = "(ignored by a causal LM)"
TRAIN_ALL_LABEL = "train on prompts too (off: loss on completions and assistant turns)"
# While the fields hold a file not profiled yet: the choice waits for its profile (one row at 80x24)
TRAIN_ALL_PENDING_LABEL = "train on prompts too (pending: applies once the typed file is profiled)"
# Schemas whose trained tokens the checkbox cannot change (core.data.encode): plain text has no prompt, every token
# is trained; pre-tokenized rows keep their own labels either way. (label while disabled, tooltip)
NO_TRAIN_ALL_CHOICE = {
    DataSchema.TEXT: ("train on prompts too: plain text has no prompt (every token trains)",
                      "Plain text has no prompt to mask: every token is trained whichever way this is set."),
    DataSchema.TOKENIZED: ("train on prompts too: tokenized rows' labels decide what trains",
                           "Pre-tokenized rows keep their own labels (-100 is never trained; no labels, every "
                           "token is) whichever way this is set."),
}
TRAIN_ALL_TOOLTIP = (
    "Off: the loss is on completions and assistant turns (prompts masked), as axolotl and LLaMA-Factory "
    "do by default. On: every token is trained. Exported plans say which (data.train_on).")
# Added while the field holds a file not profiled yet: its schema, found by the profile, decides.
PENDING_TOOLTIP = (" Whether it changes anything for the file in the field is known once it is profiled (not for "
                   "plain text or tokenized rows).")


class _Cancelled(Exception):
    pass


def histogram_bins(hist: tuple[tuple[int, int], ...], bins: int = HIST_BINS) -> tuple[list[float], list[int], float]:
    """(bin centres, counts, bin width) over 0..max length, from the (length, examples) pairs of a profile."""
    top = max((length for length, _ in hist), default=1) or 1
    width = max(1.0, top / bins)
    counts = [0] * bins
    for length, n in hist:
        counts[min(int(length / width), bins - 1)] += n
    return [width * (i + 0.5) for i in range(bins)], counts, width


def short_warning(balance) -> str | None:
    """The label warning in one line of an 80-column terminal: an imbalance keeps every figure of the full
    sentence (both classes' examples, the ratio, the accuracy of always answering the largest class) and leaves
    out its advice, which wrapped it to 3 lines and pushed the skipped rows off the 80x24 screen."""
    if not balance.warning or len(balance.counts) < 2:
        return balance.warning  # none, or a single label: nothing to compare, the sentence is short
    (top, most), (low, least) = balance.counts[0], balance.counts[-1]
    total = sum(n for _label, n in balance.counts)
    # The figures computed as core's sentence computes them (not from the rounded ratio), so the two agree.
    return (f"imbalanced {most / least:.1f} to 1: {bridge.label_count(top, most)}, "
            f"{bridge.label_count(low, least)}; always {top!r} scores {most / total:.1%}")


def labels_text(balance, narrow: bool = False, unused: bool = False) -> list[str]:
    """The label balance of a classification dataset as figure lines: examples per class and the warning (its
    one-line form when `narrow`). `unused`: the planner's model is a causal LM, which never sees the labels; the
    narrow layout says so on the labels line (LABELS_UNUSED_SHORT), the wide one under it (figures_text), and the
    warning, a classifier's advice, is left out."""
    shown = " · ".join(bridge.label_count(label, n) for label, n in balance.counts[:LABELS_SHOWN])
    more = len(balance.counts) - LABELS_SHOWN
    n = len(balance.counts)
    tail = LABELS_UNUSED_SHORT if unused and narrow else f"(largest {balance.majority_fraction:.1%})"
    lines = [f"labels     {n} class{'' if n == 1 else 'es'}: {shown}{f' · … {more} more' if more > 0 else ''} "
             f"{tail}"]
    if balance.warning and not unused:
        lines.append(f"⚠ {short_warning(balance) if narrow else balance.warning}")
    return lines


def _fit(line: str) -> str:
    """A line cut to NOTE_WIDTH with an ellipsis (a long label value; `lorplan profile` prints it whole)."""
    return line if len(line) <= NOTE_WIDTH else line[: NOTE_WIDTH - 1] + "…"


def ids_line(balance) -> str | None:
    """When the labels mix integer class ids and names, the ids the names take and the head that needs in one
    line (core's note, `lorplan profile`'s `note: labels mix …`): `class ids  'spam' → 6: names follow integer 5
    · head of 7`. None for labels of one kind."""
    if balance.note is None:
        return None
    names, top, head = bridge.mixed_label_ids(balance)
    (first, lo), (last, hi) = names[0], names[-1]
    shown = f"{first!r} → {lo:,}" + (f" … {last!r} → {hi:,}" if len(names) > 1 else "")
    line = f"class ids  {shown}: names follow integer {top:,} · head of {head:,}"
    if len(line) > NOTE_WIDTH and len(names) > 1:  # long names, or two of them: the range of ids they take
        line = f"class ids  {len(names):,} names take {lo:,}–{hi:,}, after integer {top:,} · head of {head:,}"
    return _fit(line)


def refusal_line(p: bridge.DataProfile) -> str | None:
    """Why a classifier refuses the profile's labels (core's DataProfile.label_refusal, which lorplan plan and
    train stop with) in one line: the first label that is no class label, with its line and how many rows have
    one, or a name that reads as a number beside integer ids. None when a classifier takes them."""
    if p.label_problems:
        first = p.label_problems[0]
        rows = f" ({p.bad_labels:,} rows)" if p.bad_labels > 1 else ""
        return _fit(f"⚠ refused: line {first.line}: {first.reason.split('; ')[0]}{rows}")
    if p.labels is not None and p.labels.refused is not None:
        name = bridge.ambiguous_label(p.labels)
        return _fit(f"⚠ refused: name {name!r} reads as a number beside integer ids")
    return None


def figures_text(p: bridge.DataProfile, narrow: bool = False, classifier: bool = False,
                 model: str | None = None) -> str:
    """The profile's figures as a few aligned lines (`narrow`: for the panel under 110 columns). `classifier`:
    the data is for a sequence classifier (one label per example, each example its own right-padded sequence):
    the lines only a causal LM trains by (trained tokens, packing) are left out, as `lorplan profile` does, and
    the rows a classifier trains without (no label) are named, or data with no label at all is warned of. The
    skipped figure counts the rows a classifier's profile left out for having no label (`skipped 2 (2
    unlabelled)`), beside the broken rows listed under the figures. `model`: the planner's model (None: none
    chosen yet); when it is a causal LM and the data has labels (class labels or not: 0.3), `lorplan plan`'s note
    that the plan never sees them follows the labels, whole (wrapped), naming the model as `lorplan plan` does
    (a folder by its short name: bridge.model_name), and what only a classifier needs to hear of the labels (an
    imbalance, the ids names take, a refusal) is left out, as `lorplan profile --model` leaves it out."""
    est = " (est.)" if p.estimated else ""
    packing = f"; packing: {counted(p.padding.packed_sequences, 'sequence')}"
    # a classifier's rows without a label, which its profile leaves out, are skipped rows too (the status line's
    # note says which): "skipped 0" beside it read as a contradiction, and the note goes with the next status
    skipped = p.skipped_figure()  # as `lorplan profile` prints it
    lines = [
        f"schema     {p.schema} · {p.format}",
        f"examples   {p.examples:,}  skipped {skipped}  duplicates {p.duplicates:,}",
        f"tokens     {p.tokens:,}{est}",
        *([] if classifier else [f"trained    {p.trained_tokens:,}{est}"]),
        f"lengths    p50 {p.lengths.p50:,} · p90 {p.lengths.p90:,} · p95 {p.lengths.p95:,} · "
        f"p99 {p.lengths.p99:,} · max {p.lengths.max:,}",
        f"seq len    {p.seq_len:,}: {counted(p.truncated_tokens, 'token')} truncated{est}",
        f"padding    {p.padding.pad_fraction:.1%} of the padded tokens are padding{'' if classifier else packing}",
        f"suggested  seq len {p.suggested_seq_len:,} · split {p.split.train:,} train / {p.split.eval:,} eval",
    ]
    if p.sample is not None and p.sample.size < p.sample.population:
        lo, hi = p.sample.tokens_interval
        lines.append(f"sample     {p.sample.size:,} of {p.sample.population:,}; tokens 95% {lo:,}–{hi:,}")
    unused = p.labels_unused_note(p.path, bridge.model_name(model), Task.CAUSAL_LM) \
        if names_model(p, classifier, model) else None
    if p.labels is not None:  # a classification dataset
        balance = labels_text(p.labels, narrow, unused=unused is not None)
        lines.append(balance[0])
        if unused is not None and not narrow:  # under the classes it names, whole (wrapped)
            lines.append(f"note: {unused}")
        lines += balance[1:]
        if unused is None and (ids := ids_line(p.labels)) is not None:
            lines.append(ids)
    elif unused is not None:  # no class label (0.3, regression targets perhaps): nothing lorplan plans reads them
        lines.append(f"note: {unused}" if not narrow else
                     f"labels     {counted(p.bad_labels, 'row')}, none a class label {LABELS_UNUSED_SHORT}")
    if classifier and (gap := p.unlabelled_line()) is not None:  # as `lorplan profile` says it, whole (wrapped)
        kind, line = gap
        lines.append(f"⚠ {line}" if kind == "warning" else f"note: {line}")
    if unused is None and (refused := refusal_line(p)) is not None:  # a classifier's refusal, not a causal LM's
        lines.append(refused)
    return "\n".join(lines)


def names_model(p: bridge.DataProfile, classifier: bool, model: str | None) -> bool:
    """figures_text names `model` in the note that a causal LM never sees the labels: `p` has a label column
    (class labels, or labels that are none: 0.3) and the planner's model is one, not a classifier."""
    return model is not None and not classifier and (p.labels is not None or p.bad_labels > 0)


def histogram_titles(seq_len: int, on_chart: bool) -> tuple[str, ...]:
    """The histogram's title, longest first: the plot shows the longest that fits its width."""
    n = f"{seq_len:,}"
    if on_chart:
        return (f"example length (tokens); red line: seq len {n}", f"length (tokens); red line: seq len {n}",
                f"red line: seq len {n}", f"seq len {n}")
    return (f"example length (tokens); seq len {n} is off the chart, beyond every example",
            f"length (tokens); seq len {n} is beyond every example", f"length (tokens); seq len {n} off chart",
            f"seq len {n}: beyond every example", f"seq len {n} (off chart)")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class LengthHistogram(PlotextPlot):
    """The length histogram. plotext drops a title wider than its plot, so this one draws the longest of
    `titles` that fits the width it has, and cuts the shortest when none does."""

    titles: tuple[str, ...] = ()
    _titled: tuple | None = None  # (size, titles) the title was chosen for

    def set_titles(self, titles: tuple[str, ...]) -> None:
        self.titles, self._titled = titles, None
        self._fit_title()
        self.refresh()

    def render(self):
        self._fit_title()  # the width may have changed since
        return super().render()

    def _fit_title(self) -> None:
        width, height = self.size
        if not self.titles or width <= 0 or self._titled == (self.size, self.titles):
            return
        self._titled = (self.size, self.titles)
        self.plt.plotsize(width, height)
        for title in self.titles:
            self.plt.title(title)
            if title in _ANSI.sub("", self.plt.build()).split("\n", 1)[0]:
                return
        short = self.titles[-1]  # narrower than the shortest: cut it (the axes take about 8 columns)
        room = max(width - 8, 1)
        self.plt.title(short if len(short) <= room else short[:room - 1] + "…")


class DataBody(ScrollableContainer):
    """The figures beside the histogram; on a narrow terminal the figures above it, scrolling."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0  # a Tab stop only when there is something to scroll


class DataLeft(VerticalScroll):
    """The figures and skipped rows. Beside the histogram (wide layout) this column scrolls on its own: on a short
    terminal (120x24) the skipped rows under the figures were cut off with no way to reach them. Under the
    histogram (narrow layout) it is as tall as its text and the body around it scrolls instead."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0  # a Tab stop only when there is something to scroll


class DataPanel(FocusWithin, Widget):
    """Dataset profile: path, schema, run, progress, figures, problems and a length histogram."""

    DEFAULT_CSS = (HERE / "data_panel.tcss").read_text(encoding="utf-8")

    def __init__(self, *, initial_path: str | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        """`initial_path`: the dataset of the last session, put in the path field (not profiled until asked)."""
        super().__init__(name=name, id=id or "data-panel", classes=classes)
        self._initial_path = initial_path
        self.model_source: str | None = None
        self.seq_len: int | None = None
        # the plan's ModelSpec (set_context), whose context the profile counts against, as lorplan plan checks it
        self.spec = None
        self.classifier = False  # the planner's model is a sequence classifier (set_context)
        self.profile: bridge.DataProfile | None = None
        # the last profile asked for (the one running, or self.profile's): the only one whose answer is read
        self._profiled: ProfileAsk | None = None
        self._asks = 0  # profiles asked for so far (ProfileAsk.generation)
        self._profiled_train_all = False  # the masking rule of self.profile
        self._profile_asked: tuple[str, str] | None = None  # the (path, schema) typed for self.profile
        self._shown: bridge.DataProfile | None = None  # the profile the figures show (self.profile re-cut)
        self._pass = ""  # the status of the pass a run is in, where a large JSON file is read in two

    def compose(self) -> ComposeResult:
        with Horizontal(id="data-row"):
            yield Input(self._initial_path or "",
                        placeholder="dataset file or folder ⏎",  # the formats: in the status line (it wraps)
                        id="data-path", compact=True)
            yield Select(SCHEMA_OPTIONS, value="auto", allow_blank=False, id="data-schema", compact=True)
            yield Button("Profile", id="data-run", variant="primary", compact=True)
        yield Checkbox(TRAIN_ALL_LABEL, False, id="data-train-all", compact=True)
        yield ProgressBar(total=100, show_eta=False, id="data-progress")
        yield Static(f"Last time: {self._initial_path}. Press Profile (or Enter in the field) to profile it again."
                     if self._initial_path else
                     ("Pick a dataset and press Profile: a JSONL, CSV or Parquet file, a folder of .txt files or a "
                      "datasets save_to_disk folder."), id="data-status")
        with DataBody(id="data-body"):
            with DataLeft(id="data-left"):
                yield Static("", id="data-figures")
                yield Static("", id="data-problems")
                # shown when the profile suggests another sequence length than the plan's: one press takes it
                yield Button("", id="data-use-seq", compact=True)
            yield LengthHistogram(id="data-hist")

    def on_resize(self) -> None:
        narrow = narrow_terminal(self)  # the histogram goes under the figures, at the panel's width
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            if self._shown is not None:  # the label warning has a shorter form for the narrow layout
                self._draw_figures(self._shown)

    def on_mount(self) -> None:
        self.border_title = "Dataset"
        self.query_one("#data-path").tooltip = "A file or folder; Enter profiles it"
        self._offer_train_all()

    # -- public API used by the screen --------------------------------------------------------------------
    def set_context(self, model_source: str | None, seq_len: int, classifier: bool = False, spec=None) -> None:
        """The planner's model and sequence length changed: re-profile for a new model (the file being profiled, or
        the profiled one, with its schema and masking rule: not the fields' text), re-cut for a seq len.
        `classifier`: the model is a sequence classifier, which trains one label per example, so the choice of
        trained tokens (the train-on-prompts checkbox) is not offered. `spec`: the plan's ModelSpec, whose context
        caps the profile's lengths (a fallback spec's class default, which config.json alone does not give); None:
        the context config.json gives."""
        model_changed = model_source != self.model_source
        self.model_source, self.seq_len, self.spec = model_source, seq_len, spec
        redraw = classifier != self.classifier and self._shown is not None
        self.classifier = classifier
        self.query_one("#data-train-all", Checkbox).display = not classifier
        if redraw:  # the causal-LM-only lines come or go with the kind of model
            self._draw_figures(self._shown)
        # A new model: the file being profiled, or else the profiled one, is profiled again as it was asked for
        # (schema, masking rule), never the text in the fields now (half a path, perhaps, or one that failed).
        if model_changed and self.has_class("-running") and self._profiled is not None:
            self._again(self._profiled.path, self._profiled.schema, self._profiled.train_all)
            return
        if self.profile is None:
            return
        if model_changed and self._profile_asked is not None:
            self._again(*self._profile_asked, self._profiled_train_all)
        elif seq_len != self.profile.seq_len:
            self._show(self.profile.at_seq_len(seq_len))
        elif self._shown is not None:  # the suggestion's button follows the plan's seq len
            self._draw_figures(self._shown)

    @property
    def train_all(self) -> bool:
        """Every token trained (the checkbox, a causal LM's choice); never for a classifier."""
        return not self.classifier and bool(self.query_one("#data-train-all", Checkbox).value)

    def plan_data(self) -> PlanData | None:
        """The last profile as a plan's [data] table (absolute path, detected schema), or None before one."""
        p = self.profile  # the last profile that finished: a later failed run leaves it (and its path) in place
        if p is None:
            return None
        total = p.split.train + p.split.eval
        return PlanData(path=str(Path(p.path).expanduser().resolve()), schema=p.schema,
                        train_on="all" if self._profiled_train_all else "completion",
                        eval_split=bridge.held_out_fraction(p.split.eval, total), profile=p)

    def start_profile(self) -> None:
        """Profile the path in the input with the chosen schema, model and sequence length."""
        path, schema = self._typed()
        if not path:
            self._status("Type a dataset path first.", error=True)
            return
        self._start(path, schema, self.train_all)

    def _again(self, path: str, schema: str, train_all: bool) -> None:
        """Profile `path` as `schema` again (a new model), with the masking rule it was asked for, `train_all`; the
        box's while the fields hold that file, as it speaks for it then (back from a classifier, whose profile
        masked prompts whatever the hidden box held, a box ticked beside the file applies again)."""
        self._start(path, schema, self.train_all if self._typed() == (path, schema) else train_all)

    def _start(self, path: str, schema: str, train_all: bool) -> None:
        """Profile `path` as `schema` with the planner's model and sequence length, every token trained when
        `train_all` (never for a classifier)."""
        train_all = train_all and not self.classifier
        self.set_class(True, "-running")
        self.query_one("#data-progress", ProgressBar).update(total=100, progress=0)
        self._status(f"Profiling {path} …")
        self._pass = ""
        self._asks += 1
        self._profiled = ProfileAsk(path, schema, self.model_source, train_all, self._asks)
        # the session's consent (`lorplan --trust-remote-code`) to run a tokenizer's own code, read here, not in the thread
        self._run(self._profiled, self.seq_len, bridge.session_trusts(self.app), self.classifier, self.spec)

    # -- worker ---------------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="data-profile")
    def _run(self, asked: ProfileAsk, seq_len: int | None, trusted: bool = False,
             classifier: bool = False, spec=None) -> None:
        """Profile `asked` (a thread). classifier: the plan's model is a sequence classifier (set_context), so
        the profile counts the labelled rows it trains on, whatever its config alone would tell."""
        worker = get_current_worker()
        path, schema = asked.path, asked.schema

        def progress(done: int, total: int, unit: str) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            self.post_message(ProfileProgressed(done, total, unit, asked.generation))

        try:
            profile = bridge.profile_dataset(path, model=asked.model, schema=None if schema == "auto" else schema,
                                             seq_len=seq_len, mask=not asked.train_all, progress=progress,
                                             trust_remote_code=trusted, classifier=classifier, spec=spec)
        except _Cancelled:
            return
        except BadInput as exc:
            if worker.is_cancelled:  # superseded by a later run (exclusive): its failure is no news
                return
            hint = " (or choose it in the schema list)" if isinstance(exc, UnknownSchema) else ""
            self.post_message(ProfileFailed(f"{exc}{hint}", path, asked))
            return
        if not worker.is_cancelled:  # cancelled after this, the panel drops the message (not its last ask)
            self.post_message(ProfileFinished(profile, asked))

    # -- handlers --------------------------------------------------------------------------------------------
    @on(Button.Pressed, "#data-run")
    @on(Input.Submitted, "#data-path")
    def _run_pressed(self) -> None:
        self.start_profile()

    def on_profile_progressed(self, message: ProfileProgressed) -> None:
        if message.ask is not None and (self._profiled is None or message.ask != self._profiled.generation):
            return  # posted just before a later ask superseded its run: that run's bar and pass are not this one's
        if message.total > 0:
            self.query_one("#data-progress", ProgressBar).update(total=message.total, progress=message.done)
        # a large JSON file is read twice and the bar fills twice: the status names the pass
        path = self._profiled[0] if self._profiled else ""
        if bridge.checking_pass(message.unit):
            text = f"Profiling {path} … checking the file (pass 1 of 2)"
        elif self._pass:
            text = f"Profiling {path} … reading rows (pass 2 of 2)"
        else:
            return
        if text != self._pass and self.has_class("-running"):
            self._pass = text
            self._status(text)

    @on(Checkbox.Changed, "#data-train-all")
    def _train_all_changed(self) -> None:
        """The trained-token figures change: profile again the file in the fields when it is the one on screen or
        the one being profiled. With another file typed (half a path, perhaps, while a profile runs), the choice
        waits for that file's profile, and the typed path stays."""
        typed = self._typed()
        if ((self.has_class("-running") and self._profiled is not None and typed == self._profiled[:2])
                or (self.profile is not None and typed == self._profile_asked)):
            self.start_profile()

    def _typed(self) -> tuple[str, str]:
        """(path, schema) as the fields hold them now, as start_profile reads them."""
        return (self.query_one("#data-path", Input).value.strip(), str(self.query_one("#data-schema", Select).value))

    @on(Input.Changed, "#data-path")
    @on(Select.Changed, "#data-schema")
    def _file_changed(self) -> None:
        self._offer_train_all()
        box = self.query_one("#data-train-all", Checkbox)
        # Back on the profiled file after the choice was changed with another typed (it waited for that one's
        # profile): the box now speaks for this file, whose profile was made the other way, so it is made again.
        if (self.profile is not None and not self.has_class("-running") and self._typed() == self._profile_asked
                and not box.disabled and self.train_all != self._profiled_train_all):
            self.start_profile()

    def on_profile_finished(self, message: ProfileFinished) -> None:
        if message.asked != self._profiled:  # posted just before a later ask superseded it: not what is asked now
            return
        self.set_class(False, "-running", "-stale")
        profile = message.profile  # cut at the seq len of its ask: the plan's may have changed since
        if self.seq_len is not None and profile.seq_len != self.seq_len:
            profile = profile.at_seq_len(self.seq_len)
        self.profile = profile
        self._profiled_train_all = message.train_all
        self._profile_asked = (message.asked.path, message.asked.schema)
        self._offer_train_all()
        data = self.plan_data()
        if data is not None:
            self.post_message(DatasetProfiled(data))
        self._show(profile)
        self.query_one(DataLeft).scroll_home(animate=False)  # a new file's figures open at their top

    def _offer_train_all(self) -> None:
        """The checkbox for the file in the field: disabled, saying why, for one whose trained tokens it cannot
        change (plain text, tokenized rows), as the profile found it while the field holds the profiled file and
        schema, or as the schema list says for another file; otherwise offered, its label saying pending while that
        file is not profiled (its profile decides). Its value is kept throughout."""
        typed = self._typed()
        if self.profile is not None and typed == self._profile_asked:  # (a new profile of it may be running)
            schema, pending = self.profile.schema, False
        else:
            schema, pending = typed[1], bool(typed[0])
        box = self.query_one("#data-train-all", Checkbox)
        label, tooltip = NO_TRAIN_ALL_CHOICE.get(schema, (TRAIN_ALL_LABEL, TRAIN_ALL_TOOLTIP))
        if pending and schema not in NO_TRAIN_ALL_CHOICE:  # said in the label, not only in the tooltip
            label, tooltip = TRAIN_ALL_PENDING_LABEL, tooltip + PENDING_TOOLTIP
        box.disabled = schema in NO_TRAIN_ALL_CHOICE
        box.label, box.tooltip = label, tooltip

    def on_profile_failed(self, message: ProfileFailed) -> None:
        if message.asked is not None and message.asked != self._profiled:  # superseded after it failed
            return
        self._failed(message.path, message.error)

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "data-profile" and event.state == WorkerState.ERROR and not event.worker.is_cancelled:
            error = event.worker.error
            self._failed(self._profiled[0] if self._profiled else "", f"{type(error).__name__}: {error}")

    def _failed(self, path: str, error: str) -> None:
        """Say which file failed and why, in one line; figures of an earlier profile stay, dimmed as stale (they
        describe that profile's file, not this one)."""
        self.set_class(False, "-running")
        self._offer_train_all()  # the field holds the file that failed: not the profiled file's state
        why = error.removeprefix("--data ")  # core's messages name the CLI flag
        if path and path not in why:
            why = f"{path}: {why}"
        text = f"Profile failed: {why}"
        if self.profile is not None:
            self.set_class(True, "-stale")
            old = "its" if self.profile.path == path else f"{self.profile.path}'s"
            text += f" · the dimmed figures are {old} last good profile"
        self._status(" ".join(text.split()), error=True)  # one line, whatever the message held

    # -- drawing ---------------------------------------------------------------------------------------------
    def _status(self, text: str, *, error: bool = False) -> None:
        self.query_one("#data-status", Static).update(text)
        self.set_class(error, "-error")

    def _show(self, p: bridge.DataProfile) -> None:
        """Show `p`: its figures, skipped rows and histogram, and (no profile running) its status and a full bar.
        While another profile runs (`p` re-cut at a new seq len) the bar and status stay that run's."""
        if not self.has_class("-running"):
            self.query_one("#data-progress", ProgressBar).update(total=100, progress=100)
        if not self.has_class("-stale") and not self.has_class("-running"):  # a stale status says why: kept
            self._status(" · ".join(map(bridge.form_words, p.notes)) if p.notes else f"tokenizer: {p.tokenizer}")
        self._draw_figures(p)
        problems = [f"line {pr.line}: {pr.reason}" for pr in p.problems[:8]]
        if p.skipped > len(problems):
            problems.append(f"… {p.skipped - len(problems):,} more skipped")
        self.query_one("#data-problems", Static).update("\n".join(problems))
        self._draw_histogram(p)

    def _draw_figures(self, p: bridge.DataProfile) -> None:
        self._shown = p
        model = self.spec.id if self.spec is not None else self.model_source
        self.query_one("#data-figures", Static).update(figures_text(p, self.has_class("-narrow"), self.classifier,
                                                                    model))
        use = self.query_one("#data-use-seq", Button)
        use.display = self.seq_len is not None and p.suggested_seq_len != self.seq_len
        if use.display:
            use.label = f"Use seq len {p.suggested_seq_len:,} in the plan (it has {self.seq_len:,})"

    @on(Button.Pressed, "#data-use-seq")
    def _use_suggested_seq_len(self) -> None:
        if self._shown is not None:
            self.post_message(SeqLenChosen(self._shown.suggested_seq_len))

    def _draw_histogram(self, p: bridge.DataProfile) -> None:
        plot = self.query_one("#data-hist", LengthHistogram)
        plt = plot.plt
        plt.clear_data()
        centres, counts, width = histogram_bins(p.length_hist)
        plt.bar(centres, counts, width=0.9)
        right = centres[-1] + width / 2
        on_chart = p.seq_len <= right * 1.5  # draw the seq len line unless it would squash the bars
        if on_chart:
            plt.vertical_line(p.seq_len, color="red")
            right = max(right, p.seq_len * 1.05)
        plt.xlim(0, right)
        # Ticks at round lengths and counts (plotext labels the bars' centres: 380.2666666666667)
        xs = nice_ticks(right)
        plt.xticks(xs, [tick_label(x) for x in xs])
        ys = nice_ticks(max(counts, default=1), 4)
        plt.yticks(ys, [tick_label(y) for y in ys])
        plot.set_titles(histogram_titles(p.seq_len, on_chart))
