"""What the CLI and the TUI call: start a run, read its status, wait, cancel, retry, list. Stdlib only.

Nothing here trains or holds a process: `start` writes the run folder and asks the backend to schedule it,
then returns. Every other call reads the folder again, so a new terminal sees exactly what the old one did.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from lorplan.core.errors import BadInput, LorplanError
from lorplan.probe.backend import (  # driver liveness is backend's (status.py reads it too), re-exported here
    DRIVER_START_GRACE_S,
    Backend,
    LocksRefused,
    UnlockWake,
    driver_alive,
    driver_launch_stamp,
    exclusive,
    get_backend,
    mark_driver_launched,
)
from lorplan.probe.consent import (
    TRUST_FLAG,
    RemoteCodeRefused,
    asks_remote_code,
    check_consent,
    run_refusal,
    status_command,
)
from lorplan.probe.runs import (
    DataLabels,
    ProbeSpec,
    RunDir,
    RunPlan,
    atomic_write_json,
    create_run,
    list_runs,
    new_run_id,
    probe_id_for,
)
from lorplan.probe.status import RunStatus, ended_ladder_refusal, run_status


def probe_model(model) -> str:
    """The model a probe loads, as the run records it: a folder as its absolute path; a catalog, cached or
    shipped model (all-MiniLM-L6-v2) by its id, once its weights and tokenizer are found on this machine
    (lorplan.core.model.model_folder: never downloaded). `model` is a name or a resolved ModelSource.
    BadInput, one line naming the model, otherwise."""
    from lorplan.core.model import model_folder, resolve_model

    source = resolve_model(model) if isinstance(model, str) else model
    folder = model_folder(source)
    return str(folder) if source.kind == "folder" else source.id


@dataclass(frozen=True)
class StartCheck:
    """What check_start accepted: the model as the run records it (probe_model; None = the demo's shipped
    all-MiniLM-L6-v2 on generated data), the task the probes will train, the data's schema (None for the demo)
    and notes for the user (a resolved name, the model chosen for labelled data, a label imbalance).
    context: the longest row the probes can train, in tokens: the model's context times the run's rope scaling
    (core.memory.bounds.context_tokens, as plans count it; None when its config does not say).
    rank_limit: the largest rank a targeted module can use (core.memory.bounds.rank_limit; 0: none known).
    labels: a classifier's labels of every row of its data file, read by the checks (runs.DataLabels: start
    records them in the run folder for the probes); None for a causal LM, the demo, a folder of data, or labels
    the caller counted."""

    model: str | None
    task: str
    schema: str | None
    notes: tuple[str, ...] = ()
    context: int | None = None
    rank_limit: int = 0
    labels: DataLabels | None = None

    def seq_len(self, asked: int | None, default: int) -> int:
        """The probes' sequence length: `asked` (checked by check_start), else `default` cut to the context."""
        if asked is not None:
            return asked
        return min(default, self.context) if self.context else default


def check_start(model: str | None, data: str | None, *, targets: tuple[str, ...] = ("all-linear",),
                trust_remote_code: bool = False, seq_len: int | None = None, rope_scaling: float | None = None,
                ranks: tuple[int, ...] = (), ranks_flag: str = "--ranks", plan_keys: bool = False,
                grad_checkpointing: bool = False, task: str | None = None,
                labels: Iterable | None = None) -> StartCheck:
    """Accept only a probe run that can train, before anything starts: the checks `lorplan profile` makes on
    the data (readable, not empty or binary, a known schema, usable rows; lorplan.core.data.peek_examples
    reads up to 20,000 rows), a model on this machine (model_folder), a task the data and the model agree on
    (an encoder such as the shipped all-MiniLM-L6-v2 needs rows with a 'label'; labels need two values) and
    targets that match modules of the model, ranks (--ranks) no adapted module is too small for (the check of
    `lorplan plan --ranks`, lorplan.core.memory.bounds.check_ranks; its message names `ranks_flag`). Without --model, labelled data is classified by the shipped
    all-MiniLM-L6-v2; data without labels needs a causal LM; seq_len (--seq-len) within the model's context, or
    within rope_scaling's (--rope-scaling) reach on a RoPE model: the check `lorplan plan` and plan files make
    (core.memory.bounds.check_context, which also reads GPT-2's n_positions and refuses scaling a model with
    learned positions or its own rope_scaling); its message names the flags, or with plan_keys the plan's keys
    (training.seq_len, model.rope_scaling: a plan probed from the planner); and grad_checkpointing
    (--grad-checkpointing, or training.gradient_checkpointing with plan_keys) only for a class that checkpoints
    (core.model.fallback.check_gradient_checkpointing: CTRL cannot, and every probe failed with transformers'
    ValueError); and not a checkpoint whose config.json names a head lorplan does not train (a token classifier's:
    core.model.head.other_head_refusal, lorplan train's refusal). BadInput, one line naming the input, otherwise.

    task: the task the probes train, a plan's model.task (the planner probes a plan, and its probes keep it): a
    causal LM's plan trains on the text of labelled rows and never reads their label, so the label rules (one
    label alone, the labels' balance) are a classifier's only. None: the data's (labelled rows are classified,
    as the workers' probe.plans.detect_task classifies them, with a decoder too). Probes that classify need
    labelled rows whatever the model (a decoder planned as a classifier too), and every row's label a class label
    of one kind, two values or more in the whole file, as `lorplan recommend --data` counts them and the probes'
    training refuses them: past the peek the whole file is read once (read_labels), and the labels it holds come
    back in StartCheck.labels for the run folder (start: its probes number their classes by them).

    labels: the label values of every row of `data`, counted already (the planner's Data tab profile): the
    one-label rule reads them, not the file again."""
    from lorplan.core.data import peek_examples
    from lorplan.core.data.labels import check_classes
    from lorplan.core.data.stats import label_balance
    from lorplan.core.lora import LoraTargets, peft_target_modules
    from lorplan.core.memory.bounds import (
        FLAG_NAMES,
        PLAN_KEYS,
        check_context,
        check_ranks,
        context_tokens,
        rank_limit,
    )
    from lorplan.core.memory.types import TrainingSetup
    from lorplan.core.model import load_spec, model_folder, resolve_model
    from lorplan.core.model.fallback import check_gradient_checkpointing
    from lorplan.core.model.head import other_head_refusal
    from lorplan.core.model.resolve import SHIPPED_ID
    from lorplan.core.vocab import Task

    notes: list[str] = []
    if model is not None and data is None:
        raise BadInput("--data: give your dataset with --model (the generated demo data is for the embedded model)")
    peek = path = stat = None
    if data is not None:
        path = Path(data).expanduser()
        if not path.exists():
            raise BadInput(f"--data {data}: no such file or folder")
        stat = path.stat() if path.is_file() else None  # before any read: labels.json's file as it was read
        peek = peek_examples(path)
    labelled = peek is None or bool(peek.labels)
    if task is None:
        task = Task.SEQUENCE_CLASSIFICATION.value if labelled else Task.CAUSAL_LM.value
    classifies = task == Task.SEQUENCE_CLASSIFICATION
    if model is None and peek is not None:  # the shipped encoder: what its data lacks is said before it is looked up
        _refuse_rows(data, peek, classifies, encoder=True, model=None)
    source = resolve_model(model if model is not None else SHIPPED_ID)
    if source.note:
        notes.append(source.note)
    folder = model_folder(source)  # errors name the model ("model gpt2 is not on disk: ...")
    spec = load_spec(str(folder), trust_remote_code=trust_remote_code)
    if source.kind != "folder":  # messages name the model as the user knows it, not its cache folder
        spec = replace(spec, id=source.id)
    # a token classifier's checkpoint: each probe would train another model from it (the causal LM or classifier
    # planned of its config), as lorplan train would, which refuses it so
    if model is not None and (other := other_head_refusal(spec, f"--model {model}")) is not None:
        raise BadInput(other)
    if model is not None and peek is not None:
        _refuse_rows(data, peek, classifies, encoder=spec.task == Task.SEQUENCE_CLASSIFICATION, model=source.id)
    found = None
    if classifies and peek is not None and peek.labels:
        if labels is not None:  # counted over every row by the caller
            check_classes(labels, f"--data {data}")
        else:
            found = read_labels(path, f"--data {data}", peek=peek, stat=stat).recorded
        warning = label_balance(peek.labels).warning
        if warning and len(peek.labels) > 1:
            notes.append(warning)
    if classifies and peek is not None and peek.unlabelled:
        from lorplan.core.data.labels import unlabelled_note

        # a label that is null or missing: the probes' classifier trains without those rows
        notes.append(unlabelled_note(f"--data {data}", peek.unlabelled, peek.first_unlabelled, peek.labelled,
                                     peek.uses("the probes use")))
    lora_targets = LoraTargets(modules=tuple(targets) or ("all-linear",))
    peft_target_modules(spec, lora_targets)  # BadInput naming --targets
    check_ranks(spec, lora_targets, ranks, ranks_flag)
    # the seq_len TrainingSetup is given only matters when it was asked for (the default is cut to the reach)
    reach = TrainingSetup(seq_len=seq_len or 1, rope_scaling=rope_scaling)
    check_context(spec, reach, PLAN_KEYS if plan_keys else FLAG_NAMES)
    if plan_keys:
        check_gradient_checkpointing(spec, grad_checkpointing, "training.gradient_checkpointing = true",
                                     "set it to false")
    else:
        check_gradient_checkpointing(spec, grad_checkpointing, fix="start the probes without --grad-checkpointing")
    context = context_tokens(spec, reach)
    if model is None and data is not None:
        notes.append(f"no --model: the shipped {source.id} classifies the labelled rows of {data}")
    recorded = None if model is None and data is None else probe_model(source)
    return StartCheck(recorded, task, peek.schema if peek is not None else None, tuple(notes), context,
                      rank_limit(spec, lora_targets), found)


def _refuse_rows(data: str, peek, classifies: bool, *, encoder: bool, model: str | None) -> None:
    """check_start's refusals of rows the probes cannot train, from the peek: a label that is no class label (2.5,
    NaN, true) where the probes classify (an encoder always does, the shipped all-MiniLM-L6-v2 too; a decoder when
    the rows are labelled or its plan says so), and rows without a label for the shipped model (model None: said
    before it is looked up, it needs none), an encoder, or a decoder planned as a classifier (each probe failed)."""
    labelled = bool(peek.labels)
    if (classifies or encoder) and peek.bad_label is not None:
        raise BadInput(f"--data {data}: {peek.bad_label}")
    if labelled:
        return
    if model is None:
        raise BadInput(f"--model: {data} holds {peek.schema} rows without a 'label', which train a causal LM: "
                       "give one on this machine with --model (the shipped all-MiniLM-L6-v2 only classifies "
                       "labelled rows)")
    seen = "" if peek.complete else f" in its first {peek.rows_read:,} rows"
    if encoder:
        raise BadInput(f"--data {data}: {model} is an encoder (sequence classification) and needs rows with a "
                       f"'label'; these {peek.schema} rows have none{seen}")
    if classifies:
        raise BadInput(f"--data {data}: the probes train {model} as a sequence classifier, which needs rows "
                       f"with a 'label'; these {peek.schema} rows have none{seen}")


def read_labels(data, where: str, *, schema: str | None = None, peek=None, stat=None) -> ClassLabels:
    """The class labels of every row of a classifier's data, with how many rows carry each: the one label rule of
    every start of probes that classify it (`lorplan probe start`'s check_start, `lorplan recommend --data` and
    its ladder, the planner's probes and ladders: plan_labels), as the probes' training counts them. The peek's
    labels when it read the whole file (records.peek_examples: `peek`), else the file's, streamed once
    (records.label_counts, the row loop of `lorplan train`'s data_classes).
    BadInput, one line starting with `where` (the data as the command names it), as each probe would fail: a
    label that is no class label (2.5, NaN, true) by its line wherever it is (the peek's first, or
    label_counts'), labels of no one kind (1 beside "1.0": class_ids), no label at all, or one label alone
    (check_classes). `stat`: the file's os.stat taken before the peek (else now, before the read):
    ClassLabels.recorded, what the run folder keeps (labels.json) for the probes, ties the labels to the file as
    it was read; None for a folder of data."""
    from lorplan.core.data.labels import check_classes, class_ids
    from lorplan.core.data.records import label_counts

    path = Path(data).expanduser()
    if stat is None and path.is_file():
        stat = path.stat()
    if peek is not None and peek.complete:
        if peek.bad_label is not None:  # the first of the file, as label_counts would refuse it
            raise BadInput(f"{where}: {peek.bad_label}")
        counts = Counter(peek.labels)
    else:
        counts = label_counts(path, schema=schema if schema is not None else getattr(peek, "schema", None),
                              where=where)
    class_ids(counts, where)
    check_classes(counts, where)
    return ClassLabels(counts, DataLabels.of(path, stat, counts) if stat is not None and path.is_file() else None)


@dataclass(frozen=True)
class ClassLabels:
    """read_labels' answer: `counts`, label -> the rows that carry it (a Counter); `recorded`, the labels as the
    run folder keeps them for its probes (runs.DataLabels, labels.json), None for a folder of data."""

    counts: Counter
    recorded: DataLabels | None


def plan_labels(plan: RunPlan) -> DataLabels | None:
    """What a run of probes of a plan (RunPlan.base: the planner's probes, a probe ladder) keeps in its folder for
    them (labels.json, runs.create_run): the labels of its data file read by read_labels (BadInput as it refuses
    them, the data named by the plan's path), when its probes train a classifier (the plan's model.task, as the
    worker reads it); None otherwise (a causal LM, no base plan, no data file). Call it before the run starts."""
    if plan.base is None:
        return None
    from lorplan.probe.plans import base_plan

    base = base_plan(plan)
    if base.model.task != "sequence-classification" or not base.data.path or not Path(base.data.path).is_file():
        return None
    schema = None if base.data.schema in (None, "auto") else base.data.schema
    return read_labels(base.data.path, f"--data {base.data.path}", schema=schema).recorded


def make_plan(ranks: tuple[int, ...], lrs: tuple[float, ...] = (), *, seeds: tuple[int, ...] = (),
              **settings) -> RunPlan:
    """A RunPlan with one probe per rank (× learning rate when several are given, × seed when several seeds
    are given: repeats whose spread gives the comparison's intervals).
    settings: any RunPlan field (model, data, steps, device, ...); None values keep the defaults."""
    if not ranks:
        raise BadInput("--ranks: give at least one rank")
    lr_list = list(dict.fromkeys(lrs)) or [None]  # a rate named twice is one probe (two made one id twice)
    several = len(lr_list) > 1
    seed_list: list[int | None] = list(dict.fromkeys(seeds)) if len(set(seeds)) > 1 else [None]
    if len(seed_list) == 1 and seeds:
        settings = {**settings, "seed": seeds[0]}
    probes = []
    for rank in dict.fromkeys(ranks):
        for lr in lr_list:
            for seed in seed_list:
                probes.append(ProbeSpec(probe_id_for(rank, lr, several, seed), rank, lr, seed))
    kw = {k: v for k, v in settings.items() if v is not None}
    return RunPlan(run=kw.pop("run", None) or new_run_id(), created=round(time.time(), 3), probes=tuple(probes), **kw)


def start(plan: RunPlan, root: Path | None = None, backend: Backend | None = None,
          labels: DataLabels | None = None) -> RunDir:
    """Write the run folder and hand it to the backend's scheduler. Returns at once. `plan` is the caller's
    own (built from what the user gave: `probe start --trust-remote-code`, the planner's plan), never read
    from a folder, so the default backend's scheduler gets the consent the plan asks for. `labels`: the data's
    class labels as check_start read them (StartCheck.labels), recorded for the probes (runs.create_run).
    A run folder whose file system refuses flock: LocksRefused, the run removed (it could never run)."""
    run = create_run(plan, root, labels)
    submit_new(run, backend or get_backend(plan.backend, trust_remote_code=asks_remote_code(plan) is not None))
    return run


def submit_new(run: RunDir, backend: Backend) -> None:
    """Hand a run just created to `backend`'s scheduler (start, and recommend.driver.start_ladder). A run folder
    whose file system refuses flock: LocksRefused, the run removed: it could never run, and left there it would
    list (and say the refusal again) as a run."""
    try:
        backend.submit(run)
    except LocksRefused:
        shutil.rmtree(run.path, ignore_errors=True)
        raise


def _resume(run: RunDir, command: str | None) -> str:
    return command or status_command(run.id)


def status(run: RunDir, backend: Backend | None = None) -> RunStatus:
    return run_status(run, backend)


class OtherHeadRefused(BadInput):
    """A run's probes would train a checkpoint whose config.json names a head lorplan does not train (a token
    classifier's): started before lorplan refused such a model (check_start), it is not queued again nor restarted
    (run_model_refusal's line)."""


def run_model_refusal(run: RunDir, plan: RunPlan | None = None, trusted: bool = False) -> str | None:
    """The one line check_start refuses the model of `run` with when its config.json names a head lorplan does not
    train (core.model.head.other_head_refusal: a token classifier's, a question-answering or multiple-choice
    model's checkpoint, whose probes would train the causal LM or classifier planned of its config), naming the run
    and its model ("run R: model /m/tagger: config.json names ..."); None otherwise, and for a model this machine
    cannot read now (its probes say why when they run). For a run started before check_start refused such a model.
    The model is read as check_start reads it (a fallback's build with `trusted`, the caller's consent: seconds of
    torch in a child the first time, kept after); plan: the run's plan as already read."""
    from lorplan.core.model import load_spec, resolve_model
    from lorplan.core.model.head import other_head_refusal

    plan = plan if plan is not None else run.plan()
    name = plan.model_name()
    if name is None:  # the embedded demo model
        return None
    try:
        spec = load_spec(resolve_model(name), trust_remote_code=trusted)
    except (LorplanError, OSError, ValueError):
        return None
    return other_head_refusal(spec, f"run {run.id}: model {name}")


RESTART_GRACE_S = 10.0  # a scheduler asked for this recently may still be starting: leave it that long


def restart_stalled(run: RunDir, st: RunStatus | None = None, backend: Backend | None = None,
                    grace_s: float = RESTART_GRACE_S, *, trust_remote_code: bool = False,
                    resume: str | None = None, by_driver: bool = False) -> bool:
    """Start a new scheduler for a run whose probes are queued with none to launch them (its scheduler was
    killed), unless one was asked for in the last grace_s seconds. True when one was started. Not for probes
    that wait for disk space (RunStatus.space_wait: a scheduler would launch nothing): once there is space.
    A run that asks for its model's own code is started again only with the user's consent: trust_remote_code
    (the --trust-remote-code of the current command), or that of the given backend; else RemoteCodeRefused,
    whose line names `resume` (default: `lorplan probe status RUN --trust-remote-code`) — unless a live driver
    drives the run (driver_alive): it restarts the scheduler with the consent it was started with, so nothing
    is started here and False is returned. by_driver: the caller is that driver, which gets the refusal.
    Never for a probe ladder that has ended (RunDir.ladder_ended: done, or cancelled): a probe still queued in
    its plan is not the ladder's to train, and `lorplan probe status` or `wait` started it after the ladder's
    end, as `lorplan recommend --run RUN` no longer does. Nor for a run whose model's config.json names a head
    lorplan does not train (run_model_refusal: started before check_start refused it): OtherHeadRefused, its line
    (a driver is not asked: none is started again for such a ladder, `lorplan recommend --run` refuses it)."""
    backend = backend or get_backend(run.plan().backend, trust_remote_code=trust_remote_code)
    st = st if st is not None else run_status(run, backend)
    if not st.stalled or run.ladder_ended():
        return False
    try:
        asked = run.scheduler_log.stat().st_mtime
    except FileNotFoundError:
        asked = 0.0
    if time.time() - asked < grace_s:
        return False
    try:
        check_consent(run, backend.trust_remote_code, _resume(run, resume), "its probes", plan=st.plan)
    except RemoteCodeRefused:
        if by_driver or not driver_alive(run):
            raise
        return False  # the live driver restarts it
    if not by_driver and (other := run_model_refusal(run, st.plan, backend.trust_remote_code)) is not None:
        raise OtherHeadRefused(f"{other}; its queued probes are not started")
    backend.submit(run)
    return True


def wait(run: RunDir, timeout: float | None = None, poll_s: float = 1.0, backend: Backend | None = None, *,
         trust_remote_code: bool = False, resume: str | None = None,
         on_space_wait: Callable[[dict], None] | None = None) -> RunStatus:
    """Block until the run is done (RunStatus.done: no probe is queued or running, and no ladder's driver lives
    to add more). A run whose scheduler was killed while probes were still queued is handed to a new scheduler
    (restart_stalled, with trust_remote_code and resume: RemoteCodeRefused, at once, for a run that asks for
    its model's own code without the user's consent and has no live driver to restart it). Queued probes that
    wait for disk space (RunStatus.space_wait) are waited for: a scheduler starts them once space is freed;
    on_space_wait gets the space_wait each time such a wait begins. Raises LorplanError after `timeout` seconds
    (naming the wait for space). Between looks it sleeps poll_s, or until the run's scheduler or the ladder's
    driver exits (UnlockWake): the last probe's end is seen when its scheduler ends, not up to poll_s later."""
    backend = backend or get_backend(run.plan().backend, trust_remote_code=trust_remote_code)
    deadline = None if timeout is None else time.monotonic() + timeout
    spaced = SpaceWaitNotes(on_space_wait)
    wake = UnlockWake()
    while True:
        st = run_status(run, backend)
        if st.done:
            return st
        spaced.see(st)
        restart_stalled(run, st, backend, resume=resume)
        if deadline is not None and time.monotonic() >= deadline:
            left = ", ".join(f"{p.id} {p.state}" for p in st.probes if p.state in ("queued", "running"))
            raise LorplanError(f"run {run.id}: timed out after {timeout:g} s ({left or 'its driver about to add probes'})"
                               + timeout_space_note(st))
        wake.sleep((run.scheduler_lock, run.driver_lock), poll_s if deadline is None
                   else min(poll_s, max(0.0, deadline - time.monotonic())))


class SpaceWaitNotes:
    """Hands each wait for disk space (RunStatus.space_wait) to `say` once, when it begins."""

    def __init__(self, say: Callable[[dict], None] | None) -> None:
        self.say = say
        self.waiting = False

    def see(self, st: RunStatus) -> None:
        if st.space_wait is not None and not self.waiting and self.say is not None:
            self.say(st.space_wait)
        self.waiting = st.space_wait is not None


def timeout_space_note(st: RunStatus) -> str:
    """What a wait's timeout adds when the queued probes wait for disk space: where, and what starts them."""
    w = st.space_wait
    if w is None:
        return ""
    return f"; the queued probes wait for disk space in {w['path']}: free space there, then `{w['resume']}` starts them"


def plan_ranks(plan) -> list[int]:
    """The ranks a run probes, each once, smallest first (a run repeats a rank per seed and learning rate)."""
    return sorted({p.rank for p in plan.probes})


def _select(run: RunDir, rank: int | None, probe_id: str | None) -> list[str]:
    plan = run.plan()
    if probe_id is not None:
        return [plan.probe(probe_id).id]
    if rank is None:
        return [p.id for p in plan.probes]
    ids = [p.id for p in plan.probes if p.rank == rank]
    if not ids:
        raise BadInput(f"--rank {rank}: run {run.id} has no probe at that rank (its ranks: "
                       f"{', '.join(map(str, plan_ranks(plan)))})")
    return ids


def cancel(run: RunDir, rank: int | None = None, probe_id: str | None = None, grace_s: float = 5.0,
           backend: Backend | None = None, reason: str = "cancelled by the user") -> list[str]:
    """Cancel probes (all of the run, one rank, or one probe id): queued ones never start, running ones have
    their process group ended. `reason` is the cancelled result's message. Returns the ids that were
    cancelled (already ended ones are left as they are)."""
    backend = backend or get_backend(run.plan().backend)
    done: list[str] = []
    selected = _select(run, rank, probe_id)
    if rank is None and probe_id is None:  # the whole run: a ladder driving it must not start its next pass
        run.run_cancel_marker.write_text(f"{time.time():.3f}\n")
    for pid in selected:
        with exclusive(run.queue_lock):
            if run.result_path(pid).exists():
                continue
            run.probe_dir(pid).mkdir(parents=True, exist_ok=True)
            run.cancel_marker(pid).write_text(f"{time.time():.3f}\n")
            launched = run.proc_path(pid).exists()
            if not launched:
                _write_cancelled(run, pid, step=0, reason=reason)
                done.append(pid)
                continue
        backend.terminate(run, pid, grace_s=grace_s)
        if not run.result_path(pid).exists():
            st = {p.id: p for p in run_status(run, backend).probes}[pid]
            _write_cancelled(run, pid, step=st.step, wall=st.wall_seconds, eval_loss=st.eval_loss,
                             eval_accuracy=st.eval_accuracy, reason=reason)
        done.append(pid)
    return done


def _write_cancelled(run: RunDir, probe_id: str, step: int, wall: float | None = None,
                     eval_loss: float | None = None, eval_accuracy: float | None = None,
                     reason: str = "cancelled by the user") -> None:
    spec = run.plan().probe(probe_id)
    atomic_write_json(run.result_path(probe_id), {
        "probe": probe_id, "rank": spec.rank, "lr": spec.lr, "state": "cancelled", "step": step,
        "eval_loss": eval_loss, "eval_accuracy": eval_accuracy, "tokens_per_second": None,
        "peak_memory_bytes": None, "wall_seconds": wall, "message": reason,
    })


def retry(run: RunDir, probe_id: str, backend: Backend | None = None, *, trust_remote_code: bool = False,
          submit: bool = True) -> None:
    """Queue an ended probe again: its files move to attempt-<n>/ and the run's scheduler is (re)started
    (submit=False: not, for a caller that queues several and starts one scheduler after). A run that asks for
    its model's own code needs the user's consent (trust_remote_code, or the given backend's): else
    RemoteCodeRefused, and nothing is moved. A probe of a ladder that has ended (done or cancelled) is not
    queued again: BadInput (_check_ladder_going), nothing moved or started; nor one of a run whose model's
    config.json names a head lorplan does not train (a run started before check_start refused it):
    OtherHeadRefused (run_model_refusal's line), nothing moved or started."""
    _check_ladder_going(run, probe_id)
    plan = run.plan()  # read once here: a living scheduler reads it only when it changes
    backend = backend or get_backend(plan.backend, trust_remote_code=trust_remote_code)
    _check_retry_consent(run, probe_id, backend.trust_remote_code)
    plan.probe(probe_id)
    if (other := run_model_refusal(run, plan, trusted=backend.trust_remote_code)) is not None:
        raise OtherHeadRefused(f"{other}; probe {probe_id} is not queued again")
    with exclusive(run.queue_lock):
        _check_ladder_going(run, probe_id)  # again, under the lock the driver writes its done under
        launched = run.proc_path(probe_id).exists()
        ended = run.result_path(probe_id).exists() or run.cancel_marker(probe_id).exists()
        if launched and not ended and backend.probe_alive(run, probe_id):
            raise BadInput(f"probe {probe_id} of run {run.id} is still running; cancel it first")
        if not launched and not ended:
            return  # still queued
        pdir = run.probe_dir(probe_id)
        n = 1
        while (pdir / f"attempt-{n}").exists():
            n += 1
        dest = pdir / f"attempt-{n}"
        dest.mkdir()
        for name in ("events.jsonl", "result.json", "proc.json", "cancel", "stdout.log", "stderr.log", "alive.lock"):
            if (pdir / name).exists():
                shutil.move(str(pdir / name), str(dest / name))
        run.run_cancel_marker.unlink(missing_ok=True)  # the user took the run up again
    if submit:
        backend.submit(run)


def _check_ladder_going(run: RunDir, probe_id: str) -> None:
    """BadInput, one line, for a retry of a probe of a ladder that has ended (RunDir.ladder_end: done or
    cancelled). Its driver has ended, so its recommendation would not take the new result in; the retry's
    scheduler would also launch every probe the ladder left queued, which nothing else starts once it has ended
    (restart_stalled), and nothing would restart that scheduler were it killed; a cancelled ladder's run lost its
    cancel marker. A new ladder or probe run measures again, and says what it measured."""
    ended = run.ladder_end()
    if ended is None:
        return
    raise BadInput(ended_ladder_refusal(run.id, probe_id, ended))


def _check_retry_consent(run: RunDir, probe_id: str, trusted: bool) -> None:
    """RemoteCodeRefused for a retry, without the user's consent, of a probe of a run that asks for its model's
    own code. No command takes an ended probe up again with --trust-remote-code (`lorplan probe status RUN
    --trust-remote-code` restarts only queued probes; the planner's retry key passes the consent of a planner
    started with `lorplan --trust-remote-code`, and says so itself when it has none), so the line says what does
    work: a new run started with the flag."""
    model = asks_remote_code(run.plan())
    if model is not None and not trusted:
        raise RemoteCodeRefused(run_refusal(
            run.id, model, f"probe {probe_id} cannot be queued again without that consent, and a retry cannot give "
            f"it; start a new run with {TRUST_FLAG} (`lorplan probe start --model {model} ... {TRUST_FLAG}`, or for "
            f"a ladder `lorplan recommend ... {TRUST_FLAG}`)"))


def summaries(root: Path | None = None, backend: Backend | None = None) -> list[dict]:
    """One line per run for `lorplan probe list --json`, oldest first ("ranks": plan_ranks)."""
    out = []
    for run in list_runs(root):
        try:
            st = run_status(run, backend)
        except LocksRefused:  # the runs folder's file system: every run's, not this one's alone
            raise
        except BadInput:  # this run's damaged plan.json: the others are listed
            continue
        out.append({
            "run": run.id,
            "created": st.plan.created,
            "model": st.to_json()["model"],
            "ranks": plan_ranks(st.plan),
            "steps": st.plan.steps,
            "state": st.state,  # running, waiting (for disk space), done or cancelled (RunStatus.state)
            "scheduler": "running" if st.scheduler_alive else "stopped",
            "waiting": st.space_wait,  # queued probes that wait for disk space (RunStatus.space_wait), else None
            "counts": st.counts(),
            "path": str(run.path),
        })
    return out


def attempts(run: RunDir, probe_id: str) -> int:
    """How many earlier attempts of this probe were moved aside by retry."""
    return sum(1 for p in run.probe_dir(probe_id).glob("attempt-*") if p.is_dir())


__all__ = ["DRIVER_START_GRACE_S", "OtherHeadRefused", "SpaceWaitNotes", "StartCheck", "attempts", "cancel", "check_start", "driver_alive", "driver_launch_stamp", "make_plan", "mark_driver_launched", "plan_ranks", "restart_stalled", "retry", "run_model_refusal", "submit_new",
           "start", "status", "summaries", "timeout_space_note", "wait"]
