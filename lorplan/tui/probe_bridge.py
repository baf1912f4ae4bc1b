"""The TUI's door to the probe layer (lorplan.probe): read the run folders, start, cancel and retry probes.

Plain Python (no Textual). Everything here reads files, takes file locks or starts processes, so the Probes
panel calls it from thread workers only, and what comes back is frozen. Inside lorplan.tui only this module
imports lorplan.probe (checked by import-linter, pyproject.toml); lorplan.tui.bridge is the door to the core.
Never imports torch: the probe processes do.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from lorplan.core.errors import BadInput, LorplanError
from lorplan.probe import runner
from lorplan.probe.backend import LocksRefused
from lorplan.probe.compare import RankRow, compare_ranks, interval_text, rank_text  # noqa: F401 (the panels' door)
from lorplan.probe.consent import RemoteCodeRefused, asks_remote_code, run_refusal
from lorplan.probe.demo import (
    DEMO_EVAL_EVERY,
    DEMO_EVAL_EXAMPLES,
    DEMO_LEARNING_RATE,
    DEMO_SEQ_LEN,
    DEMO_STEPS,
)
from lorplan.probe.plans import plan_settings
from lorplan.probe.runs import RunDir, list_runs
from lorplan.probe.status import RunWatcher, plan_stamp
from lorplan.tui.bridge import TRUST_COMMAND, consent_words, form_words

if TYPE_CHECKING:
    from lorplan.probe.backend import Backend
    from lorplan.probe.status import Curves, RunStatus
    from lorplan.tui.bridge import DataProfile, Plan

MAX_POINTS = 400  # points per plotted line: more would not show on a terminal and slow the redraw
# Weight of the exponential moving average of the plotted train loss: at micro-batch 1 each step's loss is one
# example's, mostly noise; 0.9 averages over about the last 10 steps (TensorBoard's smoothing, debiased).
EMA_WEIGHT = 0.9
DEMO_RANKS = (4, 8, 16, 32)


@dataclass(frozen=True)
class Curve:
    """What the plot shows of one probe: train loss per step, its moving average (`smoothed`, ema with
    EMA_WEIGHT, over every step before thinning) and eval loss at eval steps, thinned to at most MAX_POINTS per
    line; `points` counts every point received so far (train and eval), before thinning."""

    steps: tuple[int, ...]
    loss: tuple[float, ...]
    eval_steps: tuple[int, ...]
    eval_loss: tuple[float, ...]
    points: int
    smoothed: tuple[float, ...] = ()


@dataclass(frozen=True)
class ProbesRead:
    """One read of the run folders: every run (id, label; oldest first), the run shown and its status and
    curves. `requested` is the run id the read was asked for (None: the newest). `problem` is one line when the
    shown run could not be read (a damaged plan.json, a file system that refuses its locks)."""

    runs: tuple[tuple[str, str], ...]
    requested: str | None
    run: RunDir | None = None
    status: RunStatus | None = None
    curves: Mapping[str, Curve] = field(default_factory=lambda: MappingProxyType({}))
    problem: str | None = None
    ranks: tuple[RankRow, ...] = ()  # the finished ranks side by side (lorplan.probe.compare)


def _thin(xs: list, ys: list) -> tuple[tuple, tuple]:
    if len(xs) <= MAX_POINTS:
        return tuple(xs), tuple(ys)
    stride = -(-len(xs) // MAX_POINTS)
    return tuple(xs[::stride]) + (xs[-1],), tuple(ys[::stride]) + (ys[-1],)


def ema(values: list[float], weight: float = EMA_WEIGHT) -> list[float]:
    """The debiased exponential moving average of `values`: s_t = w·s_(t-1) + (1 − w)·x_t from s_0 = 0,
    divided by 1 − w^t so the first points are not pulled towards 0 (Adam's bias correction, Kingma & Ba
    2015, §3). A NaN value is skipped (the average carries on)."""
    out, s, n = [], 0.0, 0
    for x in values:
        if x == x:  # not NaN
            n += 1
            s = weight * s + (1 - weight) * x
        out.append(s / (1 - weight**n) if n else float("nan"))
    return out


def _curve(c: Curves) -> Curve:
    steps, loss = _thin(c.steps, c.loss)
    _, smoothed = _thin(c.steps, ema(c.loss))
    return Curve(steps, loss, tuple(c.eval_steps), tuple(c.eval_loss), len(c.steps) + len(c.eval_steps),
                 smoothed)


def ranks_text(ranks) -> str:
    """A run's probed ranks for its line in the run list, each rank once, with its number of probes when the run
    repeats it (over seeds or learning rates): `r4,8,16,32`, `r4,8,16,32 ×3` (three of each), `r4×3,8` (three
    of rank 4, one of 8), `base, r4,8 ×2` (a ladder's base probe). "r4,4,4,8,8,8,16,…" was cut off in the
    list before it said the ranks."""
    counts = Counter(ranks)
    repeats = set(counts.values())
    each = "" if len(repeats) != 1 or repeats == {1} else f" ×{repeats.pop()}"  # the same count for every rank

    def name(rank: int) -> str:
        return rank_text(rank) + (f"×{counts[rank]}" if not each and counts[rank] > 1 else "")

    numbered = [name(r) for r in sorted(counts) if r > 0]
    words = ([name(0)] if 0 in counts else []) + (["r" + ",".join(numbered)] if numbered else [])
    return ", ".join(words) + each


def _run_label(run: RunDir) -> str:
    """A run's line in the run list: its id, its ranks, then its model by the last part of its name (`20261201-
    100000-d00d · r4,8,16,32 ×3 · Qwen2.5-0.5B-Instruct`). The ranks come before the model: a line wider than
    the list is cut at its end, and a real model's name after the ranks cut off what tells the runs apart."""
    try:
        plan = run.plan()
    except LorplanError:
        return run.id
    model = Path(plan.model).name if plan.model else "demo"
    return f"{run.id} · {ranks_text(p.rank for p in plan.probes)} · {model}"


class ProbeFeed:
    """Reads the run folders under `runs_dir` (None: $XDG_STATE_HOME/lorplan/runs), one run's event logs
    incrementally (probe.status.RunWatcher). Safe to call from several threads: reads take turns."""

    def __init__(self, runs_dir: Path | None, backend: Backend | None = None) -> None:
        self.runs_dir = runs_dir
        self.backend = backend
        self._lock = threading.Lock()
        # run id -> (plan.json's stamp, label): a ladder's driver adds probes to plan.json, so a label is made
        # again when the file changed (one stat per run and read, as list_runs makes)
        self._labels: dict[str, tuple[tuple[int, int, int] | None, str]] = {}
        self._watcher: RunWatcher | None = None

    def read(self, run_id: str | None) -> ProbesRead:
        """The runs, and the status of `run_id` (the newest run when None or gone). Never raises LorplanError."""
        with self._lock:
            runs = list_runs(self.runs_dir)
            for run in runs:
                stamp = plan_stamp(run)
                if run.id not in self._labels or self._labels[run.id][0] != stamp:
                    self._labels[run.id] = (stamp, _run_label(run))
            listing = tuple((run.id, self._labels[run.id][1]) for run in runs)
            run = next((r for r in runs if r.id == run_id), runs[-1] if runs else None)
            if run is None:
                return ProbesRead(listing, run_id)
            if self._watcher is None or self._watcher.run != run:
                self._watcher = None
                try:
                    self._watcher = RunWatcher(run, self.backend)
                except LorplanError as exc:  # a run folder whose plan.json was damaged
                    return ProbesRead(listing, run_id, run, problem=str(exc))
            try:
                status = self._watcher.refresh()
            except LocksRefused as exc:  # its file system refuses flock: said, the watcher (what was read) kept
                return ProbesRead(listing, run_id, run, problem=str(exc))
            curves = {pid: _curve(c) for pid, c in self._watcher.curves.items()}
            return ProbesRead(listing, run_id, run, status, MappingProxyType(curves),
                              ranks=tuple(compare_ranks(status.probes)))


def run_folders(runs_dir: Path | None) -> tuple[Path, ...]:
    """The folder of every run under `runs_dir` (None: the default), oldest first (the Recommend tab looks
    for a probe ladder's recommendation.json in them)."""
    return tuple(run.path for run in list_runs(runs_dir))


def run_data(folder: Path) -> str | None:
    """The data file a run's probes train on (its plan.json's `data`), or None: none (the demo generates its
    rows) or a plan.json that cannot be read."""
    try:
        return RunDir(Path(folder)).plan().data
    except (LorplanError, OSError, ValueError, KeyError, TypeError):
        return None


# -- actions (each one short, in a thread worker) -------------------------------------------------------------
def probe_model(source: str) -> str:
    """The local folder with the weights of the plan's model. Raises BadInput when it is only a config (a
    catalog entry) or a hub id not in the local cache."""
    return runner.probe_model(source)


def check_start(plan: Plan, selected: int, ladder: tuple[int, ...], *, profile: DataProfile | None = None
                ) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The checks `lorplan probe start` makes before anything starts (runner.check_start: the model's weights
    on this machine, the data readable with usable rows, a task both agree on, targets that match, the plan's
    training.seq_len within the reach of the model's positions and model.rope_scaling (core.memory.bounds
    .check_context, as `--seq-len`, named by the plan's keys), training.gradient_checkpointing only for a model
    class that checkpoints (core.model.fallback.check_gradient_checkpointing: CTRL cannot, and each probe would
    fail) and the selected rank one a targeted module can use: core.memory.bounds.check_ranks, as `--ranks`). The
    ranks of `ladder` derived from it above that limit are left out, with a note, as the Plan tab's table leaves
    them out. Returns (the ranks to probe, the notes for the user); raises BadInput, one line naming what is wrong.

    profile: the Data tab's profile of the plan's data, whose labels count every row of the file: a classifier's
    data of one label alone is refused from them (core.data.labels.check_classes), so the file is not read past
    the start checks' peek again. Refusals and notes name what they are about as the planner does (form_words:
    "Dataset F", as the Recommend tab's ladder refuses the same file)."""
    counted = None
    if profile is not None and profile.labels is not None:
        counted = [label for label, _ in profile.labels.counts]
    try:
        checked = runner.check_start(plan.model.source, plan.data.path, targets=tuple(plan.lora.target_modules),
                                     trust_remote_code=plan.model.trust_remote_code, seq_len=plan.training.seq_len,
                                     rope_scaling=plan.model.rope_scaling, ranks=(selected,),
                                     ranks_flag="selected rank", plan_keys=True,
                                     grad_checkpointing=plan.training.gradient_checkpointing,
                                     task=plan.model.task,  # a causal LM's plan never reads a row's label
                                     labels=counted)
    except BadInput as exc:  # a refusal of the model's own code names the planner's flag; the data its field
        exc.args = (form_words(consent_words(str(exc))),)
        raise
    notes = tuple(form_words(note) for note in checked.notes)
    limit = checked.rank_limit
    ranks = tuple(r for r in ladder if not limit or r <= limit)
    dropped = [r for r in ladder if r not in ranks]
    if not dropped:
        return ranks, notes
    words = "ranks " + " and ".join(f"{r:,}" for r in dropped) if len(dropped) > 1 else f"rank {dropped[0]:,}"
    note = (f"{words} not probed: above {limit:,}, the largest rank a module the plan adapts can use "
            f"(min(in, out) of its widest adapted module)")
    return ranks, (*notes, note)


def start_plan(ranks: tuple[int, ...], plan: Plan, *, runs_dir: Path | None, backend: Backend | None) -> RunDir:
    """Start probes of exactly this plan (the one the export writes: its LoRA targets, layers_to_transform,
    rank_pattern, training and data settings) at `ranks` (lorplan.probe.plans.plan_settings). Returns the run.
    A classifier's run keeps its data's labels for its probes (labels.json), read by `lorplan probe start`'s rule
    (runner.plan_labels): BadInput, nothing started, for a label that is no class label wherever it is."""
    run_plan = runner.make_plan(ranks, **plan_settings(plan))
    try:
        labels = runner.plan_labels(run_plan)
    except BadInput as exc:  # the data named as the planner names it
        exc.args = (form_words(str(exc)),)
        raise
    return runner.start(run_plan, root=runs_dir, backend=backend, labels=labels)


def start_demo(*, runs_dir: Path | None, backend: Backend | None) -> RunDir:
    """Start the embedded demo: all-MiniLM-L6-v2 at ranks 4, 8, 16 and 32 on generated data."""
    plan = runner.make_plan(DEMO_RANKS, (DEMO_LEARNING_RATE,), steps=DEMO_STEPS, eval_every=DEMO_EVAL_EVERY,
                            eval_examples=DEMO_EVAL_EXAMPLES, seq_len=DEMO_SEQ_LEN)
    return runner.start(plan, root=runs_dir, backend=backend)


def cancel(run: RunDir, probe_id: str | None, backend: Backend | None) -> list[str]:
    """Cancel one probe (or every probe of the run when `probe_id` is None). Returns the ids cancelled."""
    return runner.cancel(run, probe_id=probe_id, backend=backend)


def retry(run: RunDir, probe_id: str, backend: Backend | None, trusted: bool = False) -> None:
    """Queue an ended probe again (its earlier attempt is kept aside). trusted: the session's consent
    (`lorplan --trust-remote-code`) for a run that asks for its model's own code; without it such a run is
    refused in one line naming that command."""
    try:
        runner.retry(run, probe_id, backend=backend, trust_remote_code=trusted)
    except RemoteCodeRefused:
        model = asks_remote_code(run.plan()) or "its model"
        raise RemoteCodeRefused(run_refusal(
            run.id, model, f"to queue probe {probe_id} again, start the planner with `{TRUST_COMMAND}`")) from None
