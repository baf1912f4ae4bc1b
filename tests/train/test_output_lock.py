"""Two `lorplan train` runs in one output folder: the second was not stopped (the same plan started in two SSH
sessions, a `--resume` while the first still trains) and the two wrote over each other's checkpoints and
log.jsonl. Now `lorplan train` holds an exclusive flock on OUT/.lorplan-train.lock for its whole run, and a
second one is refused in one line naming the folder and the holder's pid, exit 2, before torch is imported.

The lock is held here by the test process itself, or by a child that holds it until it is killed: no timing
decides what the command sees. The real command runs in a child process (a real tiny Llama's folder, real
data), which reports what it imported; the run after a holder killed with SIGKILL trains for real, in this
process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_builders import tiny_llama

from lorplan.cli import main
from lorplan.train.lock import LOCK_NAME, OutputLock, holder, lock_path

from .conftest import write_jsonl

PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', *sys.argv[1:]]); "
         "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
         " 'peft': 'peft' in sys.modules}))")
HOLDER = ("import sys, time; from pathlib import Path; from lorplan.train.lock import OutputLock; "
          "lock = OutputLock(Path(sys.argv[1]), 'x'); lock.take(make=False); Path(sys.argv[2]).touch(); time.sleep(300)")


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "LORPLAN_UNDER_ACCELERATE", "LORPLAN_TRAIN_LOCK_TOKEN")}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cwd / "hf"), "XDG_STATE_HOME": str(cwd / "state"), **extra}


def _train(plan: Path, *args: str, cwd: Path, **env: str) -> tuple[dict, str]:
    """`lorplan train PLAN ARGS` in a child: (its exit code and what it imported, its stderr)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plan), *args], cwd=cwd, env=_env(cwd, **env),
                          capture_output=True, text=True, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lock")
    model = tiny_llama(root / "model", hidden=16, layers=1)
    plan = root / "plan.toml"
    with pytest.MonkeyPatch.context() as mp:  # planned in this process: a child's start saved
        for name, value in _env(root).items():
            mp.setenv(name, value)
        mp.chdir(root)
        assert main(["plan", "--model", str(model), "--rank", "2", "--seq-len", "32", "--data",
                     str(write_jsonl(root / "train.jsonl", 48)), "--write", str(plan), "--force"]) == 0
    return plan


def _checkpoint(out: Path, step: int) -> None:
    """A checkpoint folder as far as the refusals before torch read it (its state.json)."""
    (out / f"checkpoint-{step}").mkdir(parents=True)
    (out / f"checkpoint-{step}" / "state.json").write_text(json.dumps({"step": step, "total": 4}))


def _refusal(out: Path, pid: int) -> str:
    return (f"lorplan train: error: --output {out} is in use by another lorplan train (pid {pid}): wait for it to "
            "end (or stop it), or give --output to train elsewhere\n")


@pytest.mark.parametrize("extra", [[], ["--resume"]])
def test_a_second_run_in_a_locked_folder_is_refused_before_torch(plan, tmp_path, extra):
    out = tmp_path / "run"
    _checkpoint(out, 2)  # a run in progress: without the lock, --resume would read its checkpoints
    with OutputLock(out, "held by the test") as lock:
        lock.take(make=False)
        before = sorted(p.name for p in out.iterdir())
        got, err = _train(plan, *extra, "--max-steps", "4", "--no-progress", "--output", str(out), cwd=tmp_path)
        assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
        assert err == _refusal(out, os.getpid())
        assert sorted(p.name for p in out.iterdir()) == before  # nothing written, the lock file left to its holder
    assert not lock_path(out).exists()  # the holder removed it as it let go


def test_the_plans_output_dir_is_named_when_no_output_is_given(plan, tmp_path):
    out = tmp_path / "outputs" / "model-r2"  # the plan's training.output_dir, from the working folder
    out.mkdir(parents=True)
    with OutputLock(out, "held by the test") as lock:
        lock.take(make=False)
        got, err = _train(plan, "--max-steps", "1", "--no-progress", cwd=tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert err == (f"lorplan train: error: {plan}: training.output_dir outputs/model-r2 is in use by another lorplan "
                   f"train (pid {os.getpid()}): wait for it to end (or stop it), or give --output to train "
                   "elsewhere\n")


@pytest.mark.slow
def test_a_run_whose_lock_holder_was_killed_starts_and_leaves_no_lock_file(plan, tmp_path, monkeypatch, capsys):
    """A holder killed with SIGKILL (it ran no clean-up) leaves its lock file, not its lock: the next run trains,
    and a finished run's folder holds its outputs alone. That run trains in this process (a child's start and
    imports of torch, transformers and peft saved): the holder and the refused run are children."""
    out, ready = tmp_path / "run", tmp_path / "ready"
    out.mkdir()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), str(ready)], env=_env(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the holder did not take the lock"
            time.sleep(0.05)
        got, err = _train(plan, "--max-steps", "1", "--no-progress", "--output", str(out), cwd=tmp_path)
        assert (got["rc"], err) == (2, _refusal(out, child.pid))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert lock_path(out).exists()  # what the kill left: a file nobody holds
    for name in ("RANK", "LOCAL_RANK", "LORPLAN_UNDER_ACCELERATE", "LORPLAN_TRAIN_LOCK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["train", str(plan), "--max-steps", "1", "--no-progress", "--output", str(out)]) == 0, \
        capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "checkpoint-1", "log.jsonl", "result.json"]


@pytest.mark.parametrize("env", [{"LORPLAN_UNDER_ACCELERATE": "1", "RANK": "0", "LOCAL_RANK": "0"},
                                 {"LORPLAN_UNDER_ACCELERATE": "1", "RANK": "1", "LOCAL_RANK": "1"},
                                 {"RANK": "1", "LOCAL_RANK": "1"}])
def test_the_processes_of_a_launched_run_take_no_lock(plan, tmp_path, env):
    """One lock per run: the `lorplan train` that launched the processes holds it (they see its
    LORPLAN_UNDER_ACCELERATE), or under your own torchrun rank 0; the others go on to the folder's own checks
    (here: an earlier run's checkpoint without --resume) instead of being refused by their own run's lock."""
    out = tmp_path / "run"
    _checkpoint(out, 2)
    with OutputLock(out, "held by the launching process") as lock:
        lock.take(make=False)
        got, err = _train(plan, "--max-steps", "4", "--no-progress", "--output", str(out), cwd=tmp_path, **env)
    assert got["rc"] == 2
    assert err == (f"lorplan train: error: {out} holds checkpoint-2 of an earlier run: pass --resume to continue "
                   "it, or --output to start elsewhere\n")


def test_rank_0_of_your_own_torchrun_takes_it(plan, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with OutputLock(out, "held by the test") as lock:
        lock.take(make=False)
        got, err = _train(plan, "--max-steps", "4", "--no-progress", "--output", str(out), cwd=tmp_path,
                          RANK="0", LOCAL_RANK="0")
    assert (got["rc"], err) == (2, _refusal(out, os.getpid()))


def test_a_run_refused_after_the_lock_leaves_no_folder(plan, tmp_path):
    """The folder is made (to hold the lock) only once the inputs pass; a refusal after that (no GPU for a
    2-GPU plan) removes it again, as it was."""
    two = tmp_path / "two.toml"
    two.write_text(plan.read_text().replace("gpus = 1", "gpus = 2").replace('sharding = "none"', 'sharding = "ddp"'))
    got, err = _train(two, "--max-steps", "1", "--no-progress", "--output", "new/run", cwd=tmp_path,
                      CUDA_VISIBLE_DEVICES="")
    assert got["rc"] == 2 and not got["torch"]
    assert "hardware.gpus = 2, but no GPU is visible here" in err
    assert not (tmp_path / "new").exists()


def test_a_taker_never_holds_a_file_its_holder_removed(tmp_path):
    """A release removes the lock file while it still holds it; a taker that opened that file before the removal
    locks it after and must not count it: it takes the file at the path."""
    import fcntl

    out = tmp_path / "run"
    out.mkdir()
    first = OutputLock(out, "first")
    first.take(make=False)
    stale = os.open(lock_path(out), os.O_RDWR)  # opened before the release, as a racing taker would
    first.release()
    fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the removed file's lock: free, and no one else's
    second = OutputLock(out, "second")
    second.take(make=False)
    try:
        assert os.stat(lock_path(out)).st_ino == os.fstat(second.fd).st_ino
        assert lock_path(out).read_text().split()[0] == str(os.getpid())
        with pytest.raises(Exception, match=r"is in use by another lorplan train \(pid \d+\)"):
            OutputLock(out, "third").take(make=False)
    finally:
        second.release()
        os.close(stale)
    assert [p.name for p in out.iterdir()] == []


def test_a_holder_that_wrote_no_pid_yet_is_said_so(tmp_path):
    path = tmp_path / LOCK_NAME
    path.write_text("")
    assert holder(path, wait_s=0) == "pid not known"
    path.write_text("123 some-other-host\n")
    assert holder(path, wait_s=0) == "pid 123, on host some-other-host"
