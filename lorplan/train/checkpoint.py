"""Checkpoints that survive a kill at any moment.

A checkpoint is written into a hidden temporary folder (`.checkpoint-N.tmp`) and renamed to `checkpoint-N`
only when complete (adapter weights, optimizer, scheduler, RNG states and `state.json`, all fsynced), so a
folder named `checkpoint-N` is always whole; leftovers of a killed save are ignored and removed. A run saves
one at its last step too (state.json's `step` = `total`), from which `--resume` trains a finished run on.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from lorplan.core.errors import BadInput, LorplanError
from lorplan.core.units import counted
from lorplan.core.vocab import ACCELERATE_DISTRIBUTED_TYPE, SHARDED
from lorplan.train.checkpoint_files import checkpoint_problem, state_problem, unreadable
from lorplan.train.write_error import first_line, write_error

_NAME = re.compile(r"^checkpoint-(\d+)$")
KEEP = 2  # complete checkpoints kept on disk (older ones are removed after a newer one is complete)


class NotSaved(LorplanError):
    """A write into the run's output folder failed (a full disk or quota, a read-only folder): one line naming
    what was not saved and where, and what is kept (exit 1)."""


def write_failure(exc: BaseException, folder: Path) -> str:
    """Why a write into `folder` failed, in the OS's words (lorplan.train.write_error: an OSError's own, the OS
    error safetensors' text names, no space left for torch's writer error on a disk with none free), else the
    error's first line."""
    found = write_error(exc, folder)
    return found.reason if found is not None else first_line(exc)


def storage_failure(exc: BaseException, folder: Path) -> str | None:
    """Why a write into `folder` failed (write_failure) when `exc` is a write that failed (an OSError; torch.save's
    writer error or safetensors' error around one: lorplan.train.write_error); None for any other error, a bug in
    the save ('Some tensors share memory', a pickling error), which is raised as it is, not said to want free
    space."""
    found = write_error(exc, folder)
    return None if found is None else found.reason


def agree(accelerator, error: BaseException | None, follower: str) -> None:
    """Raise on every process of a run when a write failed on any: `error` where it failed (NotSaved, or the
    error of a save that failed for another reason), NotSaved(`follower`) where it did not. Each process calls
    it at the same point: a process that raised alone left the others waiting for it at their next collective
    (gloo ends that wait when the failed process exits, with a traceback; NCCL not before its timeout, or the
    launcher's). One process: raises `error`, if any.

    On several processes the error raised is marked as agreed (agreed() is True): every process raises at this
    point, so the run may end its process group there (lorplan.train.runner)."""
    if accelerator is not None and accelerator.num_processes > 1:
        import torch

        flag = torch.tensor([0 if error is None else 1], device=accelerator.device)
        if accelerator.reduce(flag, reduction="max").item():
            if error is None:
                error = NotSaved(follower)
            _mark_agreed(error)
    if error is not None:
        raise error


_AGREED = "_lorplan_every_process_raised"


def _mark_agreed(error: BaseException) -> None:
    try:
        setattr(error, _AGREED, True)
    except (AttributeError, TypeError):  # an exception without attributes of its own: counted as not agreed
        pass


def agreed(error: BaseException) -> bool:
    """Whether `error` was raised by agree on every process of a run at the same point."""
    return bool(getattr(error, _AGREED, False))


def kept_line(out: Path) -> str:
    """What --resume continues from after a failed save: the newest complete checkpoint, or none."""
    latest = latest_checkpoint(out)
    if latest is None:
        return "no checkpoint was saved before it; free space there and start again"
    return (f"checkpoint-{latest[0]}, the last complete one, is kept: free space there and continue with "
            "--resume")


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in `out`, oldest first."""
    found = []
    if out.is_dir():
        for child in out.iterdir():
            m = _NAME.match(child.name)
            if m and (child / "state.json").is_file():
                found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(out: Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint (step, folder), or None."""
    found = list_checkpoints(out)
    return found[-1] if found else None


def read_state(folder: Path) -> dict:
    """A checkpoint's state.json: `step`, `total` (the run's length), `seconds` (its training time at `step`) and
    `schedules` (see schedules())."""
    return json.loads((folder / "state.json").read_text())


def schedules(state: dict) -> list[dict]:
    """The learning-rate schedules a run's steps followed up to this checkpoint, in order: each
    {"from_step": S, "total": T} means steps S+1 on were trained on a schedule built over T steps. One, unless
    the run trains on a finished run (--resume with more steps). Checkpoints saved before it was kept: one."""
    kept = state.get("schedules")
    if isinstance(kept, list) and kept:
        return [dict(s) for s in kept]
    return [{"from_step": 0, "total": state.get("total")}]


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended in an output folder: its adapter is in `adapter/`."""

    steps: int | None  # its length (None: not known, no result.json or checkpoint says it)
    final: tuple[int, Path] | None  # the checkpoint of its last step, from which it can train on (None: none kept)


def finished_run(out: Path) -> FinishedRun | None:
    """The finished run in `out`, or None when it holds none: no adapter, or an adapter that a run training on
    from it (--resume with more steps, stopped before its end) has not replaced yet."""
    if not (out / "adapter").exists():
        return None
    latest = latest_checkpoint(out)
    if latest is not None:
        problem = state_problem(latest[1] / "state.json")
        if problem is not None:  # whether it ended there cannot be told: a traceback from json before
            raise damaged_error(latest, out, latest[1] / "state.json", problem)
        state = read_state(latest[1])
        total = state.get("total")
        if isinstance(total, int) and int(state.get("step", -1)) == total:
            return FinishedRun(total, latest)
        if len(schedules(state)) > 1:  # the run that trains on it, stopped: --resume continues that one
            return None
    try:
        steps = json.loads((out / "result.json").read_text()).get("steps")
    except (OSError, ValueError, AttributeError):
        steps = None
    return FinishedRun(steps if isinstance(steps, int) else None, None)


def check_finished(out: Path, resume: bool) -> FinishedRun | None:
    """The finished run in `out` that --resume trains on (None: `out` holds none). BadInput, one line saying what
    to do, without --resume (a finished run's adapter is never trained over by accident), and for a run whose
    last step has no checkpoint (saved by an earlier lorplan, which kept only the adapter: its optimizer state
    is gone). Stdlib only: `lorplan train` asks before torch is imported."""
    run = finished_run(out)
    if run is None:
        return None
    what = f"{out} holds a finished {run.steps}-step run" if run.steps else f"{out} holds a finished run"
    where = f"its adapter is in {out / 'adapter'}"
    if run.final is None:
        raise BadInput(f"{what} ({where}) without a checkpoint of its last step (an earlier lorplan kept only the "
                       "adapter), so it cannot train on: choose another --output")
    if not resume:
        raise BadInput(f"{what} ({where}): pass --resume with more steps (a larger --max-steps, or the plan's "
                       "length) to train it on, or --output to start elsewhere")
    return run


def damaged_error(latest: tuple[int, Path], out: Path, path: Path, problem: str) -> BadInput:
    """The one line that refuses a checkpoint whose file `path` is damaged (`problem`: lorplan.train.
    checkpoint_files), with what to do: remove it to resume from the complete one before it (a run that is not
    finished: a finished run's last checkpoint is the only one it trains on from), or start elsewhere. A file
    the OS would not let lorplan read (no access: a run folder handed over by another user) is not said to be
    damaged, nor its checkpoint to be removed: it may be whole once it can be read."""
    step, folder = latest
    if unreadable(problem):
        return BadInput(f"checkpoint-{step} in {out} could not be checked: {path} {problem}; make it readable "
                        "to resume from it, or give --output to start elsewhere")
    found = list_checkpoints(out)
    before = [c for c in found if c[0] < step]
    if before and not (out / "adapter").exists():
        fix = f"remove {folder} to resume from checkpoint-{before[-1][0]}, the one before it, or give --output"
    else:
        fix = "give --output"
    return BadInput(f"checkpoint-{step} in {out} is damaged: {path} {problem}; {fix} to start elsewhere")


def check_checkpoint(latest: tuple[int, Path], out: Path) -> None:
    """BadInput (damaged_error) when a file of checkpoint `latest` that --resume loads is missing, cut short or
    garbled (lorplan.train.checkpoint_files: headers and zip directories, stdlib only, so `lorplan train` asks
    before torch is imported; loading such a file was a traceback after the model had loaded)."""
    found = checkpoint_problem(latest[1])
    if found is not None:
        raise damaged_error(latest, out, *found)


def check_longer(run: FinishedRun, total: int, out: Path) -> None:
    """BadInput unless this run (`total` steps) is longer than the finished one it would train on."""
    if run.steps is not None and total <= run.steps:
        too = " too" if total == run.steps else ""
        raise BadInput(f"--resume: {out} holds a finished {run.steps}-step run, and this one would run "
                       f"{counted(total, 'step')}{too}: pass a --max-steps above {run.steps} to train it on, or "
                       "--output to start elsewhere")


def check_resumed_length(latest: tuple[int, Path], total: int, out: Path) -> None:
    """BadInput when the checkpoint was saved by a run of another length than this one (another --max-steps,
    or a plan edited to other epochs, max_steps or data): the schedule, built over this run's length, would
    put the resumed steps at other learning rates than the run they continue. Before anything is written. Stdlib
    only: `lorplan train` asks before torch is imported when the run's length is known there (max_steps)."""
    step, folder = latest
    was = read_state(folder).get("total")
    if was is not None and int(was) != total:
        raise BadInput(f"--resume: checkpoint-{step} in {out} is step {step} of a {was}-step run, and this one "
                       f"would run {counted(total, 'step')}: its learning-rate schedule would change mid-run; pass "
                       f"--max-steps {was} to continue it as it started, or --output to start elsewhere")


# The plan's [training] keys a resumed run cannot follow once edited: the optimizer's state (its learning rate and
# weight decay, the optimizer's own kind) and the scheduler's (base learning rates, warmup and shape, built over
# the run's length) come back from the checkpoint, so an edited value would be ignored without a word.
TRAINING_KEYS = ("learning_rate", "weight_decay", "warmup_ratio", "lr_scheduler", "optimizer")


def training_settings(plan) -> dict:
    """The plan's TRAINING_KEYS as plain JSON values, kept in a checkpoint's state.json (`training`)."""
    return {key: json.loads(json.dumps(getattr(plan.training, key))) for key in TRAINING_KEYS}


def resumed_training_problem(kept: dict, plan) -> str | None:
    """The first of TRAINING_KEYS whose value in a checkpoint (`kept`, its state.json `training`) is not the
    plan's, in words ("training.learning_rate is 0.0003 there and 0.003 here"); None when all agree."""
    now = training_settings(plan)
    for key in TRAINING_KEYS:
        if key in kept and kept[key] != now[key]:
            return f"training.{key} is {json.dumps(kept[key])} there and {json.dumps(now[key])} here"
    return None


def resumed_training_error(latest: tuple[int, Path], out: Path, plan_path: str | None, problem: str) -> BadInput:
    """The one line that refuses --resume under edited training settings (resumed_training_problem)."""
    plan = f"{plan_path}'s" if plan_path else "the plan's"
    return BadInput(f"--resume: checkpoint-{latest[0]} in {out} was trained with other settings than {plan} "
                    f"({problem}): the plan was edited since that run, and a resumed run goes on with the "
                    "checkpoint's optimizer and learning-rate schedule; restore it to continue the run, or give "
                    "--output to start elsewhere")


def check_resumed_training(latest: tuple[int, Path], plan, out: Path, plan_path: str | None) -> bool:
    """BadInput when the plan's learning rate, weight decay, warmup, schedule or optimizer was edited since the
    checkpoint `latest` was saved (TRAINING_KEYS): --resume would go on with the checkpoint's. Stdlib only
    (`lorplan train` asks before torch is imported). Returns False for a checkpoint saved by an earlier lorplan,
    which kept no `training` (runner.check_resumed_rate compares its learning rate)."""
    try:
        state = read_state(latest[1])
    except (OSError, ValueError):  # damaged: loading it says so
        return False
    kept = state.get("training") if isinstance(state, dict) else None
    if not isinstance(kept, dict):
        return False
    problem = resumed_training_problem(kept, plan)
    if problem is not None:
        raise resumed_training_error(latest, out, plan_path, problem)
    return True


def _sharded(accelerator) -> bool:
    """FSDP and DeepSpeed keep the training state in shards that accelerate saves from every process."""
    types = {ACCELERATE_DISTRIBUTED_TYPE[s] for s in SHARDED}
    return accelerator is not None and accelerator.distributed_type.value in types


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: Path, step: int, model, optimizer, scheduler, meta: dict, accelerator=None) -> Path:
    """Write checkpoint-`step` atomically; returns its folder. Only the main process writes (except sharded
    FSDP/DeepSpeed states, which accelerate saves from every process)."""
    import torch

    final = out / f"checkpoint-{step}"
    tmp = out / f".checkpoint-{step}.tmp"
    sharded = _sharded(accelerator)
    main = accelerator is None or accelerator.is_main_process
    error: BaseException | None = None

    def failed(exc: BaseException) -> BaseException:
        why = storage_failure(exc, out)  # before the space comes back: torch's error says nothing of it
        shutil.rmtree(tmp, ignore_errors=True)  # the space it took is the user's again
        if why is None:  # not a write that failed: a bug to see, with its traceback
            return exc
        return NotSaved(f"could not save checkpoint-{step} in {out} ({why}); {kept_line(out)}")

    # every process agrees on each failure (agree, also the barrier between the parts), so all stop together
    follower = (f"checkpoint-{step} was not saved in {out}: another process of the run could not write its part "
                f"(its line says why); {kept_line(out)}")
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
        except OSError as exc:
            error = failed(exc)
    agree(accelerator, error, follower)
    try:
        if sharded:
            accelerator.save_state(str(tmp / "accelerate"))
        if main:
            if not sharded:  # sharded weights are in accelerate's state, gathered by every process
                unwrapped = accelerator.unwrap_model(model) if accelerator is not None else model
                unwrapped.save_pretrained(str(tmp / "adapter"))
                torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
                torch.save(rng_state(), tmp / "rng.pt")
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            (tmp / "state.json").write_text(json.dumps({"step": step, **meta}, indent=2))
            _fsync_tree(tmp)
    except Exception as exc:  # OSError, torch's RuntimeError, SafetensorError: a failed write (else a bug)
        if main:
            error = failed(exc)
        else:
            why = storage_failure(exc, out)
            error = exc if why is None else NotSaved(
                f"could not save this process's part of checkpoint-{step} in {out} ({why}); {kept_line(out)}")
    try:
        agree(accelerator, error, follower)
    except NotSaved:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)  # another process's part is missing: no checkpoint
        raise
    if main:
        try:
            os.replace(tmp, final)
        except OSError as exc:
            error = failed(exc)
        else:
            for _, old in list_checkpoints(out)[:-KEEP]:
                shutil.rmtree(old, ignore_errors=True)
    agree(accelerator, error, follower)
    return final


def load_pt(path: Path):
    """A checkpoint's torch.save file (optimizer, scheduler or RNG state), read as data: torch's weights-only
    unpickler, which takes tensors, numbers, strings and containers, plus the numpy arrays of numpy's RNG state.
    A checkpoint can come from someone else (a run folder handed over to --resume), and a full unpickle runs
    whatever code the file names; a file that needs more is refused (BadInput naming it), never loaded."""
    import pickle

    import numpy as np
    import torch

    reconstruct = np._core.multiarray._reconstruct if hasattr(np, "_core") else np.core.multiarray._reconstruct
    allowed = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), reconstruct,
               (reconstruct, "numpy.core.multiarray._reconstruct"), (reconstruct, "numpy._core.multiarray._reconstruct")]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        named = re.search(r"GLOBAL ([\w.]+)|got <class '([\w.]+)'>", str(exc))  # what it asked to import
        detail = f"it names {named.group(1) or named.group(2)}" if named else "not weights-only"
        raise BadInput(f"--resume: {path} holds more than tensors and numbers ({detail}): "
                       "lorplan does not load it, since unpickling such a file can run any code; a checkpoint "
                       "lorplan train saved loads as data") from None


def load_checkpoint(folder: Path, model, optimizer, scheduler, accelerator=None) -> dict:
    """Restore adapter weights, optimizer, scheduler and RNG from a checkpoint; returns its state.json. The
    torch.save files are read weights-only (load_pt)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    sharded = _sharded(accelerator)
    if sharded:
        accelerator.load_state(str(folder / "accelerate"))
    else:
        unwrapped = accelerator.unwrap_model(model) if accelerator is not None else model
        set_peft_model_state_dict(unwrapped, load_file(str(folder / "adapter" / "adapter_model.safetensors")))
        optimizer.load_state_dict(load_pt(folder / "optimizer.pt"))
        set_rng_state(load_pt(folder / "rng.pt"))
    scheduler.load_state_dict(load_pt(folder / "scheduler.pt"))
    return json.loads((folder / "state.json").read_text())


def clean_partial(out: Path) -> None:
    """Remove what a killed save left behind."""
    if out.is_dir():
        for child in out.iterdir():
            if child.name.startswith(".checkpoint-") and child.name.endswith(".tmp"):
                shutil.rmtree(child, ignore_errors=True)
