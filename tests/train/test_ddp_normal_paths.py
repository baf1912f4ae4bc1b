"""`lorplan train` in two processes (DDP, as torchrun starts them) on a disk with room, through every point where
the processes agree on a write (lorplan.train.checkpoint.agree: an all-reduce at each logging step, at each
checkpoint and after the adapter): a logging interval that is not the save interval, a last step that is
neither's multiple, evaluation, then --resume to a longer run. An agree that one process reached and the other
did not would leave both waiting for each other; here both end 0 and the logs and checkpoints are the main
process's as in one process. Two real processes on the CPU (gloo).

Each process also destroys its process group before it exits (lorplan.train.runner.end_process_group): one left
alive let C++ teardown at exit race gloo's threads, and a process that had finished its work now and then died
of `terminate called without an active exception` (SIGABRT, return code -6). That abort is rare; what is
checked is its cause: a sitecustomize.py on the processes' PYTHONPATH (EXIT_HOOK) writes, at exit, whether
torch.distributed still had a process group, and both runs' processes must say they had none left.

The first run also checks that a run of two processes says its notes once (it was tests/train/test_launch.py's own
two-process run, the same set-up): every process torchrun starts runs `lorplan train`, and each printed the input
checks' notes (rows skipped, the [estimate] priced anew, the CPU threads), once per process. Rank 1 says no note,
rank 0 says each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch

from .conftest import write_jsonl
from .test_launch import _free_port
from .test_train import tiny_plan

pytestmark = pytest.mark.slow

# at exit (its atexit handler is the first registered, so it runs last): how accelerate set the process up
# (MULTI_CPU: one of several processes on the CPU, gloo) and whether a torch.distributed process group was still
# there; exit-RANK beside this file, one line. Nothing is imported here: a module not imported had no part.
EXIT_HOOK = """\
import atexit as _atexit, os as _os, sys as _sys


def _left_at_exit():
    state = _sys.modules.get("accelerate.state")
    kind = state.PartialState._shared_state.get("distributed_type") if state is not None else None
    dist = _sys.modules.get("torch.distributed")
    left = bool(dist is not None and dist.is_available() and dist.is_initialized())
    where = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "exit-" + _os.environ.get("RANK", "0"))
    with open(where, "w") as fh:
        fh.write(f"{getattr(kind, 'value', kind)}: " + ("process group left" if left else "no process group") + "\\n")


_atexit.register(_left_at_exit)
"""

# what EXIT_HOOK writes for a process of a run on two CPU processes that destroyed its group before it exited
ENDED_CLEANLY = "MULTI_CPU: no process group"


def exit_states(hook, ranks=(0, 1)) -> list[str]:
    """What EXIT_HOOK in `hook` wrote for each rank (its file is removed, ready for the next run)."""
    said = []
    for rank in ranks:
        path = hook / f"exit-{rank}"
        said.append(path.read_text().strip() if path.exists() else "no exit-file")
        path.unlink(missing_ok=True)
    return said


def assert_clean_ends(procs, said, codes) -> None:
    """Exit codes as expected (not a signal's negative one) and no C++ abort on stderr."""
    assert [p.returncode for p in procs] == codes, said
    for _, err in said:
        assert "terminate called" not in err, err


# the main process sends itself SIGTERM as it opens log.jsonl at step 2 (logging_steps = 1), as `kill` would
TERM_AT_STEP_2 = """\
import builtins, os, signal

_open = builtins.open
_seen = []


def open(file, *args, **kwargs):
    if str(file).endswith("log.jsonl") and args[:1] == ("a",):
        _seen.append(file)
        if len(_seen) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
    return _open(file, *args, **kwargs)


builtins.open = open
"""


def _train_both(plan_path, *extra, hook_text="", codes=(0, 0)):
    hook = plan_path.parent / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(hook_text + "\n\n" + EXIT_HOOK)
    env = {k: v for k, v in os.environ.items() if k not in (launch.UNDER_LAUNCH_ENV, "OMP_NUM_THREADS")}
    path = os.pathsep.join(p for p in (str(hook), env.get("PYTHONPATH", "")) if p)
    env.update(WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=path)
    procs = [subprocess.Popen([sys.executable, "-m", "lorplan", "train", str(plan_path), "--no-progress", *extra],
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for rank in (0, 1)]
    try:
        said = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert_clean_ends(procs, said, list(codes))
    assert exit_states(hook) == [ENDED_CLEANLY] * 2, said
    return said


def test_two_processes_log_save_evaluate_and_resume_together(tmp_path, tiny_llama):
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=5, save_steps=2, logging_steps=3, gradient_accumulation=1)
    plan = read_plan(plan_path)
    write_plan(replace(plan, hardware=replace(plan.hardware, gpus=2, sharding="ddp")), plan_path, force=True)
    data = write_jsonl(Path(plan.data.path))
    data.write_text(data.read_text() + "{not json\n")  # a row the input checks skip, with a note
    out = tmp_path / "out"
    (out0, err0), (out1, err1) = _train_both(plan_path)
    assert "eval loss:" in out0 and out1 == ""
    # the notes, once: none from rank 1, each of rank 0's once
    assert "note:" not in err1, err1
    notes = [line for line in err0.splitlines() if line.startswith("note:")]
    assert len(notes) == len(set(notes)), notes
    assert any("1 row skipped" in n for n in notes) and any("[estimate] does not price" in n for n in notes), err0
    assert "adapter saved to" in out0 and json.loads((out / "result.json").read_text())["steps"] == 5
    assert [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [3, 5]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-4",
                                                                                        "checkpoint-5"]
    _train_both(plan_path, "--resume", "--max-steps", "7")
    assert [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [3, 5, 6, 7]
    assert json.loads((out / "result.json").read_text())["steps"] == 7
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-6",
                                                                                        "checkpoint-7"]


def test_two_processes_stopped_by_a_signal_stop_together(tmp_path, tiny_llama):
    """SIGTERM to the main process alone: both agree to stop after the step (should_stop), save its checkpoint,
    say so and exit 128 + 15 with their process group destroyed."""
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=4, logging_steps=1, gradient_accumulation=1)
    plan = read_plan(plan_path)
    write_plan(replace(plan, hardware=replace(plan.hardware, gpus=2, sharding="ddp")), plan_path, force=True)
    out = tmp_path / "out"
    (_, err0), (_, err1) = _train_both(plan_path, hook_text=TERM_AT_STEP_2, codes=(143, 143))
    assert err0.strip().splitlines()[-1] == (f"lorplan train: stopped by SIGTERM after step 2 of 6: checkpoint-2 "
                                             f"saved in {out}; continue with --resume"), err0
    assert err1.strip().splitlines()[-1] == (f"lorplan train: stopped by a signal after step 2 of 6: checkpoint-2 "
                                             f"saved in {out}; continue with --resume"), err1
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-2"]
