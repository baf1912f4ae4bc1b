"""What the Probes tab does in thread workers: read the run folders every poll, cancel, retry, start a run.

ProbeWork is mixed into ProbesPanel (panels/probes_panel.py), which draws: a worker here never touches a widget,
it posts a message (a replaceable ProbeRunUpdated with a frozen read of the run, ProbeActionFinished saying what
an action did) and the panel's handlers show it. A start reads the whole data file of a classifier for its labels
(seconds for a large one): the panel says "starting" meanwhile and starts no second run until it has ended. A newer read cancels an older one (exclusive), and a slow disk
never builds a backlog of reads. The panel reports a worker's failure (its Worker.StateChanged handler). Never
imports torch: the reading and the actions go through probe_bridge, the plan through bridge.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.worker import Worker, get_current_worker

from lorplan.core.errors import LorplanError
from lorplan.tui import bridge, probe_bridge
from lorplan.tui.messages import ProbeActionFinished, ProbeRunUpdated
from lorplan.tui.state import PlanData, PlanSnapshot


def rank_ladder(rank: int) -> tuple[int, ...]:
    """Ranks probed around the selected one: a quarter, a half, itself and double (16 -> 4, 8, 16, 32)."""
    return tuple(sorted({max(1, rank // 4), max(1, rank // 2), rank, rank * 2}))


class ProbeWork:
    """The Probes panel's thread workers. The panel sets `_feed` (a probe_bridge.ProbeFeed), `_chosen` (the run
    asked for, None: the newest) and `_reading` (the read in flight); post_message and the workers are the
    widget's."""

    _feed: probe_bridge.ProbeFeed
    _chosen: str | None
    _reading: Worker | None
    _reads: int  # the reads started so far (the number of the last one)

    # -- reading -----------------------------------------------------------------------------------------------

    def poll(self) -> None:
        """Read the run folders now, in a thread worker (a newer read cancels an older one)."""
        self._reads += 1
        self._reading = self._read(self._feed, self._chosen, self._reads)

    def _tick(self) -> None:
        if self._reading is None or self._reading.is_finished:  # a slow disk: never a backlog of reads
            self.poll()

    @work(thread=True, exclusive=True, group="probes-read", exit_on_error=False)
    def _read(self, feed: probe_bridge.ProbeFeed, run_id: str | None, seq: int) -> None:
        # Worker thread: lists runs, reads event logs, takes liveness locks; never touches a widget.
        read = feed.read(run_id)
        if not get_current_worker().is_cancelled:
            self.post_message(ProbeRunUpdated(read, seq))

    # -- actions -----------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=False, group="probe-actions", exit_on_error=False)
    def _cancel(self, run: probe_bridge.RunDir, probe_id: str | None, backend: probe_bridge.Backend | None) -> None:
        try:
            done = probe_bridge.cancel(run, probe_id, backend)
        except LorplanError as exc:
            self.post_message(ProbeActionFinished(str(exc), "error"))
            return
        self.post_message(ProbeActionFinished(f"cancelled {', '.join(done)}" if done else "nothing left to cancel"))

    @work(thread=True, exclusive=False, group="probe-actions", exit_on_error=False)
    def _retry(self, run: probe_bridge.RunDir, probe_id: str, backend: probe_bridge.Backend | None,
               trusted: bool = False) -> None:
        try:
            probe_bridge.retry(run, probe_id, backend, trusted)
        except LorplanError as exc:
            self.post_message(ProbeActionFinished(str(exc), "error", retried=(run.id, probe_id)))
            return
        self.post_message(ProbeActionFinished(f"{probe_id} queued again", retried=(run.id, probe_id)))

    # A start is never `exclusive`: that marks the thread worker before it cancelled, but the thread goes on and
    # starts its run too. The panel starts one at a time instead (ProbesPanel._start_once).
    @work(thread=True, exclusive=False, group="probe-start", exit_on_error=False)
    def _start_plan(self, snapshot: PlanSnapshot, data: PlanData, runs_dir: Path | None,
                    backend: probe_bridge.Backend | None) -> None:
        try:
            plan = bridge.plan_from_setup(snapshot, data)  # the plan the export writes, every setting of it
            # what `lorplan probe start` checks, before anything starts; ranks no targeted module can use left out
            # the profile's labels count every row: one label alone is refused beyond the checks' first rows
            ranks, notes = probe_bridge.check_start(plan, snapshot.rank, rank_ladder(snapshot.rank),
                                                    profile=data.profile)
        except LorplanError as exc:
            self.post_message(ProbeActionFinished(f"Cannot probe this plan: {exc}", "warning", 10))
            return
        try:
            run = probe_bridge.start_plan(ranks, plan, runs_dir=runs_dir, backend=backend)
        except LorplanError as exc:
            self.post_message(ProbeActionFinished(str(exc), "error"))
            return
        text = f"started run {run.id}: ranks {', '.join(map(str, ranks))}"
        self.post_message(ProbeActionFinished("\n".join([text, *notes]), run_id=run.id))

    @work(thread=True, exclusive=False, group="probe-start", exit_on_error=False)
    def _start_demo(self, runs_dir: Path | None, backend: probe_bridge.Backend | None) -> None:
        try:
            run = probe_bridge.start_demo(runs_dir=runs_dir, backend=backend)
        except LorplanError as exc:
            self.post_message(ProbeActionFinished(str(exc), "error"))
            return
        self.post_message(ProbeActionFinished(f"started demo run {run.id}", run_id=run.id))
