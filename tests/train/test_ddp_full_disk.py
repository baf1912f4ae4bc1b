"""`lorplan train` in two processes (DDP, as torchrun starts them) when the main process cannot save a
checkpoint (a full disk). Before, the main process printed its one line and exited, and the other one, left
waiting at the checkpoint's barrier, ended only because gloo saw its peer's connection close: a 40-line
traceback ('Connection closed by peer ... remote worker crashing'); on GPUs NCCL does not notice a dead peer and
waits out its timeout (or the launcher's teardown). Now both agree on the failed save: each exits 1 with one
line, no traceback.

The full disk is simulated at the OS boundary inside the two child processes: a sitecustomize.py on their
PYTHONPATH makes os.fsync of a file under .checkpoint-4.tmp raise ENOSPC, as a full disk does (or the third
append to log.jsonl, at step 3: the main process alone writes it, and the others went on to the next step's
gradient all-reduce).

Each process, having raised at the same agree, destroys its process group before it exits
(lorplan.train.runner.end_process_group): the follower of the log case, which had said its line, died once in CI
of `terminate called without an active exception` (SIGABRT, -6) with its group left to C++ teardown at exit,
and the follower of the checkpoint case once more after that (DDP's reducer still held the gloo backend): such a
process now leaves through os._exit once its exit handlers ran (lorplan.train.runner.exit_after_group). The hook
also writes at exit whether a group was left (test_ddp_normal_paths.EXIT_HOOK)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch

from .test_ddp_normal_paths import ENDED_CLEANLY, EXIT_HOOK, assert_clean_ends, exit_states
from .test_launch import _free_port
from .test_train import tiny_plan

pytestmark = pytest.mark.slow

FULL_AT_FSYNC = """\
import errno, os

_fsync = os.fsync


def fsync(fd):
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = ""
    if ".checkpoint-4.tmp" in path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _fsync(fd)


os.fsync = fsync
"""

# log.jsonl, appended by the main process at each logging step, refused from step 3 on
FULL_AT_LOG = """\
import builtins, errno, os

_open = builtins.open
_seen = []


def open(file, *args, **kwargs):
    if str(file).endswith("log.jsonl") and args[:1] == ("a",):
        _seen.append(file)
        if len(_seen) >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
    return _open(file, *args, **kwargs)


builtins.open = open
"""


@pytest.mark.parametrize("where", ["checkpoint", "log"])
def test_a_failed_save_in_the_main_process_ends_every_process(tmp_path, tiny_llama, where):
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=2, gradient_accumulation=1)
    plan = read_plan(plan_path)
    write_plan(replace(plan, hardware=replace(plan.hardware, gpus=2, sharding="ddp")), plan_path, force=True)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text((FULL_AT_FSYNC if where == "checkpoint" else FULL_AT_LOG) + "\n\n" + EXIT_HOOK)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in (launch.UNDER_LAUNCH_ENV, "OMP_NUM_THREADS")}
    path = os.pathsep.join(p for p in (str(hook), env.get("PYTHONPATH", "")) if p)
    env.update(WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=path)
    procs = [subprocess.Popen([sys.executable, "-m", "lorplan", "train", str(plan_path), "--no-progress"],
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for rank in (0, 1)]
    try:
        said = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    (_, err0), (_, err1) = said
    assert_clean_ends(procs, said, [1, 1])
    assert exit_states(hook) == [ENDED_CLEANLY] * 2, said
    kept = "checkpoint-2, the last complete one, is kept: free space there and continue with --resume"
    if where == "checkpoint":
        main_line = f"could not save checkpoint-4 in {out} (No space left on device); {kept}"
        other_line = (f"checkpoint-4 was not saved in {out}: another process of the run could not write its part "
                      f"(its line says why); {kept}")
    else:
        main_line = f"could not write {out / 'log.jsonl'} at step 3 (No space left on device); {kept}"
        other_line = (f"stopped at step 3: the main process could not write {out / 'log.jsonl'} (its line says "
                      f"why); {kept}")
    assert err0.strip().splitlines()[-1] == f"lorplan train: {main_line}", err0
    assert err1.strip().splitlines()[-1] == f"lorplan train: {other_line}", err1
    assert "Traceback" not in err0 + err1, (err0, err1)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(("checkpoint", ".checkpoint"))) == [
        "checkpoint-2"]
