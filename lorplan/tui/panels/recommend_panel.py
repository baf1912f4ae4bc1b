"""The Recommend tab: the rank, alpha, learning rate and per-module ranks for the plan on screen, with the
evidence, filling in as it arrives.

At once: the capacity prior of the plan the screen hands down (`show_plan`: its model, targets, setup and
budget) and the Data tab's profile, or a data size typed here; it is arithmetic, computed inline. Then the
probe ladder: a run whose driver rewrites recommendation.json in its run folder as probes finish. A thread
worker reads the run folders every `poll_seconds` through recommend_bridge.LadderFeed (the run started here,
else the newest ladder for this model and its shape, on the Data tab's file when one is profiled: ladders
outlive the planner; a followed ladder that measured the model folder with other sizes is dropped, saying so)
and posts a replaceable LadderUpdated; the handler only draws it: the ladder's rows, the evidence
sentences and a plot of eval loss (accuracy for classification) against rank on a log2 axis with the knee and
the band of ranks the evidence cannot tell apart. `l` starts a ladder for the plan on screen on the Data tab's
dataset (in a thread worker; the panel then follows it; the keys' line says it is starting meanwhile, and `l`
pressed again then starts no second ladder). `a` applies rank, alpha, learning rate and pattern to
the plan on screen (a ladder's once it is done): the panel posts RecommendationApplied and the screen hands it
to the Plan tab (no widget writes another's fields). Below 110 columns the plot goes under the evidence and the
content above the keys' line scrolls (the panel's arrow, page, home and end keys). Never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from lorplan.core.errors import BadInput, LorplanError
from lorplan.core.units import counted, format_count, memory_text
from lorplan.tui import bridge, numbers, recommend_bridge
from lorplan.tui.layout import narrow_terminal
from lorplan.tui.messages import LadderActionFinished, LadderUpdated, RecommendationApplied, WorkerFailed
from lorplan.tui.panels.setup_form import parse_int, parse_positive_float
from lorplan.tui.state import PlanData, PlanSnapshot, Tuning
from lorplan.tui.widgets.focus_within import FocusWithin

POLL_SECONDS = 1.0
MAX_TYPED_SIZE = 10**15  # tokens or examples: beyond any dataset, a typo
COLUMNS = (("rank", "rank"), ("lr", "lr"), ("seed", "seed"), ("state", "state"), ("eval_loss", "eval loss"),
           ("acc", "accuracy"), ("time", "train time"), ("params", "trainable"), ("mem", "peak mem"),
           ("steps", "steps"), ("early", "stopped early"))
_STATE_STYLE = {"queued": "dim", "running": "bold cyan", "finished": "green", "failed": "bold red",
                "oom": "bold red", "died": "bold red", "cancelled": "yellow"}


def _model_task(plan: PlanSnapshot | None) -> tuple[str | None, str | None]:
    """The plan's model id and task: a ladder's recommendation for the same model as the other task (a causal
    LM's, its classifier's) is not this plan's."""
    return (plan.spec.id, plan.spec.task) if plan is not None else (None, None)


def _data_path(data: PlanData | None) -> str | None:
    """The Data tab's profiled file: a ladder followed without being started here must have measured it."""
    return data.path if data is not None and data.profile is not None else None


# The keys' line while no model is planned (the one asked for is not there): neither key can do anything yet
NO_MODEL_KEYS = "a (apply), l (probe ladder): no model yet; choose one in the Plan tab (F5)"  # one row at 80x24
NO_MODEL = "choose a model in the Plan tab first (F5)"  # what a and l say, pressed with no model
# The keys' line while a ladder starts (it reads the model folder and a classifier's whole data file: seconds), and
# what `l` pressed again meanwhile adds: it starts no second ladder
STARTING = "l: starting a probe ladder…"
IN_PROGRESS = " (already in progress)"


def _keys_line(pattern: bool, model: bool = True) -> str:
    """The keys' line under the evidence: p and u only for a recommendation with a per-module pattern; with no
    model planned, why neither key works yet."""
    if not model:
        return NO_MODEL_KEYS
    if not pattern:
        return ("a: apply the recommendation to the plan · l: run a probe ladder on the profiled data (minutes; it "
                "keeps running if you quit)")
    return ("a: apply the recommendation to the plan (a pattern only when checked) · p: with the per-module "
            "pattern · u: one rank everywhere · l: run a probe ladder on the profiled data (minutes; it keeps "
            "running if you quit)")


def _optional(parse, default):
    """An empty field means the default; anything else must parse."""
    return lambda text: parse(text) if str(text).strip() else default


# The probe ladder's fields (id -> parser of what is typed there): `l` and the as-you-type check both use these.
_LADDER_FIELDS = {
    # the bound (a week) is the CLI's and the ladder's (recommend_bridge.check_budget_minutes): checked here, it is
    # the field's line as typed; left to the ladder, 20000 was refused only by a toast when `l` started it
    "rec-budget": _optional(lambda t: recommend_bridge.check_budget_minutes(
        parse_positive_float(t, "Ladder budget", "minutes"), "Ladder budget"), None),
    "rec-seeds": _optional(lambda t: parse_int(t, "Seeds per probe", 1, recommend_bridge.MAX_SEEDS), 1),
    # at least 2 under a warmup, as `l` checks it: a 1-step probe trains nothing (check_probe_steps)
    "rec-steps": _optional(lambda t: recommend_bridge.check_steps_typed(parse_int(t, "Steps per probe", 1, 10**9)),
                           None),
}


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _seconds(v: float | None) -> str:
    if v is None:
        return "-"
    m, s = divmod(int(round(v)), 60)
    return f"{m}m{s:02d}s" if m else f"{v:.1f}s"


def row_cells(row: recommend_bridge.LadderRow) -> tuple:
    """One ladder row as the table shows it."""
    return (
        Text(f"r{row.rank}", style="bold"), numbers.lr_text(row.learning_rate), str(row.seed),
        Text(row.state, style=_STATE_STYLE.get(row.state, "")), _num(row.eval_loss, ".4f"),
        _num(row.eval_accuracy, ".3f"), _seconds(row.train_seconds),
        format_count(row.trainable_params) if row.trainable_params else "-",
        memory_text(row.peak_memory_bytes) if row.peak_memory_bytes else "-",  # as the Probes tab and probe status
        "-" if row.steps is None else str(row.steps), "yes" if row.stopped_early else "",
    )


def decided_by(rec) -> str:
    """What decided a ladder's rank, in words: the prior (no knee yet), the knee, or the knee and its noise
    (recommend.knee.likely_rank took the next rank up); the only rank measured (a budget that bought one rank)
    is no knee."""
    knee = recommend_bridge.ladder_knee(rec)
    if knee is None:
        return "the capacity prior still decides the rank"
    only = recommend_bridge.only_rank(rec)
    if only is not None:  # a knee of one rank compared nothing (`lorplan recommend`'s table says the same)
        return recommend_bridge.only_rank_words(only)
    if knee == rec.rank:
        return "its knee decides the rank"
    return (f"its knee is rank {knee}; with the noise around it, rank {rec.rank} is likelier to lie between the "
            "knee and twice it")


def _pattern_status(rec: recommend_bridge.Recommendation) -> str:
    """Whether the a key applies the pattern: " (checked on your data: a applies it)", " (unchecked: p applies
    it)", or "" with no pattern."""
    if not rec.rank_pattern:
        return ""
    return " (checked on your data: a applies it)" if rec.pattern_checked else " (unchecked: p applies it)"


def headline(rec: recommend_bridge.Recommendation, where: str, budget: str = "") -> str:
    """The recommendation in three lines: the numbers, where they come from, the memory verdict; and `budget`
    (a ladder's LadderRead.budget_note: the budget bought one rank alone) on a line of its own."""
    low, high = rec.confidence
    band = f"band {low}–{high}" if low != high else "no band"
    note = recommend_bridge.band_words(rec)  # one seed per rank: noise estimated, or not known
    if note:
        band += f"; {note}"
    lines = [f"rank {rec.rank} ({band}) · alpha {rec.alpha:g} with "
             f"{'rsLoRA scaling alpha/√r' if rec.use_rslora else 'alpha/r'} · learning rate {rec.learning_rate:g} · "
             f"rank_pattern: {bridge.pattern_words(rec.rank_pattern)}{_pattern_status(rec)}", where]
    if budget:
        lines.append(f"budget: {budget}")
    if rec.fits is not None:
        lines.append(f"memory: {recommend_bridge.fit_words(rec.fits)}")
    return "\n".join(lines)


class RecommendScroll(VerticalScroll, can_focus=False):
    """Everything but the keys' line. Wide, it fits and the body fills what is left; narrow (80x24), the plot goes
    under the evidence and this scrolls: the panel, which F8 focuses, scrolls it with the arrow and page keys."""


class ScrollKeys(Widget):
    """The arrow, page, home and end keys of a panel that holds the focus itself scroll its RecommendScroll. Plain
    scroll keys, bound as Textual's ScrollableContainer binds them for its subclasses: hidden, no id to remap, and
    out of the help's list of the tab's own keys (which reads RecommendPanel.BINDINGS, not its bases')."""

    BINDINGS = [Binding(key, f"scroll_body('{key}')", f"Scroll {key}", show=False)
                for key in ("up", "down", "pageup", "pagedown", "home", "end")]

    def action_scroll_body(self, how: str) -> None:
        """Scroll the content above the keys' line: at 80x24 the plot lies under the evidence."""
        scroll = self.query_one(RecommendScroll)
        if not scroll.allow_vertical_scroll:
            raise SkipAction()  # nothing to scroll: the key goes on to the screen's bindings
        {"up": scroll.scroll_up, "down": scroll.scroll_down, "pageup": scroll.scroll_page_up,
         "pagedown": scroll.scroll_page_down, "home": scroll.scroll_home, "end": scroll.scroll_end}[how]()


class RecommendPanel(FocusWithin, ScrollKeys, can_focus=True):
    """The recommendation for the plan on screen; ladder runs read from `runs_dir` (default: the runs folder)."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("a", "apply", "Apply to plan", id="recommend.apply",
                tooltip="Set the plan on screen to the recommended rank, alpha and learning rate, and the "
                        "per-module rank pattern when the ladder's check kept it (better than one rank on your "
                        "data beyond the noise); the Plan tab's table selects the rank and the export writes them"),
        Binding("p", "apply('pattern')", "With pattern", id="recommend.apply_pattern",
                tooltip="As a, with the per-module rank pattern even when the ladder offers it unchecked (on "
                        "real-text benchmarks unchecked patterns never clearly beat one rank for every module)"),
        Binding("u", "apply('uniform')", "One rank", id="recommend.apply_uniform",
                tooltip="As a, with one rank for every module even when the ladder's check kept a pattern"),
        Binding("l", "start_ladder", "Probe ladder", id="recommend.start_ladder",
                tooltip="Measure the rank on your data: short probes of the plan at a few ranks, in the "
                        "background (they keep running when lorplan closes); rows fill in as probes finish"),
    ]

    def __init__(self, runs_dir: Path | None = None, *, poll_seconds: float = POLL_SECONDS,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.poll_seconds = poll_seconds
        self.plan: PlanSnapshot | None = None  # handed down by the screen (show_plan)
        self.data: PlanData | None = None
        self.prior: recommend_bridge.PriorRead | None = None
        self.ladder: recommend_bridge.LadderRead | None = None  # the last read for this model / followed run
        self.follow: str | None = None  # the ladder run followed (None: the newest for the plan's model, task, data)
        self.typed_size: int | None = None  # trained tokens / examples typed here (no profile)
        self._prior_key: tuple | None = None
        self._feed = recommend_bridge.LadderFeed(self.runs_dir)
        self._reading: Worker | None = None
        self._drawn: tuple | None = None  # what the table, evidence and plot show (redrawn only on change)
        self._problem: str | None = None
        self._read_error: str | None = None
        self._steps_for: tuple | None = None  # (plan, data, steps typed) the steps note was written for
        self._model_names = recommend_bridge.ModelNames()  # the steps note's model lookup, once per model field
        self._has_pattern = False  # the recommendation on screen has a per-module pattern (p and u offered)
        self._keys_for: tuple = (False, True, None)  # (pattern, model, starting) the keys' line was written for
        self._starting: str | None = None  # what the keys' line says while a ladder starts
        self._start_worker: Worker | None = None  # the ladder start on its way (None: l starts one)
        self._shape: recommend_bridge.AdapterShape | None = None  # the plan's (a ladder of another is not its)
        self._shape_for: tuple | None = None  # (spec, targets, data path, profile) _shape was weighed for

    def compose(self) -> ComposeResult:
        with RecommendScroll(id="rec-scroll"):
            yield Static("Choose a model in the Plan tab.", id="rec-head")
            with Horizontal(id="rec-size-row"):
                yield Label("", id="rec-size-label")
                yield Input(placeholder="e.g. 2,000,000", id="rec-size", compact=True)
                yield Static("", id="rec-size-error")
            with Horizontal(id="rec-ladder-row"):
                yield Label("probe ladder (l): minutes", classes="rec-ladder-label")
                yield Input(placeholder=f"{recommend_bridge.BUDGET_MINUTES:g}", id="rec-budget", compact=True)
                yield Label("seeds/probe", classes="rec-ladder-label")
                yield Input(placeholder="1", id="rec-seeds", compact=True)
                yield Label("steps/probe", classes="rec-ladder-label")
                yield Input(placeholder=f"{recommend_bridge.PROBE_STEPS}", id="rec-steps", compact=True)
            yield Static("", id="rec-ladder-note")  # steps per probe capped at the planned run's
            # a row only while it says something: at 80x24 its empty line was a second blank row above the evidence
            error = Static("", id="rec-ladder-error", classes="field-error")
            error.display = False
            yield error
            table = DataTable(id="rec-ladder", cursor_type="row", zebra_stripes=True)
            for key, label in COLUMNS:
                table.add_column(label, key=key)
            yield table
            with Horizontal(id="rec-body"):
                with VerticalScroll(id="rec-evidence-box"):
                    yield Static("", id="rec-evidence")
                with Vertical(id="rec-right"):
                    yield PlotextPlot(id="rec-plot")
                    yield Static("", id="rec-plot-note")
        yield Static(_keys_line(False), id="rec-keys")

    def on_resize(self) -> None:
        self.set_class(narrow_terminal(self), "-narrow")  # the plot goes under the evidence

    def on_mount(self) -> None:
        self.border_title = "Recommendation"
        self.query_one("#rec-size").tooltip = ("The size of your data, counted once: tokens with a loss for a "
                                               "causal LM, labelled examples for classification")
        self.query_one("#rec-budget").tooltip = ("Wall-clock minutes the probe ladder may spend (lorplan recommend "
                                                 f"--budget-minutes; empty: {recommend_bridge.BUDGET_MINUTES:g})")
        self.query_one("#rec-seeds").tooltip = (f"Training seeds per probe, 1 to {recommend_bridge.MAX_SEEDS} "
                                                "(lorplan recommend --seeds): each multiplies the probes; the knee "
                                                "compares means and its band is the seeds' measured noise (empty: 1)")
        self.query_one("#rec-steps").tooltip = ("Optimizer steps per probe (lorplan recommend --probe-steps; empty: "
                                                f"{recommend_bridge.PROBE_STEPS}, or the planned run when shorter; longer when "
                                                "the budget buys the whole ladder in half its time): "
                                                "longer probes take proportionally longer, but a probe measures the "
                                                "knee at its own length and shorter ones tend to put it low")
        self._draw()
        self.poll()
        self.set_interval(self.poll_seconds, self._tick)

    # -- what the screen hands down ------------------------------------------------------------------------
    def show_plan(self, plan: PlanSnapshot | None, data: PlanData | None) -> None:
        """The plan on screen and the Data tab's profile changed: recompute the prior when what it weighs did."""
        changed = (_model_task(plan) != _model_task(self.plan) or _data_path(data) != _data_path(self.data))
        self.plan, self.data = plan, data
        self._show_steps_note()
        reshaped = self._weigh_shape()
        if changed:
            # another model, task or dataset: its own ladder, if it has one (the same model id is planned as the
            # other task when its config.json now names its sequence classifier)
            self.follow, self.ladder = None, None
            self.poll()
        elif reshaped:
            # the same model field read again with other sizes (or other targets): the followed ladder stays only
            # when it measured this shape; it is judged now when it is on screen, else when it is read
            ladder = self.ladder
            measured = (recommend_bridge.other_shape(ladder.recommendation, self._shape)
                        if ladder is not None and ladder.recommendation is not None else None)
            if measured is not None and ladder.run_id == self.follow:
                self._drop_measured(ladder.run_id, measured)
            else:
                self.poll()
        self._update_prior()

    def _weigh_shape(self) -> bool:
        """The plan's AdapterShape (recommend_bridge.plan_shape), weighed again only when the spec, the targets
        or the data changed; True when it changed."""
        plan, data = self.plan, self.data
        key = None if plan is None else (plan.spec, plan.setup.targets, _data_path(data),
                                         id(data.profile) if data is not None else None)
        if key == self._shape_for:
            return False
        self._shape_for = key
        shape = None if plan is None else recommend_bridge.plan_shape(plan, data)
        changed, self._shape = shape != self._shape, shape
        return changed

    def _drop_measured(self, run_id: str, measured: recommend_bridge.AdapterShape) -> None:
        """Stop following ladder `run_id`, which measured a model of another shape than the plan's (`measured`):
        say why in one line, as the Plan tab says it of a tuning applied from it, and look for this shape's."""
        self.notify(f"{self.plan.spec.id} was read again as another model (its config now gives other sizes: "
                    f"{self._shape.change_words(measured)}): probe ladder run {run_id} measured the model as it was "
                    "and is no longer shown; this tab shows a ladder of the model as it is now, else the capacity "
                    "prior", severity="warning", timeout=10)
        self.follow, self.ladder = None, None
        self.poll()
        self._draw()

    def _update_prior(self) -> None:
        plan, profile = self.plan, self.data.profile if self.data is not None else None
        key = None if plan is None else (plan.source, plan.spec, plan.setup, plan.budget_bytes, id(profile),
                                         self.typed_size)
        if key != self._prior_key:
            self._prior_key = key
            self.prior = None if plan is None else recommend_bridge.prior(plan, self.data, self.typed_size)
        self._draw()

    @on(Input.Changed, "#rec-size")
    def _size_typed(self, event: Input.Changed) -> None:
        event.stop()
        size, problem = None, ""
        if event.value.strip():
            try:
                # named as the field's label is ("Trained tokens", "Labelled examples")
                what = recommend_bridge.size_wanted(self.plan.spec.task) if self.plan is not None else "data size"
                size = parse_int(event.value, what.capitalize(), 1, MAX_TYPED_SIZE)
            except BadInput as exc:  # no size, so no prior: a figure from a half-typed number would mislead
                problem = str(exc)
        self.query_one("#rec-size-error", Static).update(problem)
        self.typed_size = size
        self._update_prior()

    # -- the ladder (a thread worker reads the run folders) ---------------------------------------------------
    def poll(self) -> None:
        """Read the ladder's recommendation.json now, in a thread worker (a newer read cancels an older one)."""
        if not self.is_mounted:
            return
        model, task = _model_task(self.plan)
        self._reading = self._read(self._feed, self.follow, model, _data_path(self.data), task, self._shape)

    def _tick(self) -> None:
        if self._reading is None or self._reading.is_finished:  # a slow disk: never a backlog of reads
            self.poll()

    @work(thread=True, exclusive=True, group="recommend-read", exit_on_error=False)
    def _read(self, feed: recommend_bridge.LadderFeed, run_id: str | None, model: str | None,
              data: str | None, task: str | None, shape: recommend_bridge.AdapterShape | None = None) -> None:
        # Worker thread: lists run folders and parses a changed recommendation.json; never touches a widget.
        read = feed.read(run_id, model, data, task, shape)
        if not get_current_worker().is_cancelled:
            self.post_message(LadderUpdated(read))

    def on_ladder_updated(self, message: LadderUpdated) -> None:
        read = message.read
        if (read.requested, (read.model, read.task), read.data, read.shape) != (
                self.follow, _model_task(self.plan), _data_path(self.data), self._shape):
            return  # read before the user switched model, task, shape or dataset, or started a ladder
        if read.requested is not None and read.recommendation is not None and (
                measured := recommend_bridge.other_shape(read.recommendation, self._shape)) is not None:
            self._drop_measured(read.requested, measured)  # the followed ladder measured the model as it was
            return
        if read.problem is not None and read.problem != self._problem:
            self.notify(read.problem, severity="error")
        self._problem = read.problem
        if read.requested is None and read.run_id is not None:
            self.follow = read.run_id  # the newest ladder for this model, task and data: follow it from now on
            read = replace(read, requested=read.run_id)
        last = self.ladder
        if read.problem is not None and last is not None and last.run_id == read.run_id:
            # keep the last good reading on screen
            read = replace(read, recommendation=last.recommendation, base_loss=last.base_loss, state=last.state,
                           budget_note=last.budget_note)
        if read != self.ladder:
            self.ladder = read
            self._draw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._start_worker and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                  WorkerState.CANCELLED):
            # after its LadderActionFinished (posted before the worker returned): l starts a ladder again, after a
            # failed start too
            self._start_worker, self._starting = None, None
            self._show_keys()
        if event.state != WorkerState.ERROR:
            return
        text = f"{type(event.worker.error).__name__}: {event.worker.error}"
        if event.worker.group == "recommend-read":
            if text == self._read_error:
                return  # the same failure every second is reported once
            self._read_error = text
        self.post_message(WorkerFailed(event.worker.name, event.worker.error))

    # -- what is shown -----------------------------------------------------------------------------------
    @property
    def shown(self) -> recommend_bridge.Recommendation | None:
        """The recommendation on screen: the ladder's once it wrote one, else the capacity prior's."""
        if self.ladder is not None and self.ladder.recommendation is not None:
            return self.ladder.recommendation
        return self.prior.recommendation if self.prior is not None else None

    def _where(self, rec: recommend_bridge.Recommendation) -> str:
        ladder = self.ladder
        if ladder is None or ladder.recommendation is not rec:
            waiting = f"; ladder run {ladder.run_id} has written no result yet" if ladder and ladder.run_id else ""
            return f"from the capacity prior (no probe measured your data yet{waiting})"
        rows = rec.ladder
        done = sum(1 for r in rows if r.state not in ("queued", "running"))
        decided = decided_by(rec)
        model = f" for {rec.model}" if self.plan is not None and rec.model != self.plan.spec.id else ""
        state = {"running": "running: provisional until it is done", "done": "done",
                 "cancelled": "cancelled: it rests on the probes that finished"}.get(ladder.state or "", "")
        on = f" on {Path(ladder.run_data).name}" if ladder.run_data else ""
        return (f"from probe ladder run {ladder.run_id}{model}{on}{f' ({state})' if state else ''}: {done} of "
                f"{len(rows)} probes ended, {_seconds(rec.cost_seconds)} of training; {decided}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """p and u are offered only for a recommendation with a per-module pattern: without one they would
        apply what a applies (hidden from the footer, as its 80 columns have no room to spare)."""
        if action == "apply" and parameters in (("pattern",), ("uniform",)):
            return self._has_pattern
        return True

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        head = self.query_one("#rec-head", Static)
        rec = self.shown
        has_pattern = rec is not None and bool(rec.rank_pattern)
        if has_pattern != self._has_pattern:
            self._has_pattern = has_pattern
            self.refresh_bindings()
        self._show_keys()
        from_ladder = self.ladder is not None and rec is not None and self.ladder.recommendation is rec
        # the size field stands in for a profile, for the prior only
        wants_size = self.plan is not None and (self.data is None or self.data.profile is None) and not from_ladder
        self.set_class(wants_size, "-size")
        if wants_size:
            self.query_one("#rec-size-label", Label).update(
                f"{recommend_bridge.size_wanted(self.plan.spec.task).capitalize()}:")
        if self.plan is None:
            head.update("Choose a model in the Plan tab: the capacity prior weighs its targets against your data.")
        elif rec is None:
            head.update(self.prior.needs if self.prior is not None and self.prior.needs else "")
        else:
            head.update(headline(rec, self._where(rec), self.ladder.budget_note if from_ladder else ""))
        head.set_class(rec is None and self.plan is not None, "-needs")
        self.set_class(rec is None, "-empty")  # no evidence and nothing to plot yet
        base = self.ladder.base_loss if from_ladder else None
        drawn = (rec, base)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        self._show_ladder(rec)
        self._show_evidence(rec)
        self._plot(rec, base)

    def _show_keys(self) -> None:
        """The keys' line: what a and l do (with no model, why neither does anything yet), or, while a ladder
        starts, that it is starting."""
        keys_for = (self._has_pattern, self.plan is not None, self._starting)
        if keys_for == self._keys_for or not self.is_mounted:
            return
        self._keys_for = keys_for
        keys = self.query_one("#rec-keys", Static)
        keys.update(self._starting or _keys_line(self._has_pattern, self.plan is not None))
        keys.set_class(self.plan is None and self._starting is None, "-off")  # dimmed, saying why

    def _show_ladder(self, rec: recommend_bridge.Recommendation | None) -> None:
        table = self.query_one("#rec-ladder", DataTable)
        table.clear()
        for row in rec.ladder if rec is not None else ():
            table.add_row(*row_cells(row))
        self.set_class(rec is None or not rec.ladder, "-no-ladder")

    def _show_evidence(self, rec: recommend_bridge.Recommendation | None) -> None:
        lines = Text()
        for e in rec.evidence if rec is not None else ():
            if lines:
                lines.append("\n")
            lines.append(e.source + (f" → rank {e.rank}" if e.rank is not None else ""), style="bold")
            memory = rec.fits is not None and e.source == "memory" and e.explanation == rec.fits.explanation
            words = recommend_bridge.fit_words(rec.fits) if memory else recommend_bridge.budget_words(e.explanation)
            lines.append(f": {words}")
        self.query_one("#rec-evidence", Static).update(lines)

    def _plot(self, rec: recommend_bridge.Recommendation | None, base: float | None) -> None:
        widget = self.query_one("#rec-plot", PlotextPlot)
        note = self.query_one("#rec-plot-note", Static)
        plt = widget.plt
        plt.clear_data()
        if rec is None:
            plt.title("")
            note.update("")
            widget.refresh()
            return
        p = recommend_bridge.ladder_plot(rec, base)
        low, high = p.band
        ranks = sorted({low, high, rec.rank, *(row.rank for row in rec.ladder)})  # pending probes too
        lo, hi = math.log2(ranks[0]), math.log2(ranks[-1])
        ticks = list(range(math.floor(lo), math.ceil(hi) + 1))
        plt.xticks(ticks, [str(2**t) for t in ticks])
        plt.xlim(lo - 0.5, hi + 0.5)
        plt.xlabel("rank (log2 axis)")
        plt.title(f"{p.metric} by rank")
        if p.points:
            plt.scatter([math.log2(r) for r, _ in p.points], [v for _, v in p.points], marker="dot")
            plt.plot([math.log2(r) for r in p.ranks], list(p.values), marker="braille")
        for edge in sorted({low, high} - {p.knee}):
            plt.vertical_line(math.log2(edge), color="gray")
        if p.knee is not None:
            plt.vertical_line(math.log2(p.knee), color="green")
        if p.threshold is not None:
            plt.horizontal_line(p.threshold, color="red")
        widget.refresh()
        words = []
        if p.points:
            words.append(f"dots: each probe's {p.metric}; line: each rank at its best learning rate, as the "
                         "knee compares them")
        else:
            words.append("no probe has finished yet")
        only = recommend_bridge.only_rank(rec)
        if only is not None:
            words.append(f"green: {recommend_bridge.only_rank_words(only)}")
        elif p.knee is not None:
            words.append(f"green: the knee, rank {p.knee}")
        band = "the prior's band" if p.knee is None else "the band"
        words.append(f"gray: {band} {low}–{high} (ranks the evidence cannot tell apart)" if low != high
                     else f"band: rank {low} alone")
        if p.threshold is not None:
            words.append(f"red: eval loss {p.threshold:.{p.digits}g}, {1 - rec.tolerance:.0%} of the best rank's "
                         f"gain over the base model's {base:.{p.digits}g}")
        note.update(" · ".join(words))

    # -- the key --------------------------------------------------------------------------------------------
    def action_apply(self, pattern_mode: str = "checked") -> None:
        """Post the recommendation on screen up to the screen, which applies it to the Plan tab's plan: rank,
        alpha and learning rate, and its rank_pattern by pattern_mode: "checked" (the a key) when the ladder's
        check kept it (Recommendation.pattern_checked), "pattern" (p) whenever there is one, "uniform" (u) never
        (lorplan.recommend.measured PATTERN_OFFERED / PATTERN_APPLIED say why)."""
        rec = self.shown
        if self.plan is None:
            self.notify(f"Nothing to apply yet: {NO_MODEL}.", severity="warning")
            return
        if rec is None:
            needs = self.prior.needs if self.prior and self.prior.needs else ""
            if self.prior is not None and self.prior.needs_size:  # a pop-up has no size field below it
                needs = recommend_bridge.size_needed(self.plan.spec.task, popup=True)
            self.notify(f"Nothing to apply yet. {needs}".strip(), severity="warning")
            return
        if rec.model and rec.model != self.plan.spec.id:
            self.notify(f"This recommendation is for {rec.model}; the plan on screen is {self.plan.spec.id}.",
                        severity="warning")
            return
        if rec.task != self.plan.spec.task:  # a ladder started here before the model's task changed
            self.notify(f"This recommendation is for {rec.model} as a {rec.task} model; the plan on screen trains "
                        f"it as a {self.plan.spec.task} model.", severity="warning")
            return
        measured = recommend_bridge.other_shape(rec, self._shape)
        if measured is not None:  # a ladder's, on screen until the read that drops it comes back
            self.notify(f"This recommendation was measured on {rec.model} with other sizes than the plan's "
                        f"({self._shape.change_words(measured)}).", severity="warning")
            return
        ladder = self.ladder
        from_ladder = ladder is not None and ladder.recommendation is rec
        if from_ladder and ladder.state == "running":
            # as lorplan recommend --run RUN --write refuses without --wait: the next probe may move the rank
            ended = sum(1 for r in rec.ladder if r.state not in ("queued", "running"))
            self.notify(f"Probe ladder run {ladder.run_id} is still running ({ended} of {len(rec.ladder)} probes "
                        "ended): its recommendation may still change. Apply it once it is done; the ladder goes "
                        "on if you close lorplan, and this tab finds it again.", severity="warning", timeout=10)
            return
        source = f"probe ladder run {ladder.run_id}" if from_ladder else "capacity prior"
        if pattern_mode == "pattern" and not rec.rank_pattern:
            self.notify("This recommendation has no per-module pattern: one rank for every module.")
        wanted = pattern_mode == "pattern" or (pattern_mode == "checked" and rec.pattern_checked)
        pattern = rec.rank_pattern if wanted else {}
        self.post_message(RecommendationApplied(rec.rank, Tuning(rec.alpha, rec.learning_rate, rec.use_rslora,
                                                                 pattern, source), spec=self.plan.spec))

    def action_start_ladder(self) -> None:
        """Start a probe ladder for the plan on screen (a thread worker: it reads the model folder and a
        classifier's whole data file, seconds for a large one), saying so in the keys' line at once. Pressed again
        while a ladder starts, it says so there and starts nothing (a second press, the first seeming lost,
        started a second ladder); l starts one again once the start has ended (on_worker_state_changed), a
        failed one too."""
        if self._start_worker is not None:
            self._starting = (self._starting or STARTING).removesuffix(IN_PROGRESS) + IN_PROGRESS
            self._show_keys()
            return
        if self.plan is None:
            self.notify(f"A probe ladder trains the plan's model: {NO_MODEL}.", severity="warning")
            return
        if self.data is None or self.data.profile is None:
            self.notify("The probe ladder trains on your data: profile a dataset in the Data tab first (F6).",
                        severity="warning")
            return
        try:
            budget, seeds, steps = self.ladder_settings()
        except BadInput as exc:
            self.notify(str(exc), severity="warning")
            return
        self._starting = STARTING
        self._show_keys()
        self._start_worker = self._start(self.plan, self.data, self.runs_dir, budget, seeds, steps)

    def ladder_settings(self) -> tuple[float | None, int, int | None]:
        """The ladder's budget in minutes (None: the default), seeds per probe and steps per probe (None: the
        default), as typed; BadInput naming the field when one is not a number in range (the first such)."""
        values = {}
        for field_id, parse in _LADDER_FIELDS.items():
            values[field_id] = parse(self.query_one(f"#{field_id}", Input).value)
        return values["rec-budget"], values["rec-seeds"], values["rec-steps"]

    def ladder_errors(self) -> dict[str, str]:
        """Each ladder field's message, by field id, when what it holds is one `ladder_settings` refuses."""
        errors = {}
        for field_id, parse in _LADDER_FIELDS.items():
            try:
                parse(self.query_one(f"#{field_id}", Input).value)
            except BadInput as exc:
                errors[field_id] = str(exc)
        return errors

    @on(Input.Changed, "#rec-budget, #rec-seeds, #rec-steps")
    def _ladder_typed(self, event: Input.Changed) -> None:
        """Checked as typed with the parsers `l` uses: the field is marked and its one line shown under the row;
        what was typed stays."""
        event.stop()
        errors = self.ladder_errors()
        for field_id in _LADDER_FIELDS:
            self.query_one(f"#{field_id}", Input).set_class(field_id in errors, "-invalid")
        error = self.query_one("#rec-ladder-error", Static)
        error.update("\n".join(errors.values()))
        error.display = bool(errors)
        self._show_steps_note()

    def _show_steps_note(self) -> None:
        """Say when the probes will train fewer steps than typed (or than the default): a ladder's probes never
        train longer than the planned run (recommend_bridge.probe_steps), and the rows showed fewer steps without
        a word. Recomputed only when the plan, the data or the field changed."""
        if not self.is_mounted:
            return
        try:
            asked = _LADDER_FIELDS["rec-steps"](self.query_one("#rec-steps", Input).value)
        except BadInput:
            asked = False  # the error line says what is wrong with it
        last = self._steps_for
        if last is not None and last[0] is self.plan and last[1] is self.data and last[2] == asked:
            return
        self._steps_for = (self.plan, self.data, asked)
        text = ""
        shown = None if self.plan is None or asked is False else recommend_bridge.probe_steps(
            self.plan, self.data, asked, names=self._model_names)
        wanted = recommend_bridge.PROBE_STEPS if asked is None else asked
        if shown is not None and shown[0] < wanted:
            steps, planned = shown
            which = f"the default {wanted:,}" if asked is None else f"the {wanted:,} typed"
            text = (f"Steps per probe: {steps:,}, not {which}: the planned training has {counted(planned, 'step')} "
                    "(a probe never trains longer than the run)")
        note = self.query_one("#rec-ladder-note", Static)
        note.update(text)
        note.display = bool(text)

    # not `exclusive`: that marks the thread worker before it cancelled, but the thread goes on and starts its
    # ladder too; action_start_ladder starts one at a time instead
    @work(thread=True, exclusive=False, group="recommend-start", exit_on_error=False)
    def _start(self, plan: PlanSnapshot, data: PlanData, runs_dir: Path | None, budget: float | None = None,
               seeds: int = 1, steps: int | None = None) -> None:
        try:
            run_id = recommend_bridge.start_ladder(plan, data, runs_dir=runs_dir, budget_minutes=budget, seeds=seeds,
                                                   probe_steps=steps)
        except LorplanError as exc:
            self.post_message(LadderActionFinished(str(exc), "warning", 15))
            return
        self.post_message(LadderActionFinished(f"Probe ladder {run_id} started in the background: rows fill in "
                                               f"as probes finish (lorplan recommend --run {run_id} re-attaches "
                                               "from a shell).", run_id=run_id))

    def on_ladder_action_finished(self, message: LadderActionFinished) -> None:
        self.notify(message.text, severity=message.severity, timeout=message.timeout)
        if message.run_id is not None:
            self.follow, self.ladder = message.run_id, None
            self.poll()
            self._draw()
