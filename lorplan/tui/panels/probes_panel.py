"""The Probes tab: pick a run, see its queue and per-probe state, live loss and eval curves of every rank on
one plot (the train loss smoothed, each rank's line with its own marker and label), the final table (each probe
named as its line is, with its seed when the run repeats ranks over seeds; eval loss / accuracy, training and
loading time, peak memory as the comparison writes it), the ranks compared side by side (`v`), cancel and
retry.

The panel only reads the run folders, so closing lorplan never stops a probe and opening it again shows the
same run. Reading (listing runs, event logs read incrementally, process-liveness locks) happens in a thread
worker every `poll_seconds`, through probe_bridge.ProbeFeed; the worker posts a replaceable ProbeRunUpdated
with a frozen read and the handler only draws it. Start, cancel and retry run in thread workers too (a start
says "starting probes…" in the status line beside the run list, and p or s pressed meanwhile starts no second
run); the workers are in probe_work.py, this module draws what they post and checks what an action needs first. `p`
probes the plan on screen, exactly as the export would write it (bridge.plan_from_setup of the Plan tab's
snapshot and the Data tab's profile, which the screen hands down as `plan` and `data`), at ranks around the
selected one; the tab then follows the new run. Never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Select, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from lorplan.core.units import counted, memory_text
from lorplan.tui import bridge, probe_bridge
from lorplan.tui.layout import tab_shown
from lorplan.tui.messages import ProbeActionFinished, ProbeRunUpdated, WorkerFailed
from lorplan.tui.panels import probe_plot
from lorplan.tui.panels.probe_work import ProbeWork
from lorplan.tui.state import PlanData, PlanSnapshot
from lorplan.tui.widgets.whole_column_table import WholeColumnTable

POLL_SECONDS = 1.0
# below this height (80x24 leaves the panel 20 rows) the probe table shows fewer rows: the plot keeps its x axis
SHORT_HEIGHT = 26
# narrower than this (a 60-column terminal) the loss plot's 40 columns and the side column's 28 (min-width in
# probes_panel.tcss) do not fit side by side: they share the width 2:1 (-shared-width; not the other tabs' -narrow,
# which is the terminal under 110 columns). With both minimums the plot was laid out 116 columns wide in the 58 it
# had, its right half and the legend off the screen.
SHARED_WIDTH_BELOW = 40 + 28
# Short headings: 79 columns (the DataTable's width) for 3 seeds of 4 ranks at any number of steps below 10,000 (80x24 keeps a 1-cell
# scrollbar). The step column shows the step alone: every probe of a run has the summary's number of steps, and
# "100/100" made the table 81 columns. A run whose table is still wider (learning rates in the names, 10 seeds)
# scrolls by whole columns.
COLUMNS = (("rank", "probe"), ("state", "state"), ("step", "step"), ("loss", "loss"), ("eval_loss", "eval"),
           ("acc", "acc"), ("tps", "tok/s"), ("train", "train"), ("load", "load"), ("mem", "peak mem"))
IN_PROGRESS = " (already in progress)"  # what p and s add to the status line while a start is on its way
_RICH_STYLE = {"queued": "dim", "running": "bold cyan", "finished": "green", "failed": "bold red",
               "oom": "bold red", "died": "bold red", "cancelled": "yellow"}


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


_seconds = probe_plot.seconds_text


class LossPlot(PlotextPlot):
    """The loss plot, which says when its size changes: its title, label room and end labels are fit to its
    size (probe_plot.draw_curves), and that size can change while the panel's does not (the first run shown in
    the empty panel, the table taking more rows, a resize while the comparison was shown). The first run in an
    empty panel was drawn for a plot 0x0, its title the shortest form at 140 columns, and never drawn again."""

    class Resized(Message):
        """The plot's size changed (bubbles to the panel, which draws the curves again)."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())


class ProbesPanel(ProbeWork, Widget, can_focus=True):
    """Probe runs read from `runs_dir` (default: $XDG_STATE_HOME/lorplan/runs).

    The panel itself takes the focus while it has no run (its table is hidden then), so its keys (p, s, ...)
    work as soon as the tab is shown; the table takes it back when a run appears."""

    DEFAULT_CSS = (Path(__file__).with_suffix(".tcss")).read_text(encoding="utf-8")
    BINDINGS = [
        Binding("c", "cancel_probe", "Cancel probe", id="probes.cancel_probe",
                tooltip="End the highlighted probe's process group (queued: it never starts)"),
        # c once no probe can be cancelled: hidden from the footer (cancel_probe is), but it says why nothing
        # happened; c did nothing at all there. The same id: a keymap moves both.
        Binding("c", "cancel_ended", "Cancel probe", id="probes.cancel_probe", show=False),
        Binding("C", "cancel_run", "Cancel run", id="probes.cancel_run", show=False,
                tooltip="Cancel every probe of this run"),
        Binding("t", "retry_probe", "Retry probe", id="probes.retry_probe",
                tooltip="Queue the highlighted probe again (its earlier attempt is kept aside; not on a "
                        "probe ladder that has ended)"),
        Binding("p", "start_plan", "Probe this plan", id="probes.start_plan",
                tooltip="Probe the Plan tab's model and setup on the Data tab's dataset, at ranks around the "
                        "selected one (a quarter, a half, itself, double; none above what a module can use)"),
        Binding("s", "start_demo", "Start demo", id="probes.start_demo", show=False,
                tooltip="Start the embedded demo: all-MiniLM-L6-v2 at ranks 4, 8, 16, 32 on generated data"),
        Binding("v", "toggle_compare", "Compare ranks", id="probes.compare",
                tooltip="Switch between the loss curves and the ranks side by side (final eval loss and "
                        "accuracy with 95% intervals over seeds, training and loading time, peak memory)"),
    ]

    def __init__(self, runs_dir: Path | None = None, *, backend: probe_bridge.Backend | None = None,
                 poll_seconds: float = POLL_SECONDS, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.plan: PlanSnapshot | None = None  # handed down by the screen: the plan on screen
        self.data: PlanData | None = None  # handed down by the screen: the Data tab's last profile
        self.status: probe_bridge.RunStatus | None = None
        self.plotted: dict[str, int] = {}  # probe id -> points plotted (what the last redraw showed)
        self.ranks: tuple[probe_bridge.RankRow, ...] = ()  # the finished ranks compared (last drawn)
        self._feed = probe_bridge.ProbeFeed(self.runs_dir, backend)
        self._reading: Worker | None = None
        self._reads = 0  # the reads started so far (ProbeRunUpdated.seq)
        # (run id, probe id) -> the last read started before its retry ended, or the retry's worker while it is on
        # its way: t pressed again before a read started after that shows the probe queued says so, and queues
        # nothing
        self._retrying: dict[tuple[str, str], int | Worker] = {}
        self._chosen: str | None = None  # the run asked for (None: the newest)
        self._runs: tuple[tuple[str, str], ...] = ()  # (id, label) of the runs in the list
        self._run: probe_bridge.RunDir | None = None  # the run on screen
        self._problem: str | None = None  # the last problem notified (once, not every second)
        self._read_error: str | None = None
        self._curves: dict = {}  # the curves last plotted (drawn again when the plot's size changes)
        self._plot_size = (0, 0)  # the plot's width and height when it was last drawn
        self._can: frozenset[str] = frozenset()  # the run keys that can act now (check_action)
        self._summary = ""  # the run's summary line (shown unless a start is on its way)
        self._starting: str | None = None  # what the status line says while a start is on its way
        self._start_worker: Worker | None = None  # the start on its way (None: p and s start one)

    def compose(self) -> ComposeResult:
        with Horizontal(id="probes-top"):
            yield Select([], prompt="probe run", allow_blank=True, id="probes-run", compact=True)
            yield Static("", id="probes-summary")
        # the probe's name stays at the left while a table wider than the view scrolls by whole columns
        table = WholeColumnTable(id="probes-table", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        with Horizontal(id="probes-body"):
            yield LossPlot(id="probes-plot")
            with Vertical(id="probes-side"):
                yield Static("", id="probes-legend")
                yield Static("", id="probes-detail")
        # the table and its plot side by side, or one under the other when the plot has no room beside it
        # (-stacked); what is taller than the view scrolls (Tab reaches it, for the keys)
        with ScrollableContainer(id="probes-compare"):
            yield Static(Text(probe_plot.comparison_text(())), id="probes-compare-table")
            yield PlotextPlot(id="probes-compare-plot")
        yield Static("No probe runs yet. Press p to probe the plan on your profiled dataset (the model must be "
                     "a local folder or in your Hugging Face cache), s to start the embedded demo "
                     "(all-MiniLM-L6-v2, ranks 4, 8, 16, 32, on CPU in a couple of minutes), or run: "
                     "lorplan probe start --model M --data FILE", id="probes-empty")

    def on_mount(self) -> None:
        self.border_title = "Probes"
        self.poll()
        self.set_interval(self.poll_seconds, self._tick)

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_HEIGHT, "-short")
        self._fit_width()
        self._fit_compare()
        self.call_after_refresh(self._fit_curves)  # once the plot and the legend beside it have their new widths

    @on(LossPlot.Resized)
    def _plot_resized(self, event: LossPlot.Resized) -> None:
        event.stop()
        self._fit_curves()

    def _fit_width(self) -> None:
        self.set_class(self.scrollable_size.width < SHARED_WIDTH_BELOW, "-shared-width")

    def watch_show_vertical_scrollbar(self) -> None:
        """The panel's scrollbar (a short terminal) can come after on_resize measured the width, with no resize:
        at 69x20 a run's rows brought it, the 67 columns left were one short of both minimums, and the plot was
        laid out 134 wide. The width is measured again whenever the scrollbar comes or goes."""
        self._fit_width()
        self.call_after_refresh(self._fit_curves)

    def focus_default(self) -> None:
        """Focus the probe table, or the panel while there is no run (a hidden table would drop the focus). Set at
        once: Widget.focus defers it to a later message, by which time the first read may have hidden the table
        the focus was meant for, and the focus was lost (seen under load)."""
        self.screen.set_focus(self if self.has_class("-empty") else self.query_one("#probes-table", DataTable))

    def _focus_what_is_shown(self) -> None:
        """Move the focus to what is shown (the table, or the panel while it has no run), and take it back when
        it was lost while this panel's tab is the one shown: its keys (p, s, c, ...) work only with the focus in
        it."""
        focused, table, empty = self.screen.focused, self.query_one("#probes-table", DataTable), self.has_class("-empty")
        if (focused is table and empty) or (focused is self and not empty) or (focused is None and self._tab_shown()):
            self.focus_default()

    def _tab_shown(self) -> bool:
        """Whether this panel's tab is the active one (layout.tab_shown)."""
        return tab_shown(self)

    # -- what the read shows (read by ProbeWork's thread worker) ----------------------------------------

    def on_probe_run_updated(self, message: ProbeRunUpdated) -> None:
        read = message.read
        if read is not None and read.run is not None:  # a read started after a retry ended shows its probe
            self._retrying = {key: seq for key, seq in self._retrying.items()
                              if key[0] != read.run.id or isinstance(seq, Worker) or message.seq <= seq}
        if read.requested != self._chosen:
            return  # read before the user picked another run
        select = self.query_one("#probes-run", Select)
        shown = read.run.id if read.run is not None else None
        with self.prevent(Select.Changed):
            if read.runs != self._runs:
                self._runs = read.runs
                select.set_options([(label, run_id) for run_id, label in reversed(read.runs)])
            if shown is not None and select.value != shown:
                select.value = shown
        self.set_class(not read.runs, "-empty")
        self._focus_what_is_shown()
        self._chosen = shown  # stay on this run when newer ones appear
        if read.run != self._run:  # another run: its table and plots start afresh
            self._run, self.status, self.plotted = read.run, None, {}
            self.query_one("#probes-table", DataTable).clear()
            self._compare(())
        if read.problem is not None and read.problem != self._problem:
            self.notify(read.problem, severity="error")
        self._problem = read.problem
        if read.status is not None:
            self._show(read.status, read.curves)
            self._compare(read.ranks)
        self._offer_keys()

    @on(Select.Changed, "#probes-run")
    def _run_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self._chosen:
            self._chosen = event.value
            self.poll()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._start_worker and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                  WorkerState.CANCELLED):
            # after its ProbeActionFinished (posted before the worker returned): p and s start a run again, a
            # failed start too
            self._start_worker, self._starting = None, None
            self._show_summary()
        if event.state != WorkerState.ERROR:
            return
        text = f"{type(event.worker.error).__name__}: {event.worker.error}"
        if event.worker.group == "probe-actions":  # a retry that raised posts no ProbeActionFinished: t may try
            # again; only that retry's probe (another's, still on its way, would be queued twice)
            self._retrying = {key: seq for key, seq in self._retrying.items() if seq is not event.worker}
        if event.worker.group == "probes-read":
            if text == self._read_error:
                return  # the same failure every second is reported once
            self._read_error = text
        self.post_message(WorkerFailed(event.worker.name, event.worker.error))

    # -- showing ---------------------------------------------------------------------------------------

    def _show(self, st: probe_bridge.RunStatus, curves) -> None:
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
        if st.scheduler_alive:
            sched = "scheduler running"
        elif st.not_run:  # an ended ladder's queued probes: nothing starts them (the detail says so)
            sched = f"ladder {st.ladder_end}: queued not run"
        elif st.stalled:
            sched = "stalled"
        elif st.driver_alive:  # a ladder between passes: its driver is about to add probes
            sched = "ladder running"
        elif st.space_wait is not None:  # its queued probes wait for disk space: the detail says where
            sched = "waiting for disk space"
        else:
            sched = st.state  # done, cancelled, or running (probes a killed scheduler left)
        # " · " as the run's label beside it: the label keeps 4 more columns at 80 (its ranks, "r4,8,16,32 ×3")
        self._summary = f"{', '.join(parts)} · {sched} · {counted(st.plan.steps, 'step')}"
        self._show_summary()
        self._show_detail()
        self._plot(st, curves)

    def _show_summary(self) -> None:
        """The status line beside the run list: "starting probes…" while a start is on its way, else the run's."""
        self.query_one("#probes-summary", Static).update(self._starting or self._summary)

    @staticmethod
    def _cells(p: probe_bridge.ProbeStatus) -> tuple:
        return (
            Text(probe_plot.rank_label(p)),  # "r4 s2": the name the plot's legend gives its line
            Text(p.state, style=_RICH_STYLE.get(p.state, "")),
            str(p.step),  # of the summary's "100 steps"
            _num(p.loss, ".4f"),
            _num(p.eval_loss, ".4f"),
            _num(p.eval_accuracy, ".3f"),
            _num(p.tokens_per_second, ".0f"),
            _seconds(p.train_seconds),
            "loading" if p.state == "running" and p.load_seconds is None else _seconds(p.load_seconds),
            memory_text(p.peak_memory_bytes) if p.peak_memory_bytes else "-",  # as the comparison
        )

    def selected(self) -> probe_bridge.ProbeStatus | None:
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
        wait = self.status.space_wait if self.status is not None else None
        if p.state == "queued" and wait is not None:  # as `lorplan probe status` says it
            head += f" — {wait['message']}"
        facts = [f"lr {p.lr:g}" if p.lr else None, p.device,
                 f"{p.trainable_params:,} trainable" if p.trainable_params else None]
        lines = [head, " · ".join(f for f in facts if f)]
        if p.wall_seconds is not None:  # the train and load columns apart; the rest is start-up and waiting
            lines.append(f"wall {_seconds(p.wall_seconds)}: loading {_seconds(p.load_seconds)}, "
                         f"training {_seconds(p.train_seconds)}")
        if p.error and p.state in ("failed", "died", "oom"):
            lines += ["", *p.error.splitlines()[-12:]]
        for n in p.notes:
            lines.append(f"note: {n}")
        for w in p.warnings:
            lines.append(f"warning: {w}")
        detail.set_class(p.state in ("failed", "died", "oom"), "-error")
        detail.update(Text("\n".join(lines)))

    def _plot(self, st: probe_bridge.RunStatus, curves) -> None:
        counts = {pid: c.points for pid, c in curves.items()}
        if counts == self.plotted:
            return
        self.plotted, self._curves = counts, curves
        self._draw_curves()

    def _draw_curves(self) -> None:
        """The loss plot, its end labels' room and rows fit to the plot's size, its legend to the column beside."""
        widget = self.query_one("#probes-plot", LossPlot)
        probes = self.status.probes if self.status is not None else ()
        self._plot_size = tuple(widget.size)
        # a plot not laid out yet (hidden, or read before the first layout) is drawn for an unknown size, not for
        # a 0-column one (the shortest title); its Resized draws it again at its size
        probe_plot.draw_curves(widget.plt, probes, self._curves, widget.size.width or None,
                               widget.size.height or None)
        widget.refresh()
        legend = self.query_one("#probes-legend", Static)
        legend.update(probe_plot.legend_text(probes, self._curves, max(legend.content_size.width, 10)))

    def _fit_curves(self) -> None:
        if tuple(self.query_one("#probes-plot", LossPlot).size) != self._plot_size:  # the labels' rows too
            self._draw_curves()

    def _compare(self, rows: tuple[probe_bridge.RankRow, ...]) -> None:
        if rows == self.ranks and rows:
            return
        self.ranks = rows
        self._fit_compare()
        widget = self.query_one("#probes-compare-plot", PlotextPlot)
        probe_plot.draw_comparison(widget.plt, rows)
        widget.refresh()

    def _fit_compare(self) -> None:
        """The comparison table for the panel's width, with the plot beside it or, when that leaves the plot too
        little room, under it."""
        text, beside = probe_plot.compare_layout(self.ranks, self.size.width)
        self.set_class(not beside, "-stacked")
        self.query_one("#probes-compare-table", Static).update(Text(text))  # "[95% interval]" is no markup

    # -- which keys the footer offers ----------------------------------------------------------------

    _RUN_ACTIONS = frozenset({"cancel_probe", "cancel_run", "retry_probe", "toggle_compare"})
    # acts exactly when cancel_probe cannot, with a run on screen (check_action)
    _ENDED_ACTION = "cancel_ended"

    def _keys_that_act(self) -> frozenset[str]:
        """The run keys that can act on the run on screen: none without a run (they would only say "No probe
        run yet"), c while a probe is queued or running, t once one has ended."""
        if self._run is None:
            return frozenset()
        can = {"cancel_run", "toggle_compare"}
        states = {p.state for p in self.status.probes} if self.status is not None else None
        if states is None or states & {"queued", "running"}:
            can.add("cancel_probe")
        if states is None or states - {"queued", "running"}:
            can.add("retry_probe")
        return frozenset(can)

    def _offer_keys(self) -> None:
        """Redraw the footer when the keys that can act change (not at every read: a footer redraw a second)."""
        can = self._keys_that_act()
        if can != self._can:
            self._can = can
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A run key that cannot act is hidden from the footer (and does nothing): the empty panel says how
        to start a run."""
        if action in self._RUN_ACTIONS:
            return action in self._can
        if action == self._ENDED_ACTION:
            return self._run is not None and "cancel_probe" not in self._can
        return True

    def action_toggle_compare(self) -> None:
        if self._run is None:  # not offered without a run (check_action)
            return
        self.toggle_class("-compare")

    # -- actions ---------------------------------------------------------------------------------------

    def _target(self, what: str) -> probe_bridge.ProbeStatus | None:
        """The highlighted probe, or None after one warning saying why there is none to `what` (None without a
        warning without a run: check_action offers c and t only with one)."""
        if self._run is None:
            return None
        p = self.selected()
        if p is None:  # a run whose plan could not be read (its problem was notified), or no probe yet
            self.notify(f"Run {self._run.id} has no probe to {what}", severity="warning")
        return p

    def action_cancel_probe(self) -> None:
        p = self._target("cancel")
        if p is None or self._run is None:
            return
        if p.state not in ("queued", "running"):
            self.notify(f"probe {p.id} has already ended ({p.state}); nothing to cancel", severity="warning")
            return
        self._cancel(self._run, p.id, self.backend)

    def action_cancel_ended(self) -> None:
        """c when no probe of the run is queued or running: what c would say of the highlighted probe."""
        self.action_cancel_probe()

    def action_cancel_run(self) -> None:
        if self._run is None:  # not offered without a run (check_action)
            return
        self._cancel(self._run, None, self.backend)

    def action_retry_probe(self) -> None:
        p = self._target("retry")
        if p is None or self._run is None:
            return
        key = (self._run.id, p.id)
        if key in self._retrying:  # the table shows the probe ended until a read after the retry
            self.notify(f"{p.id} is already queued again", severity="warning")
            return
        if p.state in ("queued", "running"):
            self.notify(f"{p.id} is {p.state}; cancel it before retrying", severity="warning")
            return
        self._retrying[key] = self._retry(self._run, p.id, self.backend, bridge.session_trusts(self.app))

    def action_start_plan(self) -> None:
        if self._already_starting():
            return
        if self.plan is None:
            self.notify("Choose a model in the Plan tab first (F5).", severity="warning")
            return
        if self.data is None:
            self.notify("Profile your dataset in the Data tab first (F6): the probes train on it.", severity="warning")
            return
        self._start_once("starting probes…", lambda: self._start_plan(self.plan, self.data, self.runs_dir,
                                                                         self.backend))

    def action_start_demo(self) -> None:
        if self._already_starting():
            return
        self._start_once("starting the demo…", lambda: self._start_demo(self.runs_dir, self.backend))

    def _already_starting(self) -> bool:
        """Whether a start is on its way, saying so in the status line. A classifier's start reads its whole data
        file for its labels (seconds for a large one): a second press, the first seeming lost, started a second
        run. It now starts nothing; p and s start a run again once the start has ended (on_worker_state_changed),
        a failed one too."""
        if self._start_worker is None:
            return False
        self._starting = (self._starting or "starting…").removesuffix(IN_PROGRESS) + IN_PROGRESS
        self._show_summary()
        return True

    def _start_once(self, starting: str, start) -> None:
        """Start a run in a thread worker (`start()` returns it), saying `starting` in the status line at once."""
        self._starting = starting
        self._show_summary()
        self._start_worker = start()

    def on_probe_action_finished(self, message: ProbeActionFinished) -> None:
        self.notify(message.text, severity=message.severity, timeout=message.timeout)
        if message.run_id is not None:
            self._chosen = message.run_id  # a run just started: show it, not the one on screen before
        if message.retried is not None:  # queued: t says so until the next read shows it; refused: t may try again
            if message.severity == "error":
                self._retrying.pop(message.retried, None)
            else:
                self._retrying[message.retried] = self._reads
        self.poll()
