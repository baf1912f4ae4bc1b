"""`lorplan train`: a plan run to its end through the engine (lorplan.train.engine), with atomic checkpoints,
resume, a graceful stop on signals, the final adapter in peft's format, and measured memory.

Data order is a pure function of (seed, step), so a resumed run sees exactly the micro-batches the stopped run
would have seen next. A finished run's last step is checkpointed too, so `--resume` with more steps trains it on
(train_on says how its learning-rate schedule was kept). Several GPUs: run under `accelerate launch` (see
lorplan.train.launch).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lorplan.core.columns import say
from lorplan.core.errors import BadInput, LorplanError
from lorplan.train import checkpoint as ckpt
from lorplan.train.checkpoint import check_resumed_length
from lorplan.train.checkpoint_sharding import HARDWARE_KEY, check_sharding, hardware_state
from lorplan.train.engine import Engine, EvalStats, StepStats, build_engine, run_steps
from lorplan.train.lock import joined
from lorplan.train.memory import MeasuredMemory, report_lines
from lorplan.train.paths import output_folder, output_folder_problem
from lorplan.train.stop import StopRequest, TrainingInterrupted, exit_past_teardown
from lorplan.train.write_error import nccl_shm_failure


@dataclass(frozen=True)
class TrainResult:
    output_dir: str
    adapter_dir: str
    steps: int
    resumed_from: int | None
    final_loss: float | None
    eval_loss: float | None
    memory: MeasuredMemory
    estimate_total_bytes: int | None
    notes: tuple[str, ...]
    train_examples: int = 0  # sequences (packed blocks with packing) in the training split
    trained_tokens: int | None = None  # causal LM: labels that carry the loss in one pass (data.train_on decides)
    eval_accuracy: float | None = None  # sequence classification
    load_seconds: float = 0.0  # data, model and optimizer set-up
    train_seconds: float = 0.0  # the optimizer steps of this process's run (not those before a resume)
    classes: dict | None = None  # sequence classification: class id (as text) -> the label as the data writes it
    # the learning-rate schedules its steps followed (checkpoint.schedules): one, unless it trained a finished run on
    schedules: tuple[dict, ...] = ()


def check_output(out: Path, resume: bool) -> tuple[tuple[int, Path] | None, ckpt.FinishedRun | None]:
    """(the checkpoint to resume from, the finished run it ends when --resume trains one on); BadInput when
    `out` cannot be a folder (a file, or under one), holds a finished run without --resume (or one that cannot
    train on, lacking its last step's checkpoint), or an earlier run's checkpoint without --resume."""
    problem = output_folder_problem(out)
    if problem is not None:
        raise BadInput(f"output folder {out}: {problem}: choose another --output")
    finished = ckpt.check_finished(out, resume)  # a finished run's adapter is never trained over by accident
    if finished is not None:
        return finished.final, finished
    latest = ckpt.latest_checkpoint(out)
    if not resume and latest is not None:
        raise BadInput(f"{out} holds checkpoint-{latest[0]} of an earlier run: pass --resume to continue it, "
                       "or --output to start elsewhere")
    return (latest if resume else None), None


def check_resumed_rate(latest: tuple[int, Path], plan, out: Path, plan_path: str | None) -> None:
    """checkpoint.check_resumed_training, and for a checkpoint saved before state.json kept the training settings
    the learning rate its scheduler was built with (scheduler.pt's base_lrs), which it would restore."""
    if ckpt.check_resumed_training(latest, plan, out, plan_path):
        return
    try:
        base = ckpt.load_pt(latest[1] / "scheduler.pt").get("base_lrs") or []
    except BadInput:  # not weights-only: refused, not read
        raise
    except (OSError, ValueError, RuntimeError, AttributeError):  # damaged: loading the checkpoint says so
        return
    if base and not math.isclose(float(base[0]), plan.training.learning_rate, rel_tol=1e-9):
        problem = ckpt.resumed_training_problem({"learning_rate": float(base[0])}, plan)
        if problem is not None:
            raise ckpt.resumed_training_error(latest, out, plan_path, problem)


# peft's LoraConfig field -> the plan's key, for a checkpoint saved under another [lora] than the plan's now. Not
# the model's folder: the same weights moved elsewhere are the same base; another model's tensors do not fit.
_ADAPTER_KEYS = {"r": "lora.r", "lora_alpha": "lora.alpha",
                 "target_modules": "lora.target_modules (the modules adapted)",
                 "layers_to_transform": "lora.layers_to_transform", "rank_pattern": "lora.rank_pattern",
                 "alpha_pattern": "lora.alpha_pattern", "use_rslora": "lora.use_rslora", "use_dora": "lora.use_dora"}


def _adapter_value(field: str, value):
    if field == "target_modules" and value is not None and not isinstance(value, str):
        return sorted(value)
    if field in ("rank_pattern", "alpha_pattern"):
        return dict(value or {})
    if field == "layers_to_transform" and isinstance(value, int):
        return [value]
    return value


def check_resumed_adapter(latest: tuple[int, Path], engine: Engine, out: Path, plan_path: str | None) -> None:
    """BadInput when the checkpoint's adapter is not the one this plan builds (its [lora] or model edited since the
    run was stopped): another rank's or module's weights do not load (a traceback of size mismatches), and
    another alpha would continue the run at another scale. Compared field by field with the checkpoint's
    adapter_config.json, then tensor by tensor. Before anything is written; sharded checkpoints (FSDP, ZeRO)
    keep no adapter folder and are not compared."""
    step, folder = latest
    config = folder / "adapter" / "adapter_config.json"
    if not config.is_file():
        return
    saved = json.loads(config.read_text())
    model = engine.accelerator.unwrap_model(engine.model)
    live = model.peft_config["default"]
    problem = None
    for field, key in _ADAPTER_KEYS.items():
        there, here = _adapter_value(field, saved.get(field)), _adapter_value(field, getattr(live, field, None))
        if there != here:
            problem = f"{key} is {there} there and {here} here"
            break
    if problem is None:
        from peft import get_peft_model_state_dict
        from safetensors import safe_open

        want = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(model).items()}
        with safe_open(str(folder / "adapter" / "adapter_model.safetensors"), framework="pt") as fh:
            have = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118 (not a dict)
        for name in sorted(set(want) | set(have)):
            if want.get(name) != have.get(name):
                problem = f"{name} is {have.get(name, 'absent')} there and {want.get(name, 'absent')} here"
                break
    if problem is not None:
        plan = f"{plan_path}'s" if plan_path else "the plan's"
        raise BadInput(f"--resume: checkpoint-{step} in {out} was saved with another adapter than {plan} "
                       f"({problem}): the plan was edited since that run; restore it to continue the run, or "
                       "give --output to start elsewhere")


def _resume(engine: Engine, latest: tuple[int, Path] | None, out: Path, resume: bool, main: bool) -> dict:
    """The state.json of the checkpoint this run continues from, loaded into the engine ({}: none). Said on
    stderr with the set-up's notes: stdout is the summary."""
    if latest is not None:
        state = ckpt.load_checkpoint(latest[1], engine.model, engine.optimizer, engine.scheduler,
                                     engine.accelerator)
        start = int(state["step"])
        if main:
            print(f"resumed from checkpoint-{start} (step {start} of {engine.total_steps})", file=sys.stderr,
                  flush=True)
        return state
    if resume and main:
        print(f"no checkpoint in {out}: starting from step 0", file=sys.stderr, flush=True)
    return {}


def _span(first: int, last: int) -> str:
    return f"step {first}" if first == last else f"steps {first}-{last}"


def _took(schedules: list[dict], upto: int) -> str:
    """Whose learning rates steps 1..upto took, in words: "steps 1-3 took the 3-step run's"."""
    ends = [s["from_step"] for s in schedules[1:]] + [upto]
    said = [(_span(s["from_step"] + 1, end), f"the {s['total']}-step run's") for s, end in zip(schedules, ends,
                                                                                               strict=True)]
    return f"{said[0][0]} took {said[0][1]}" + "".join(f", {span} {whose}" for span, whose in said[1:])


def train_on(engine: Engine, state: dict, out: Path) -> tuple[list[dict], str]:
    """A finished run trains on to engine.total_steps: the schedule, built over the new length and loaded with
    the finished run's state (which ends its own schedule), is put at the finished step, so the steps from
    there take the new length's learning rates. Returns the run's schedules (checkpoint.schedules) and the
    `note:` that says what was done: whether the steps already trained took the learning rates a run of the new
    length gives them (as a constant schedule does: this is that run), or not (the adapter is not a full run's)."""
    from lorplan.train.optim import move_schedule, multipliers

    plan, total, step = engine.plan, engine.total_steps, int(state["step"])
    before = ckpt.schedules(state)
    lr = move_schedule(engine.scheduler, step)[0]
    full = multipliers(plan, total, step)
    ends = [s["from_step"] for s in before[1:]] + [step]
    took = [multipliers(plan, s["total"], end) for s, end in zip(before, ends, strict=True)]
    same = all(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
               for s, m, end in zip(before, took, ends, strict=True)
               for got, want in zip(m[s["from_step"]:end], full[s["from_step"]:end], strict=True))
    take = "takes" if step + 1 == total else "take"
    head = (f"--resume: the finished {step}-step run in {out} trains on from checkpoint-{step}: "
            f"{_span(step + 1, total)} {take} the {total}-step run's learning rates "
            f"({plan.training.lr_scheduler} schedule; {lr:.2e} at step {step + 1})")
    if same:
        note = f"{head}, and {_took(before, step)}, the same, so this is the {total}-step run"
    else:
        was = engine.scheduler.base_lrs[0] * took[-1][step - 1]
        note = (f"{head}, but {_took(before, step)} ({was:.2e} at step {step}), so the adapter is not what "
                f"training {total} steps from the start gives (--output elsewhere does that)")
    return [*before, {"from_step": step, "total": total}], note


def trim_log(path: Path, start: int) -> float | None:
    """Keep only the log lines of steps up to `start`, the step this run continues from (0: none), so that the
    log holds each step once: a resumed run logs again the steps after its checkpoint that a killed run had
    logged, and a run started over replaces the lines of one killed before its first checkpoint. Atomic.
    Returns the `seconds` of the last line kept (None: none kept), where the log of a checkpoint that did not
    keep its time goes on from."""
    if not path.exists():
        return None
    from lorplan.core.atomic import replace_text

    kept, seconds = [], None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            record = json.loads(line)
            step = record.get("step")
        except (ValueError, AttributeError):
            continue  # a line cut by a kill
        if isinstance(step, int) and step <= start:
            kept.append(line if line.endswith("\n") else line + "\n")
            if isinstance(record.get("seconds"), (int, float)):
                seconds = float(record["seconds"])
    replace_text(path, "".join(kept))
    return seconds


def epochs_text(epochs, places: int = 2) -> str:
    """Epochs done, rounded down to `places` decimals ("0.35", "3.00"): an epoch is not said done before its last
    step."""
    scaled = math.floor(epochs * 10**places)
    return f"{scaled // 10**places}.{scaled % 10**places:0{places}d}"


def progress_line(s: StepStats, total: int, epochs, seconds: float) -> str:
    """The plain progress line printed instead of the bar when stderr is not a terminal; `epochs`: the epochs
    steps 1..s.step made (Engine.epochs_done)."""
    return (f"training: step {s.step}/{total}, loss {s.loss:.4f}, lr {s.lr:.2e}, epoch {epochs_text(epochs)}, "
            f"{seconds:.0f} s")


class _Loop:
    """What `lorplan train` does around each engine step: log, progress bar, checkpoints, stop on a signal."""

    def __init__(self, engine: Engine, out: Path, start: int, progress: bool, seconds_before: float = 0.0,
                 schedules: list[dict] | None = None) -> None:
        from tqdm.auto import tqdm

        self.engine, self.out = engine, out
        self.schedules = schedules or [{"from_step": 0, "total": engine.total_steps}]
        self.main = engine.accelerator.is_main_process
        # log.jsonl's `seconds` is the run's training time, counted on across resumes: the time up to the
        # checkpoint this run continues from, then this loop's
        self.t0 = time.monotonic() - seconds_before
        self.loss: float | None = None
        self.eval: EvalStats | None = None
        self.saved_at: int | None = None
        self.train_seconds = 0.0
        self.stop = StopRequest()
        # log.jsonl's `tokens` is the run's input tokens so far, all processes', counted on across resumes: the
        # steps up to the checkpoint this run continues from are counted again from the data order
        self.step_tokens = engine.step_tokens()
        self.tokens = sum(next(self.step_tokens) for _ in range(start)) if self.main else 0
        # the bar redraws itself in place, which only a terminal shows as one line: into a file or a pipe
        # (`2>log`) every frame would be kept, so there a plain progress line is printed at each logging step
        terminal = sys.stderr.isatty()
        self.lines = progress and self.main and not terminal
        self.bar = tqdm(total=engine.total_steps, initial=start, desc="training", unit="step",
                        disable=not (progress and self.main and terminal), dynamic_ncols=True)

    def _save(self, step: int) -> None:
        e = self.engine
        ckpt.save_checkpoint(self.out, step, e.model, e.optimizer, e.scheduler,
                             {"total": e.total_steps, "seconds": round(time.monotonic() - self.t0, 3),
                              "schedules": self.schedules, "training": ckpt.training_settings(e.plan),
                              HARDWARE_KEY: hardware_state(e.plan)},
                             e.accelerator)
        self.saved_at = step

    def on_step(self, s: StepStats) -> None:
        t = self.engine.plan.training
        self.loss = s.loss
        self.train_seconds += s.seconds
        epochs = self.engine.epochs_done(s.step)
        if self.main:
            self.tokens += next(self.step_tokens)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{s.loss:.4f}", lr=f"{s.lr:.2e}", epoch=epochs_text(epochs))
        if s.step % t.logging_steps == 0 or s.step == self.engine.total_steps:
            seconds = time.monotonic() - self.t0
            error = None
            if self.main:
                record = {"step": s.step, "loss": s.loss, "lr": s.lr, "epoch": float(epochs_text(epochs, 4)),
                          "tokens": self.tokens, "seconds": round(seconds, 3)}
                try:
                    with open(self.out / "log.jsonl", "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record) + "\n")
                except OSError as exc:  # a full disk or quota: one line, with what --resume continues from
                    error = ckpt.NotSaved(f"could not write {self.out / 'log.jsonl'} at step {s.step} "
                                          f"({ckpt.write_failure(exc, self.out)}); {ckpt.kept_line(self.out)}")
            # every process stops with the main one: alone, it left them waiting at the next step's collective
            ckpt.agree(self.engine.accelerator, error,
                       f"stopped at step {s.step}: the main process could not write {self.out / 'log.jsonl'} "
                       f"(its line says why); {ckpt.kept_line(self.out)}")
            if self.lines:
                print(progress_line(s, self.engine.total_steps, epochs, seconds), file=sys.stderr, flush=True)
        # the last step's too: --resume with more steps trains a finished run on from it (optimizer, RNG, schedule)
        if s.step % t.save_steps == 0 or s.step == self.engine.total_steps:
            self._save(s.step)

    def on_eval(self, step: int, result: EvalStats) -> None:
        self.eval = result

    def should_stop(self, step: int) -> bool:
        """Whether any process was asked to stop (all agree, so they stop at the same step); saves there."""
        acc = self.engine.accelerator
        asked = self.stop.signum is not None
        if acc.num_processes > 1:
            import torch

            flag = torch.tensor([1 if asked else 0], device=acc.device)
            asked = bool(acc.reduce(flag, reduction="max").item())
        if asked and self.saved_at != step:
            self._save(step)
        return asked

    def interrupted(self, step: int) -> TrainingInterrupted:
        name = signal.Signals(self.stop.signum).name if self.stop.signum else "a signal"
        return TrainingInterrupted(f"stopped by {name} after step {step} of {self.engine.total_steps}: "
                                   f"checkpoint-{step} saved in {self.out}; continue with --resume",
                                   self.stop.signum or signal.SIGTERM)


def _save_adapter(model, tok, adapter_dir: Path, state_dict, engine: Engine) -> None:
    """save_pretrained into a temporary folder, then rename: the adapter folder is whole or absent. A
    classifier's folder also holds classifier_config.json, the AutoModelForSequenceClassification arguments of
    its head (core.export.peft.classifier_kwargs: num_labels, problem_type, ignore_mismatched_sizes, the
    pad_token_id it pooled by where from_pretrained takes it: model.classifier_pad_kwargs, and id2label / label2id
    when the labels are names), as `lorplan export --to peft` writes it: the base model's default head (two outputs)
    cannot load another head's adapter. The adapter of the finished run this one trained on is replaced (it stays
    in that run's last checkpoint while it is kept)."""
    tmp = adapter_dir.with_name(f".{adapter_dir.name}.tmp")
    old = adapter_dir.with_name(f".{adapter_dir.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp), state_dict=state_dict)
        tok.save_pretrained(str(tmp))
        if engine.classification:
            from lorplan.core.export.peft import CLASSIFIER_FILE, classifier_kwargs
            from lorplan.train.model import classifier_pad_kwargs

            pad = classifier_pad_kwargs(engine.accelerator.unwrap_model(model)).get("pad_token_id")
            head = classifier_kwargs(engine.plan, engine.classes, pad_token_id=pad)
            (tmp / CLASSIFIER_FILE).write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    except Exception as exc:  # OSError, SafetensorError: a full disk or quota; the old adapter stays as it was
        out = adapter_dir.parent
        why = ckpt.storage_failure(exc, out)  # before the space comes back: a full disk is said to be full
        shutil.rmtree(tmp, ignore_errors=True)
        if why is None:  # not a write that failed: a bug to see, with its traceback
            raise
        raise ckpt.NotSaved(f"could not save the adapter in {adapter_dir} ({why}); {ckpt.kept_line(out)}") from None
    if adapter_dir.exists():  # a folder replaces no folder that holds files: the old one steps aside first
        shutil.rmtree(old, ignore_errors=True)
        os.replace(adapter_dir, old)
    os.replace(tmp, adapter_dir)
    shutil.rmtree(old, ignore_errors=True)


CLASSES_SHOWN = 20  # named classes printed after a run (result.json holds them all)


def _report(result: TrainResult, plan, processes: int = 1) -> None:
    """The summary after the run. The set-up's notes are not in it: run_training printed them before the first
    step (result.json keeps them). A run shorter than an epoch (a --max-steps trial) says how many of the
    epoch's sequences its steps trained on, rather than that it trained on all of them."""
    if result.trained_tokens is not None:
        from lorplan.core.units import counted

        t = plan.training
        seen = result.steps * t.micro_batch * t.gradient_accumulation * processes
        if seen < result.train_examples:
            steps = counted(result.steps, "step")
            print(f"trained on {seen:,} of an epoch's {result.train_examples:,} sequences ({steps}, "
                  f"{seen / result.train_examples:.2g} epoch); {result.trained_tokens:,} tokens with loss per epoch "
                  f"(data.train_on = {plan.data.train_on!r})")
        else:
            print(f"trained on {result.train_examples:,} sequences, {result.trained_tokens:,} tokens with loss per "
                  f"epoch (data.train_on = {plan.data.train_on!r})")
    named = result.classes and any(isinstance(v, str) for v in result.classes.values())
    if named:  # integer labels are their own ids; names were numbered in sorted order (core.data.labels)
        shown = [f"{i} = {v!r}" for i, v in list(result.classes.items())[:CLASSES_SHOWN]]
        more = f", … ({len(result.classes):,} in all)" if len(result.classes) > CLASSES_SHOWN else ""
        print(f"classes: {', '.join(shown)}{more} (the head's outputs; result.json: classes)")
    if result.eval_loss is not None:
        accuracy = f", accuracy {result.eval_accuracy:.3f}" if result.eval_accuracy is not None else ""
        print(f"eval loss: {result.eval_loss:.4f}{accuracy}")
    for line in report_lines(result.memory, result.estimate_total_bytes,
                             plan.estimate.details if plan.estimate is not None else None):
        print(line)
    print(f"adapter saved to {result.adapter_dir}")


def _finish(engine: Engine, loop: _Loop, out: Path, resumed_from: int | None) -> TrainResult:
    """Measure, save the adapter and result.json, print the summary (main process)."""
    acc, plan = engine.accelerator, engine.plan
    measured = engine.meter.measure()
    adapter_dir = out / "adapter"
    # every process takes part in gathering a sharded (FSDP / ZeRO-3) state dict; only the main one writes
    state = acc.get_state_dict(engine.model)
    error = None
    if loop.main:
        try:
            _save_adapter(acc.unwrap_model(engine.model), engine.tokenizer, adapter_dir, state, engine)
        except Exception as exc:  # NotSaved, or a bug: every process stops, this one with it
            error = exc
    ckpt.agree(acc, error, f"the main process could not save the adapter in {adapter_dir} (its line says why); "
                           f"{ckpt.kept_line(out)}")
    end_process_group(engine)  # the run's last collective: what follows is the main process's own writing
    est = plan.estimate.total_bytes if plan.estimate is not None else None
    ev = loop.eval
    result = TrainResult(str(out), str(adapter_dir), engine.total_steps, resumed_from, loop.loss,
                         ev.loss if ev else None, measured, est, tuple(engine.notes), len(engine.train_items),
                         engine.trained_tokens, ev.accuracy if ev else None, round(engine.load_seconds, 3),
                         round(loop.train_seconds, 3),
                         {str(i): v for i, v in engine.classes.items()} if engine.classification else None,
                         tuple(loop.schedules))
    if loop.main:
        from lorplan.core.atomic import replace_text

        try:
            replace_text(out / "result.json", json.dumps(asdict(result), indent=2))  # whole or absent, for scripts
        except OSError as exc:
            raise ckpt.NotSaved(f"could not write {out / 'result.json'} ({ckpt.write_failure(exc, out)}); the "
                                f"adapter is saved in {adapter_dir}") from None
        _report(result, plan, acc.num_processes)
    return result


def end_process_group(engine: Engine) -> None:
    """A run on several processes destroys its process group (accelerate's end_training), so no process exits
    with gloo's or NCCL's threads still running: C++ teardown at exit raced them, and a process that had said its
    line died of `terminate called without an active exception` (SIGABRT) now and then. Called only where every
    process of the run is at the same point with no collective after it: after the last agree of a finished
    run, after a stop every process agreed on (should_stop), after a failure every process raised at one
    checkpoint.agree. Never after a failure of one process alone: its peers may be waiting in a collective, and
    NCCL's teardown could then wait on them; such a process exits with its group, as before. One process:
    nothing (it has no group). A teardown that fails changes nothing the run did: the run's outcome (its result,
    its stop, its own error) is what is said. The engine is then held until the process leaves through
    exit_after_group."""
    acc = engine.accelerator
    if acc.num_processes > 1:
        with contextlib.suppress(Exception):
            acc.end_training()
        _ENDED.append(engine)


# engines of runs on several processes whose group was destroyed (end_process_group): held, never freed, until
# the process leaves through exit_after_group
_ENDED: list[Engine] = []


def exit_after_group(code: int) -> None:
    """End a process of a run on several processes, after its group was destroyed, without Python's or C++'s
    teardown (stop.exit_past_teardown, as the probe worker leaves).
    Nothing else is left to do (every file of the run is written, its line said), and teardown is where a
    follower that had said its line still died of `terminate called without an active exception` (SIGABRT,
    exit -6) once in CI after end_process_group: destroy_process_group drops the group from torch's registry,
    but DDP's reducer holds the gloo (or NCCL) backend with its threads until the model is freed, at exit. Its
    engine is held in _ENDED until then, so nothing of it is freed before os._exit. Returns at once in any
    other process (one process, no run, a run whose group was left as it was).
    Only for the process's own command (lorplan.cli.main with no argv): a caller of main(argv) keeps its
    process."""
    if _ENDED:
        exit_past_teardown(code)


class SharedMemoryFull(LorplanError):
    """NCCL found no room in /dev/shm for the GPUs' processes to talk through (lorplan.train.write_error
    .nccl_shm_failure): one line saying what to do, exit 1, not torch's DistBackendError."""


def run_training(plan, *, plan_path: str | None = None, output_dir: str | None = None,
                 max_steps: int | None = None, resume: bool = False, progress: bool = True,
                 notes: tuple[str, ...] = ()) -> TrainResult:
    """Train the plan; see the module docstring. Raises BadInput for anything the user can fix, and
    TrainingInterrupted after a stop signal (a checkpoint saved at the step it stopped after). A process that
    `lorplan train` launched holds the output folder's shared lock meanwhile (lorplan.train.lock.joined).
    `notes`: whole `note:` lines of the caller's (lorplan.cli.train: the CPU run's threads), said with the
    engine's once the run passed its checks, so that a refused run says its one line alone."""
    out = output_folder(output_dir, plan, plan_path)  # the folder the lock and the input checks named
    with joined(out):
        try:
            return _run_training(plan, out, plan_path, max_steps, resume, progress, notes)
        except Exception as exc:
            segment = nccl_shm_failure(exc)
            if segment is None:
                raise
            raise SharedMemoryFull(
                f"NCCL could not make its shared memory segment {segment} between the GPUs' processes: /dev/shm "
                "is full or too small (a docker container's is 64 MB unless started with --shm-size, e.g. "
                "--shm-size=16g); give it room, or set NCCL_SHM_DISABLE=1 to go without it (slower)"
                + (", and continue with --resume" if ckpt.latest_checkpoint(out) else "")) from None


def _run_training(plan, out: Path, plan_path: str | None, max_steps: int | None, resume: bool,
                  progress: bool, notes: tuple[str, ...] = ()) -> TrainResult:
    latest, finished = check_output(out, resume)
    if latest is not None:  # a damaged file, another sharding, an edited learning rate: before the model loads
        check_sharding(latest, plan, out, plan_path)
        ckpt.check_checkpoint(latest, out)
        check_resumed_rate(latest, plan, out, plan_path)
    engine = build_engine(plan, plan_path=plan_path, max_steps=max_steps,
                          load_bar=progress and sys.stderr.isatty())
    if finished is not None:
        ckpt.check_longer(finished, engine.total_steps, out)
    elif latest is not None:
        check_resumed_length(latest, engine.total_steps, out)
    if latest is not None:
        check_resumed_adapter(latest, engine, out, plan_path)
    try:
        return _train_built(engine, latest, finished, out, resume, progress, notes)
    except BaseException as exc:
        if ckpt.agreed(exc):  # every process raised it at the same agree
            end_process_group(engine)
        raise


def _train_built(engine: Engine, latest: tuple[int, Path] | None, finished: ckpt.FinishedRun | None,
                 out: Path, resume: bool, progress: bool, notes: tuple[str, ...] = ()) -> TrainResult:
    main = engine.accelerator.is_main_process
    if main:
        # said at once, not after hours of training: a new (random) head, weights left at random, a cut seq_len,
        # the CPU changes; on stderr, before the progress, as every note of the set-up: stdout is the summary
        for line in notes:
            say(line)
        for line in engine.notes:
            say(f"note: {line}")
        out.mkdir(parents=True, exist_ok=True)
        ckpt.clean_partial(out)
    state = _resume(engine, latest, out, resume, main)
    start = int(state.get("step", 0))
    schedules = ckpt.schedules(state) if state else None
    if finished is not None:
        schedules, note = train_on(engine, state, out)
        if main:
            say(f"note: {note}")
    seconds = state.get("seconds")  # absent from checkpoints saved before it was kept
    seconds = float(seconds) if isinstance(seconds, (int, float)) else None
    if main:
        logged = trim_log(out / "log.jsonl", start)
        if seconds is None and start:
            seconds = logged
    loop = _Loop(engine, out, start, progress, seconds or 0.0, schedules)
    with loop.stop:
        last = run_steps(engine, start=start, on_step=loop.on_step, on_eval=loop.on_eval,
                         should_stop=loop.should_stop)
    loop.bar.close()
    if last < engine.total_steps:  # every process stops here: should_stop agreed, and its checkpoint was saved
        end_process_group(engine)
        raise loop.interrupted(last)
    return _finish(engine, loop, out, start if latest is not None else None)
