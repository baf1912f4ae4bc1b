"""The probe process: python -m lorplan.probe.worker RUN_DIR PROBE_ID (started by the scheduler).

It builds the plan the probe trains (lorplan.probe.plans: the run's plan at the probe's rank, briefly) and
runs it through the training engine (lorplan.train.engine), as `lorplan train` would, on the run's seeded
sample of the data, writing events as it goes. A classifier's classes (its head, the class id of each label)
are those of the whole file, as `lorplan train` counts them: those `lorplan probe start` read and recorded
in the run folder (labels.json), else noted in the one pass over the file that draws the sample (sample).
However it ends, it writes result.json (atomically) and a final event: finished, failed (with the traceback
tail), oom ("does not fit at micro-batch N"), or cancelled (SIGTERM after a cancel was asked).

A disk (or quota) that fills mid-probe fails the probe with the OS's reason in its result ("could not write
in RUN (No space left on device): ..."), and the result is still written: at its start the worker sets aside
RESERVE_BYTES of the disk (result.reserve, in the probe's folder) and gives them back just before it writes
result.json and its final event. The result then says `out_of_space`, which stops the run's scheduler from
launching the next probe onto the same full disk (lorplan.probe.scheduler).

Once result.json and the final event are written the process ends at once (exit_promptly): what is left of a
normal exit is the interpreter tearing down every module torch and transformers imported, 1.3-2.1 s of CPU
on 2 shared cores (more under load), while the probe's slot stays held until the process exits.

Fault injection for tests (inside the real loop, before the step): LORPLAN_PROBE_INJECT="oom@3",
"raise@2:r8", "hang@3:r16" or "hold@5:r4" (kind@step, optionally only for one probe id; several separated by
commas). "hang" keeps the probe mid-run until it is killed or cancelled, so fault tests do not race a fast
machine; "hold" keeps it there while the file LORPLAN_PROBE_HOLD names exists, so a test can let it go on.
"""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import NoReturn

from lorplan.core.errors import BadInput
from lorplan.core.plan import ModelSection
from lorplan.probe.adapters import save_adapter, wants_adapter
from lorplan.probe.events import append_event
from lorplan.probe.result import OUT_OF_SPACE, RESERVE_BYTES
from lorplan.probe.runs import RunDir, atomic_write_json, recorded_labels
from lorplan.train.stop import exit_past_teardown

TRACEBACK_LINES = 20
SAMPLE_MAX = 20000  # examples read for a probe, at most

class Cancelled(BaseException):
    """SIGTERM arrived (a cancel, or the machine shutting down)."""


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def injector(probe_id: str, spec: str | None):
    """A per-step hook raising what LORPLAN_PROBE_INJECT asks for, or None."""
    if not spec:
        return None
    rules = []
    for item in spec.split(","):
        kind, _, rest = item.strip().partition("@")
        step_text, _, only = rest.partition(":")
        if only and only != probe_id:
            continue
        rules.append((kind, int(step_text)))
    if not rules:
        return None

    def hook(step: int) -> None:
        import torch

        for kind, at in rules:
            if step == at and kind == "oom":
                raise torch.OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate 2.00 GiB (injected at step {step} by LORPLAN_PROBE_INJECT)")
            if step == at and kind == "raise":
                raise RuntimeError(f"injected failure at step {step} (LORPLAN_PROBE_INJECT)")
            while step == at and kind == "hang":  # stay mid-run until killed or cancelled
                time.sleep(0.5)
            gate = os.environ.get("LORPLAN_PROBE_HOLD")
            while step == at and kind == "hold" and gate and os.path.exists(gate):  # until the test lets go
                time.sleep(0.2)

    return hook


def _examples(run, path: str | None, schema: str, per_step: int, packing: bool, classes: bool = True,
              run_dir: RunDir | None = None) -> list:
    """The run's sample: at most one pass's worth (packing fills blocks from many short examples, so it reads
    more), the same seeded sample for every probe of the run, with the labels of every row of the file
    (sample) unless `classes` is False (a causal LM's plan, which never reads a label: a label column with a
    value per row would be held whole for nothing); the generated demo data without a path. The labels are those
    `lorplan probe start` read and recorded in `run_dir` (runs.recorded_labels) when it did, for this file as it
    is now; else they are read in the pass that draws the sample."""
    from lorplan.core.data import load_examples
    from lorplan.probe.demo import demo_examples

    if path is None:
        return demo_examples(seed=run.seed)
    limit = SAMPLE_MAX if packing else min(SAMPLE_MAX, run.steps * per_step + run.eval_examples)
    schema = None if schema == "auto" else schema
    if not classes:
        return load_examples(path, schema=schema, limit=limit, seed=run.seed)
    known = recorded_labels(run_dir, path) if run_dir is not None else None
    return sample(path, schema=schema, limit=limit, seed=run.seed, labels=known)


def majority_count(items) -> int | None:
    """How many of a classifier's held-out items share its most frequent class (None for a causal LM's items,
    which have no class, or for no items): with the `started` event's eval_examples, the accuracy that always
    answering that class scores on this split, which the recommender compares the probes' accuracy with."""
    from collections import Counter

    labels = Counter(x.label for x in items if x.label is not None)
    return max(labels.values()) if labels else None


def sample(path: str, *, schema: str | None, limit: int, seed: int, labels=None):
    """lorplan.core.data.load_examples(path, limit=limit, seed=seed) as a lorplan.train.data.Sample that also
    holds the labels of every row of the file: a classifier's probe numbers its classes by them, as `lorplan
    train` numbers them over the whole file (its head and class ids), also when the sample lacks a class.
    `labels`: those labels as `lorplan probe start` read them (the file then had no label that is no class
    label); None: noted in load_examples' pass over the file (records.LabelTally). BadInput when no row is
    usable."""
    from lorplan.core.data import load_examples
    from lorplan.core.data.records import LabelTally
    from lorplan.train.data import Sample

    if labels is not None:
        return Sample(load_examples(path, schema=schema, limit=limit, seed=seed), labels)
    tally = LabelTally()
    drawn = load_examples(path, schema=schema, limit=limit, seed=seed, each=tally)
    return Sample(drawn, tally.labels, tally.problem)


def build_probe(run, probe_id: str, device: str, run_dir: RunDir | None = None):
    """(the Plan probe `probe_id` trains on `device`, its examples): see lorplan.probe.plans. `run_dir`: the run's
    folder, whose labels.json (when `lorplan probe start` wrote one) holds a classifier's labels (_examples)."""
    from lorplan.core.model import load_spec
    from lorplan.probe.demo import DEMO_MODEL_NAME
    from lorplan.probe.plans import base_plan, detect_task, probe_plan, settings_plan
    from lorplan.train.model import model_folder

    probe = run.probe(probe_id)
    if run.base is not None:
        base = base_plan(run)
        plan = probe_plan(base, run, probe, device, fixed_alpha=run.alpha)
        t = plan.training  # the probe's accumulation: a multi-GPU plan's step accumulated on one device
        examples = _examples(run, base.data.path, base.data.schema, t.micro_batch * t.gradient_accumulation,
                             t.packing, classes=base.model.task == "sequence-classification", run_dir=run_dir)
        return plan, examples
    folder = model_folder(run.model or DEMO_MODEL_NAME)
    spec = load_spec(str(folder), trust_remote_code=run.trust_remote_code)
    examples = _examples(run, run.data, "auto", run.micro_batch, run.grouping == "packing", run_dir=run_dir)
    task = detect_task(spec, examples)
    where = f"--data {run.data}" if run.data is not None else None
    labels = num_labels(examples, where) if task == "sequence-classification" else None
    base = settings_plan(run, ModelSection(path=str(folder)), spec, task, labels)
    return probe_plan(base, run, probe, device, fixed_alpha=run.alpha), examples


# True in the probe's own process (main): only there may a probe hide a module from the whole process (tests
# and other callers of run_worker in their own process keep theirs)
_OWN_PROCESS = False


def num_labels(examples: list, where: str | None = None) -> int:
    """Classes the head needs for the engine's class ids (lorplan.train.data.class_ids: a sample's are its whole
    file's), at least two."""
    from lorplan.core.data.labels import check_classes
    from lorplan.train.data import class_ids

    ids = class_ids(examples, where)
    check_classes(ids, where or "--data")
    return max(2, max(ids.values()) + 1)


class Diverged(RuntimeError):
    """A loss that is no number a probe can compare (nan, inf): the probe ends failed, saying which loss at which
    step. Its event line could not hold it (JSON has no nan), and its result says it in words, not as a nan that
    a strict JSON reader refuses and the ladder cannot rank."""


def _finite(what: str, value: float, step: int) -> None:
    if not math.isfinite(value):
        raise Diverged(f"the {what} is {value} at step {step}: the training diverged (a lower learning rate may "
                       "hold it) or the model's numbers overflow its dtype")


class ProbeState:
    """What the probe has done so far; the worker turns it into the result whatever way the probe ends."""

    def __init__(self) -> None:
        self.engine = None
        self.step = 0
        self.loss: float | None = None
        self.eval_loss: float | None = None
        self.eval_accuracy: float | None = None
        self.tokens = 0
        self.train_seconds = 0.0
        self.load_seconds: float | None = None
        self.trainable_params: int | None = None
        self.total_params: int | None = None
        self.notes: list[str] = []

    def on_step(self, s, emit) -> None:
        """A step event. `epoch` and `tokens` mean what they mean in `lorplan train`'s log.jsonl: the epochs done
        (Engine.epochs_done, rounded down to 4 decimals) and the input tokens trained on so far (padding left out;
        a probe is one process, so its own count is the run's); tokens_per_second is this step's. Events written
        before said the 0-based pass and the step's tokens there, which no reader uses."""
        from lorplan.train.runner import epochs_text

        self.step = s.step
        _finite("loss", s.loss, s.step)
        self.loss = s.loss
        self.tokens += s.tokens
        self.train_seconds += s.seconds
        epoch = float(epochs_text(self.engine.epochs_done(s.step), 4)) if self.engine is not None else None
        emit({"type": "step", "step": s.step, "loss": round(s.loss, 6), "lr": s.lr, "tokens": self.tokens,
              "tokens_per_second": round(s.tokens / s.seconds, 1), "seconds": round(s.seconds, 4),
              "epoch": epoch})

    def on_eval(self, step: int, ev, emit) -> None:
        _finite("eval loss", ev.loss, step)  # the result keeps the last eval that measured one
        self.eval_loss, self.eval_accuracy = ev.loss, ev.accuracy
        emit({"type": "eval", "step": step, "eval_loss": round(ev.loss, 6), "eval_accuracy": ev.accuracy})


def run_probe(run: RunDir, probe_id: str, emit, state: ProbeState, device_name: str = "cpu", inject=None,
              should_stop=None, trust_remote_code: bool = False) -> dict:
    """Train one probe through the engine; return the facts of the result (state and memory are added by
    the caller). A run that asks for its model's own code is refused (BadInput) unless trust_remote_code (the
    user's flag, handed down by the scheduler: lorplan.probe.consent), before anything is loaded; so is a run of a
    checkpoint whose config.json names a head lorplan does not train (a token classifier's: OtherHeadRefused,
    runner.run_model_refusal's line), which lorplan refuses at a run's start (check_start), a retry and a
    scheduler's restart, and which a ladder's driver started by an older lorplan may still queue."""
    from lorplan.probe.consent import check_consent, status_command
    from lorplan.probe.runner import OtherHeadRefused, run_model_refusal

    rp = run.plan()
    check_consent(run, trust_remote_code, status_command(run.id), plan=rp)
    if (other := run_model_refusal(run, rp, trust_remote_code)) is not None:
        raise OtherHeadRefused(f"{other}; probe {probe_id} is not trained")
    import torch

    from lorplan.train.data import digest
    from lorplan.train.engine import build_engine, run_steps

    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {device_name}: torch sees no CUDA device")
    device = "cuda" if device_name.startswith("cuda") else "cpu"
    # the scheduler shares the cores among CPU probes; an explicit OMP_NUM_THREADS from the user wins
    if device == "cpu" and os.environ.get("LORPLAN_PROBE_THREADS") and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["LORPLAN_PROBE_THREADS"]))
    plan, examples = build_probe(rp, probe_id, device, run)
    if device == "cpu" and _OWN_PROCESS:
        from lorplan.train.model import hide_bitsandbytes

        hide_bitsandbytes(plan, sys.modules)
    # rank 0 is the base the ladder compares ranks with: a classifier trains its head alone (adapters frozen);
    # a causal LM is only evaluated, before any step (LoRA's B starts at 0, so that is the base model)
    base_only = rp.probe(probe_id).rank == 0
    head_only = base_only and plan.model.task == "sequence-classification"
    # every probe of a run holds out the same examples (the run's seed), whatever its training seed
    engine = state.engine = build_engine(plan, examples=examples, max_eval=rp.eval_examples, split_seed=rp.seed,
                                         train_adapters=not head_only)
    state.notes = engine.notes
    state.load_seconds = round(engine.load_seconds, 3)
    unwrapped = engine.accelerator.unwrap_model(engine.model)
    state.trainable_params, state.total_params = (int(x) for x in unwrapped.get_nb_trainable_parameters())
    if base_only and not head_only:
        state.trainable_params = 0
    t = plan.training
    facts = {"lr": t.learning_rate, "alpha": plan.lora.alpha, "task": plan.model.task, "model": str(engine.folder),
             "device": str(engine.accelerator.device), "eval_digest": digest(engine.eval_items),
             "seq_len": engine.seq_len, "train_examples": len(engine.train_items),
             "eval_examples": len(engine.eval_items), "trained_tokens": engine.trained_tokens,
             "load_seconds": state.load_seconds, "eval_majority": majority_count(engine.eval_items)}
    emit({"type": "started", "probe": probe_id, "rank": plan.lora.r, **facts,
          "trainable_params": state.trainable_params, "total_params": state.total_params,
          "targets": list(plan.lora.target_modules), "micro_batch": t.micro_batch, "steps": engine.total_steps,
          "notes": engine.notes})
    if base_only and not head_only:
        from lorplan.train.engine import evaluate

        state.on_eval(0, evaluate(engine), emit)
        return facts
    run_steps(engine, on_step=lambda s: state.on_step(s, emit), eval_every=rp.eval_every,
              on_eval=lambda n, ev: state.on_eval(n, ev, emit), before_step=inject,
              should_stop=(lambda n: should_stop()) if should_stop is not None else None)
    if wants_adapter(run, probe_id):  # marked by the recommender (lorplan.probe.adapters)
        facts["adapter"] = str(save_adapter(run, probe_id, unwrapped))
        emit({"type": "adapter", "path": facts["adapter"]})
    return facts


def _memory(state: ProbeState, device_name: str) -> dict:
    from dataclasses import asdict

    from lorplan.train.memory import MemoryMeter

    meter = state.engine.meter if state.engine is not None else None
    if meter is None:
        import torch

        meter = MemoryMeter("cuda" if device_name.startswith("cuda") and torch.cuda.is_available() else "cpu")
    return asdict(meter.measure())


def reserve_space(path: Path) -> bool:
    """Take RESERVE_BYTES of the disk under `path` (a file of that size, its blocks allocated), so the result
    can be written when the disk fills meanwhile; False when it could not be taken (the disk is full already,
    or the file system allocates nothing ahead: the result is then written as space allows)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        return False
    try:
        allocate = getattr(os, "posix_fallocate", None)  # not in macOS's Python
        try:
            if allocate is None:
                raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
            allocate(fd, 0, RESERVE_BYTES)
        except OSError as exc:
            if exc.errno in OUT_OF_SPACE:
                raise
            # macOS, or a file system without fallocate (EOPNOTSUPP, EINVAL): zeros take the space
            os.write(fd, bytes(RESERVE_BYTES))
        return True
    except OSError:
        os.close(fd)
        fd = -1
        path.unlink(missing_ok=True)
        return False
    finally:
        if fd >= 0:
            os.close(fd)


def out_of_space(exc: BaseException) -> str | None:
    """The OS's reason when `exc` is a write that found no space (disk, quota or file size): an OSError, or the
    error torch.save or safetensors raise around one whose text names it (lorplan.train.write_error, as
    `lorplan train`'s checkpoints read it). None for shared memory that had no room (shared_memory_full): that
    is no disk of the run folder's."""
    from lorplan.train.write_error import write_error

    if shared_memory_full(exc) is not None:
        return None
    found = write_error(exc)
    return found.reason if found is not None and found.no_space else None


# torch's shared memory: its allocator's files (MapAllocator: "/torch_PID_N_N" in /dev/shm, "/torch_PID_N" in older
# torch) are named in its errors ('unable to allocate shared memory(shm) for file </torch_9_8_0>: No space left on
# device (28)', 'unable to resize file </torch_9_8_0> to the right size: File too large (27)'), and a DataLoader
# worker killed by a bus error (what writing into a full /dev/shm does) is said to be 'out of shared memory'.
_TORCH_SHM_FILE = re.compile(r"</torch_\d+(?:_\d+)+>|shared memory\(shm\)")
_DATALOADER_SHM = re.compile(r"out of shared memory|insufficient shared memory")


def shared_memory_full(exc: BaseException) -> str | None:
    """The reason when `exc` is shared memory (/dev/shm) with no room: torch's shared-memory allocator or an
    OSError on a file in /dev/shm that found no space, or a DataLoader worker torch says ran out of it; else
    None."""
    from lorplan.train.write_error import write_error

    chain = [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    in_shm = any(isinstance(e, OSError) and str(e.filename or "").startswith("/dev/shm/") for e in chain)
    if in_shm or any(_TORCH_SHM_FILE.search(str(e)) for e in chain):
        found = write_error(exc)
        return found.reason if found is not None and found.no_space else None
    if any(_DATALOADER_SHM.search(str(e)) for e in chain):
        return "a DataLoader worker was killed by a bus error"
    return None


def _oom_message(state: ProbeState) -> str:
    rows, width = state.engine.batch_shape if state.engine is not None else (0, 0)
    if rows:
        return f"does not fit at micro-batch {rows} (sequence length {width})"
    return "does not fit: out of memory while loading the model"


def run_worker(run_dir: str | Path, probe_id: str, device_name: str | None = None,
               trust_remote_code: bool = False) -> dict:
    """Run one probe to its end and write its result file; returns the result. Never raises for a training
    problem: that is the result. trust_remote_code: the user's --trust-remote-code reached this process."""
    run = RunDir(Path(run_dir))
    events = run.events_path(probe_id)
    events.parent.mkdir(parents=True, exist_ok=True)
    device_name = device_name or os.environ.get("LORPLAN_PROBE_DEVICE", "cpu")

    def emit(ev: dict) -> None:
        append_event(events, ev)

    t0 = time.time()
    reserve = run.probe_dir(probe_id) / "result.reserve"
    state = ProbeState()
    facts: dict = {}
    end, message, tb = "finished", None, None
    no_space = None
    try:
        emit({"type": "loading", "probe": probe_id, "pid": os.getpid(), "t": round(t0, 3)})
        reserve_space(reserve)
        facts = run_probe(run, probe_id, emit, state, device_name,
                          inject=injector(probe_id, os.environ.get("LORPLAN_PROBE_INJECT")),
                          trust_remote_code=trust_remote_code)
    except Cancelled:
        cancelled = run.cancel_marker(probe_id).exists()
        end = "cancelled" if cancelled else "failed"
        message = "cancelled by the user" if cancelled else "terminated by SIGTERM"
    except BaseException as exc:  # the result must say what happened, whatever it was
        no_space = out_of_space(exc)
        shm_full = shared_memory_full(exc) if no_space is None else None
        if _is_oom(exc):
            end, message = "oom", _oom_message(state)
        elif shm_full is not None:  # not the run folder's disk: the run goes on launching probes
            end = "failed"
            message = (f"shared memory (/dev/shm) is full ({shm_full}) at step {state.step}: free space there or "
                       "give it more (e.g. docker run --shm-size), then retry the probe")
        elif no_space is not None:
            end = "failed"
            message = (f"could not write in {run.path} ({no_space}) at step {state.step}: free space there, "
                       "then retry the probe")
        else:
            end, message = "failed", f"{type(exc).__name__}: {exc}".strip()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()[-TRACEBACK_LINES:]
        tb = "\n".join(tb)
    reserve.unlink(missing_ok=True)  # its space is the result's now
    if end == "failed" and tb:
        try:
            print(tb, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # stderr.log is on the full disk too: the result holds the traceback
            pass
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the result is written; let nothing cut it short
    try:
        memory = _memory(state, device_name)
    except BaseException:
        memory = {}
    try:
        spec, steps = run.plan().probe(probe_id), run.plan().steps
        rank, lr = spec.rank, spec.lr
    except BaseException:
        rank = lr = steps = None
    peak = memory.get("peak_reserved_bytes") or memory.get("peak_rss_bytes")
    result = {
        "probe": probe_id, "rank": rank, "lr": lr, "state": end, "step": state.step, "steps": steps,
        "loss": state.loss, "eval_loss": state.eval_loss, "eval_accuracy": state.eval_accuracy,
        "tokens": state.tokens,
        "tokens_per_second": round(state.tokens / state.train_seconds, 1) if state.train_seconds else None,
        "peak_memory_bytes": peak, "peak_allocated_bytes": memory.get("peak_allocated_bytes"),
        "peak_reserved_bytes": memory.get("peak_reserved_bytes"),
        "peak_active_bytes": memory.get("peak_active_bytes"), "memory": memory,
        "wall_seconds": round(time.time() - t0, 2), "load_seconds": state.load_seconds,
        "train_seconds": round(state.train_seconds, 3),
        "trainable_params": state.trainable_params, "total_params": state.total_params,
        "micro_batch": state.engine.plan.training.micro_batch if state.engine is not None else 0,
        "notes": state.notes, "message": message, "traceback": tb, **facts,
    }
    if no_space is not None:
        result["out_of_space"] = True
    atomic_write_json(run.result_path(probe_id), result)
    try:
        emit({"type": end, "step": state.step, "message": message})
    except OSError:  # a disk full even after the reserve: the result, written, is what status reads
        pass
    return result


def _on_sigterm(signum, frame):
    raise Cancelled()


def exit_promptly(code: int) -> NoReturn:
    """End the process at once (train.stop.exit_past_teardown: threads joined, atexit handlers, stdout/stderr
    flushed, no teardown of modules). The worker calls it after run_worker, which fsyncs result.json after the
    adapter is saved and appends the final event with one os.write: everything it writes is on disk."""
    exit_past_teardown(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped terminal is not a reason to stop
    global _OWN_PROCESS
    _OWN_PROCESS = True
    from lorplan.probe.consent import TRUST_FLAG

    result = run_worker(argv[0], argv[1], trust_remote_code=TRUST_FLAG in argv[2:])  # from the scheduler
    return 0 if result["state"] == "finished" else 1


if __name__ == "__main__":
    # main returned: the result is written however the probe ended (an exception out of main exits as usual)
    exit_promptly(main())
