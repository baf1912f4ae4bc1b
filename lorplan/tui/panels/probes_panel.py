"""The Probes tab: pick a run, see its queue and per-probe state, live loss and eval curves of every rank on
one plot, the final table (rank, eval loss / accuracy, time, peak memory), cancel and retry.

The panel only reads the run folder (polled with set_interval; event logs are read incrementally), so
closing lorplan never stops a probe and opening it again shows the same run. Cancel and retry go through the
probe backend in a thread worker. `p` starts probes of the plan on screen: the Plan tab's model and setup, the
Data tab's profiled dataset, at ranks around the selected one (`plan_probe_settings`). Never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Select, Static
from textual_plotext import PlotextPlot

from lorplan.core.errors import LorplanError
from lorplan.core.units import format_bytes
from lorplan.probe import runner
from lorplan.probe.backend import Backend
from lorplan.probe.demo import DEMO_EVAL_EXAMPLES, DEMO_STEPS
from lorplan.probe.runs import RunDir, list_runs
from lorplan.probe.status import ProbeStatus, RunStatus, RunWatcher

POLL_SECONDS = 1.0
MAX_POINTS = 400
COLUMNS = (("rank", "rank"), ("state", "state"), ("step", "step"), ("loss", "loss"), ("eval_loss", "eval loss"),
           ("acc", "accuracy"), ("tps", "tok/s"), ("time", "time"), ("mem", "peak mem"))
_RICH_STYLE = {"queued": "dim", "running": "bold cyan", "finished": "green", "failed": "bold red",
               "oom": "bold red", "died": "bold red", "cancelled": "yellow"}


def rank_ladder(rank: int) -> tuple[int, ...]:
    """Ranks probed around the selected one: a quarter, a half, itself and double (16 -> 4, 8, 16, 32)."""
    return tuple(sorted({max(1, rank // 4), max(1, rank // 2), rank, rank * 2}))


def plan_probe_settings(source: str, setup, rank: int, data) -> dict:
    """runner.make_plan arguments for probing the plan on screen: its model, setup and the profiled data.

    The model must be on this machine (runner.probe_model): a catalog id alone is a config, not weights."""
    return dict(
        ranks=rank_ladder(rank), model=runner.probe_model(source), data=data.path, train_on=data.train_on,
        seq_len=setup.seq_len, micro_batch=setup.micro_batch, quant=setup.quant,
        double_quant=setup.double_quant, optimizer=setup.optimizer, grad_checkpointing=setup.grad_checkpointing,
        attention=setup.attention, targets=tuple(setup.targets.modules), lora_dropout=setup.lora_dropout,
    )


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _seconds(v: float | None) -> str:
    if v is None:
        return "-"
    m, s = divmod(int(round(v)), 60)
    return f"{m}m{s:02d}s" if m else f"{v:.1f}s"


def _thin(xs: list, ys: list) -> tuple[list, list]:
    if len(xs) <= MAX_POINTS:
        return xs, ys
    stride = -(-len(xs) // MAX_POINTS)
    return xs[::stride] + [xs[-1]], ys[::stride] + [ys[-1]]


class ProbeActionDone(Message):
    """A cancel or retry finished in its thread worker (text says what happened)."""

    def __init__(self, text: str, error: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error


class ProbesPanel(Widget):
    """Probe runs read from `runs_dir` (default: $XDG_STATE_HOME/lorplan/runs)."""

    DEFAULT_CSS = (Path(__file__).with_suffix(".tcss")).read_text(encoding="utf-8")
    BINDINGS = [
        Binding("c", "cancel_probe", "Cancel probe", id="probes.cancel_probe",
                tooltip="End the highlighted probe's process group (queued: it never starts)"),
        Binding("C", "cancel_run", "Cancel run", id="probes.cancel_run", show=False,
                tooltip="Cancel every probe of this run"),
        Binding("t", "retry_probe", "Retry probe", id="probes.retry_probe",
                tooltip="Queue the highlighted probe again (its earlier attempt is kept aside)"),
        Binding("p", "start_plan", "Probe this plan", id="probes.start_plan",
                tooltip="Probe the Plan tab's model and setup on the Data tab's dataset, at ranks around the "
                        "selected one (a quarter, a half, itself, double)"),
        Binding("s", "start_demo", "Start demo", id="probes.start_demo", show=False,
                tooltip="Start the embedded demo: all-MiniLM-L6-v2 at ranks 4, 8, 16, 32 on generated data"),
    ]

    def __init__(self, runs_dir: Path | None = None, *, backend: Backend | None = None,
                 poll_seconds: float = POLL_SECONDS, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.watcher: RunWatcher | None = None
        self.status: RunStatus | None = None
        self.plotted: dict[str, int] = {}  # probe id -> points plotted (what the last redraw showed)
        self._run_ids: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        with Horizontal(id="probes-top"):
            yield Select([], prompt="probe run", allow_blank=True, id="probes-run", compact=True)
            yield Static("", id="probes-summary")
        table = DataTable(id="probes-table", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        with Horizontal(id="probes-body"):
            yield PlotextPlot(id="probes-plot")
            yield Static("", id="probes-detail")
        yield Static("No probe runs yet. Press p to probe the plan on your profiled dataset (the model must be "
                     "a local folder or in your Hugging Face cache), s to start the embedded demo "
                     "(all-MiniLM-L6-v2, ranks 4, 8, 16, 32, on CPU in a couple of minutes), or run: "
                     "lorplan probe start --model M --data FILE", id="probes-empty")

    def on_mount(self) -> None:
        self.border_title = "Probes"
        self.poll()
        self.set_interval(self.poll_seconds, self.poll)

    # -- reading ---------------------------------------------------------------------------------------

    def _runs(self) -> list[RunDir]:
        return list_runs(self.runs_dir)

    def poll(self) -> None:
        runs = self._runs()
        ids = tuple(r.id for r in runs)
        select = self.query_one("#probes-run", Select)
        if ids != self._run_ids:
            self._run_ids = ids
            current = select.value if isinstance(select.value, str) else None
            select.set_options([(self._run_label(r), r.id) for r in reversed(runs)])
            if current in ids:
                select.value = current
            elif ids:
                select.value = ids[-1]  # the newest run
        self.set_class(not ids, "-empty")
        if self.watcher is not None:
            self._show(self.watcher.refresh())

    @staticmethod
    def _run_label(run: RunDir) -> str:
        try:
            plan = run.plan()
        except LorplanError:
            return run.id
        model = Path(plan.model).name if plan.model else "demo"
        return f"{run.id} · {model} · r{','.join(str(p.rank) for p in plan.probes)}"

    @on(Select.Changed, "#probes-run")
    def _run_chosen(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        if self.watcher is not None and self.watcher.run.id == event.value:
            return
        run = next((r for r in self._runs() if r.id == event.value), None)
        if run is None:
            return
        try:
            self.watcher = RunWatcher(run, self.backend)
        except LorplanError as exc:  # a run folder whose plan.json was damaged
            self.notify(str(exc), severity="error")
            return
        self.plotted = {}
        self.query_one("#probes-table", DataTable).clear()
        self._show(self.watcher.refresh())

    # -- showing ---------------------------------------------------------------------------------------

    def _show(self, st: RunStatus) -> None:
        self.status = st
        table = self.query_one("#probes-table", DataTable)
        for p in st.probes:
            cells = self._cells(p)
            if p.id in table.rows:
                for (key, _), value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(p.id, key, value)
            else:
                table.add_row(*cells, key=p.id)
        counts = st.counts()
        order = ("running", "queued", "finished", "failed", "oom", "died", "cancelled")
        parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
        sched = "scheduler running" if st.scheduler_alive else ("stalled" if st.stalled else "done" if st.done else "")
        self.query_one("#probes-summary", Static).update(f"{', '.join(parts)}  ·  {sched}  ·  {st.plan.steps} steps")
        self._show_detail()
        self._plot(st)

    @staticmethod
    def _cells(p: ProbeStatus) -> tuple:
        return (
            Text(f"r{p.rank}" + (f" lr {p.lr:g}" if p.lr is not None and "-lr" in p.id else "")),
            Text(p.state, style=_RICH_STYLE.get(p.state, "")),
            f"{p.step}/{p.steps}",
            _num(p.loss, ".4f"),
            _num(p.eval_loss, ".4f"),
            _num(p.eval_accuracy, ".3f"),
            _num(p.tokens_per_second, ".0f"),
            _seconds(p.wall_seconds),
            format_bytes(p.peak_memory_bytes) if p.peak_memory_bytes else "-",
        )

    def selected(self) -> ProbeStatus | None:
        """The probe of the highlighted row."""
        if self.status is None or not self.status.probes:
            return None
        table = self.query_one("#probes-table", DataTable)
        row = min(max(table.cursor_row, 0), len(self.status.probes) - 1)
        key = table.coordinate_to_cell_key((row, 0)).row_key.value if table.row_count else None
        return next((p for p in self.status.probes if p.id == key), None)

    @on(DataTable.RowHighlighted, "#probes-table")
    def _show_detail(self, _event=None) -> None:
        p = self.selected()
        detail = self.query_one("#probes-detail", Static)
        if p is None:
            detail.update("")
            return
        head = f"{p.id}: {p.state}" + (f" — {p.message}" if p.message else "")
        facts = [f"lr {p.lr:g}" if p.lr else None, p.device,
                 f"{p.trainable_params:,} trainable" if p.trainable_params else None]
        lines = [head, " · ".join(f for f in facts if f)]
        if p.error and p.state in ("failed", "died", "oom"):
            lines += ["", *p.error.splitlines()[-12:]]
        for w in p.warnings:
            lines.append(f"warning: {w}")
        detail.set_class(p.state in ("failed", "died", "oom"), "-error")
        detail.update(Text("\n".join(lines)))

    def _plot(self, st: RunStatus) -> None:
        assert self.watcher is not None
        counts = {pid: len(c.steps) + len(c.eval_steps) for pid, c in self.watcher.curves.items()}
        if counts == self.plotted:
            return
        self.plotted = counts
        widget = self.query_one("#probes-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.title("loss per step (lines: train, dots: eval)")
        plt.xlabel("step")
        for p in st.probes:
            c = self.watcher.curves[p.id]
            if c.steps:
                xs, ys = _thin(c.steps, c.loss)
                plt.plot(xs, ys, label=f"r{p.rank}")
            if c.eval_steps:
                plt.scatter(c.eval_steps, c.eval_loss, marker="dot")
        widget.refresh()

    # -- actions ---------------------------------------------------------------------------------------

    def action_cancel_probe(self) -> None:
        p = self.selected()
        if p is None or self.watcher is None:
            return
        if p.state not in ("queued", "running"):
            self.notify(f"{p.id} has already ended ({p.state})", severity="warning")
            return
        self._cancel(self.watcher.run, p.id)

    def action_cancel_run(self) -> None:
        if self.watcher is not None:
            self._cancel(self.watcher.run, None)

    @work(thread=True, exclusive=False, group="probe-actions")
    def _cancel(self, run: RunDir, probe_id: str | None) -> None:
        try:
            done = runner.cancel(run, probe_id=probe_id, backend=self.backend)
            self.post_message(ProbeActionDone(f"cancelled {', '.join(done)}" if done else "nothing left to cancel"))
        except LorplanError as exc:
            self.post_message(ProbeActionDone(str(exc), error=True))

    def action_retry_probe(self) -> None:
        p = self.selected()
        if p is None or self.watcher is None:
            return
        if p.state in ("queued", "running"):
            self.notify(f"{p.id} is {p.state}; cancel it before retrying", severity="warning")
            return
        self._retry(self.watcher.run, p.id)

    @work(thread=True, exclusive=False, group="probe-actions")
    def _retry(self, run: RunDir, probe_id: str) -> None:
        try:
            runner.retry(run, probe_id, backend=self.backend)
            self.post_message(ProbeActionDone(f"{probe_id} queued again"))
        except LorplanError as exc:
            self.post_message(ProbeActionDone(str(exc), error=True))

    def action_start_plan(self) -> None:
        screen = self.screen
        plan = getattr(screen, "plan", None)
        data = screen.plan_data() if hasattr(screen, "plan_data") else None
        if plan is None:
            self.notify("Choose a model in the Plan tab first.", severity="warning")
            return
        if data is None:
            self.notify("Profile your dataset in the Data tab first: the probes train on it.", severity="warning")
            return
        try:
            settings = plan_probe_settings(plan.source, plan.setup, plan.rank, data)
        except LorplanError as exc:
            self.notify(f"Probes need the model's weights: {exc}", severity="warning", timeout=10)
            return
        self._start_plan(settings)

    @work(thread=True, exclusive=True, group="probe-start")
    def _start_plan(self, settings: dict) -> None:
        try:
            settings = dict(settings)
            plan = runner.make_plan(settings.pop("ranks"), **settings)
            run = runner.start(plan, root=self.runs_dir, backend=self.backend)
            ranks = ", ".join(str(p.rank) for p in plan.probes)
            self.post_message(ProbeActionDone(f"started run {run.id}: ranks {ranks}"))
        except LorplanError as exc:
            self.post_message(ProbeActionDone(str(exc), error=True))

    def action_start_demo(self) -> None:
        self._start_demo()

    @work(thread=True, exclusive=True, group="probe-start")
    def _start_demo(self) -> None:
        try:
            plan = runner.make_plan((4, 8, 16, 32), steps=DEMO_STEPS, eval_every=10, eval_examples=DEMO_EVAL_EXAMPLES)
            run = runner.start(plan, root=self.runs_dir, backend=self.backend)
            self.post_message(ProbeActionDone(f"started demo run {run.id}"))
        except LorplanError as exc:
            self.post_message(ProbeActionDone(str(exc), error=True))

    @on(ProbeActionDone)
    def _action_done(self, message: ProbeActionDone) -> None:
        self.notify(message.text, severity="error" if message.error else "information")
        self.poll()
