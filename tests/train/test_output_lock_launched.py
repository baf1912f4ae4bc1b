"""The output folder's lock and the processes a run on several GPUs launches: the flock was the launching
`lorplan train`'s alone (accelerate launch and torch's agent pass the training processes no descriptor), so a
launcher killed with kill -9 let the folder go while its training processes trained on, and a second
`lorplan train` there started beside them. Now each launched process holds a shared flock on the folder
(lorplan.train.lock.joined) and a taker is refused while any of them lives; killed too, they let it go.

Real processes, no timing: the launcher is a child that takes the real lock and waits on its stdin, the launched
process a child that joins as run_training does and says so on its stdout before it waits on its own; the test
kills each with SIGKILL and waits for it to be gone before the next look."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.train.launch import UNDER_LAUNCH_ENV
from lorplan.train.lock import TOKEN_ENV, OutputLock, lock_path
from lorplan.train.runner import run_training

from .test_output_lock import _env, _train, plan  # noqa: F401  (plan: the module's fixture, a real tiny plan)

LAUNCHER = ("import os, sys; from pathlib import Path; from lorplan.train.lock import OutputLock, TOKEN_ENV; "
            "lock = OutputLock(Path(sys.argv[1]), 'x'); lock.take(make=False); "
            "print(os.environ[TOKEN_ENV], flush=True); sys.stdin.read()")
LAUNCHED = ("import sys; from pathlib import Path; from lorplan.train.lock import joined\n"
            "with joined(Path(sys.argv[1])):\n    print('joined', flush=True); sys.stdin.read()")


def _start(code: str, out: Path, cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cwd, **env))


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reaped: its flocks went before it became a zombie


def _refusal(out: Path) -> str:
    return (f"lorplan train: error: --output {out} is in use by the training processes of another lorplan train, "
            "whose own process has ended: wait for them to end (or stop them), or give --output to train "
            "elsewhere\n")


def test_a_launchers_kill_leaves_the_folder_to_its_training_processes(plan, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    out.mkdir()
    launcher = _start(LAUNCHER, out, tmp_path)
    launched = None
    try:
        token = launcher.stdout.readline().strip()
        assert token, launcher.stderr.read()
        held = lock_path(out).read_text()
        assert held == f"{launcher.pid} {socket.gethostname()} {token}\n"
        launched = _start(LAUNCHED, out, tmp_path, **{UNDER_LAUNCH_ENV: "1", TOKEN_ENV: token})
        assert launched.stdout.readline() == "joined\n", launched.stderr.read()
        _kill(launcher)
        got, err = _train(plan, "--max-steps", "1", "--no-progress", "--output", str(out), cwd=tmp_path)
        assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
        assert err == _refusal(out)
        assert lock_path(out).read_text() == held  # the refused run put the killed launcher's line back
        _kill(launched)
    finally:
        for proc in (launcher, launched):
            if proc is not None and proc.poll() is None:
                _kill(proc)
    with OutputLock(out, "after both were killed") as lock:  # kill -9 of every process let it go
        lock.take(make=False)
        assert lock.held


def test_a_training_process_left_after_its_launcher_ended_keeps_the_folder(tmp_path):
    """The launcher ended (and removed its lock file) while one of its processes still lives: refused, and the
    refused taker leaves no lock file of its own behind."""
    out = tmp_path / "run"
    out.mkdir()
    first = OutputLock(out, "first")
    first.take(make=False)
    launched = _start(LAUNCHED, out, tmp_path, **{UNDER_LAUNCH_ENV: "1", TOKEN_ENV: os.environ[TOKEN_ENV]})
    try:
        assert launched.stdout.readline() == "joined\n", launched.stderr.read()
        first.release()
        assert not lock_path(out).exists() and TOKEN_ENV not in os.environ
        with pytest.raises(BadInput, match=r"^second is in use by the training processes of another lorplan "):
            OutputLock(out, "second").take(make=False)
        assert sorted(out.iterdir()) == []
    finally:
        _kill(launched)
        first.release()  # a failed assertion above leaves no token in this process's environment for the next


def test_a_process_not_launched_by_a_run_keeps_nothing(tmp_path):
    """Without the launcher's token (one process, your own torchrun), joining takes no lock."""
    out = tmp_path / "run"
    out.mkdir()
    child = _start(LAUNCHED, out, tmp_path, **{UNDER_LAUNCH_ENV: "1"})
    try:
        assert child.stdout.readline() == "joined\n", child.stderr.read()
        with OutputLock(out, "second") as lock:
            lock.take(make=False)
            assert lock.held
    finally:
        _kill(child)


def test_run_training_stops_when_another_run_took_the_folder_before_it_joined(plan, tmp_path,  # noqa: F811
                                                                             monkeypatch):
    """Its launcher was killed before this process joined, and another run took the folder meanwhile (its token
    in the lock file): the launched process stops before the model loads, not training beside that run."""
    out = tmp_path / "run"
    with OutputLock(out, "the other run") as lock:
        lock.take(make=True)
        monkeypatch.setenv(UNDER_LAUNCH_ENV, "1")
        monkeypatch.setenv(TOKEN_ENV, "0123456789abcdef")  # the killed launcher's
        with pytest.raises(BadInput, match=r"the lorplan train that launched this process has ended, and another "
                                           r"run took the folder: this process stops"):
            run_training(read_plan(str(plan)), plan_path=str(plan), output_dir=str(out), max_steps=1,
                         progress=False)
    assert not out.exists()  # nothing written: the folder the lock made, removed again as it let go


@pytest.mark.slow
def test_the_processes_of_a_launched_run_train_holding_the_folder(tmp_path, tiny_llama):
    """Two real processes (gloo on the CPU) as `lorplan train` launches them (LORPLAN_UNDER_ACCELERATE, the
    launcher's token), the test process their launcher holding the lock: both join and train to the end."""
    from dataclasses import replace

    from lorplan.core.plan import write_plan

    from .test_launch import _free_port
    from .test_train import tiny_plan

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2, logging_steps=1, gradient_accumulation=1)
    two = read_plan(plan_path)
    write_plan(replace(two, hardware=replace(two.hardware, gpus=2, sharding="ddp")), plan_path, force=True)
    out = tmp_path / "out"
    with OutputLock(out, "the launcher") as lock:
        lock.take(make=True)
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        env.update({UNDER_LAUNCH_ENV: "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(_free_port()), "CUDA_VISIBLE_DEVICES": ""})
        procs = [subprocess.Popen([sys.executable, "-m", "lorplan", "train", str(plan_path), "--no-progress"],
                                  env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for rank in (0, 1)]
        try:
            said = [p.communicate(timeout=300) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    _kill(p)
        assert [p.returncode for p in procs] == [0, 0], said
        assert lock_path(out).read_text().split()[2] == os.environ[TOKEN_ENV]  # still the launcher's
    assert (out / "adapter").is_dir()


def test_a_refused_taker_stops_no_process_of_the_run_joining_meanwhile(tmp_path, monkeypatch):
    """Its launcher killed, one of its processes holding the folder, another joining just as a second run looks at
    the folder: the second run is refused, and the joining process, which finds its launcher's line in the lock
    file, trains on. Before, the taker wrote its own token into the file before it looked, and put the launcher's
    back after: a process joining in that moment read the taker's token and stopped, though the taker was then
    refused (the joining process is started at the taker's look at the folder, its flock of it)."""
    import fcntl
    import stat

    out = tmp_path / "run"
    out.mkdir()
    launcher = _start(LAUNCHER, out, tmp_path)
    procs = [launcher]
    try:
        token = launcher.stdout.readline().strip()
        assert token, launcher.stderr.read()
        held = lock_path(out).read_text()
        procs.append(_start(LAUNCHED, out, tmp_path, **{UNDER_LAUNCH_ENV: "1", TOKEN_ENV: token}))
        assert procs[1].stdout.readline() == "joined\n", procs[1].stderr.read()
        _kill(launcher)
        flock, said = fcntl.flock, []

        def flock_joining_meanwhile(fd: int, op: int) -> None:
            if op & fcntl.LOCK_EX and stat.S_ISDIR(os.fstat(fd).st_mode) and not said:  # the taker's look
                procs.append(_start(LAUNCHED, out, tmp_path, **{UNDER_LAUNCH_ENV: "1", TOKEN_ENV: token}))
                said.append(procs[2].stdout.readline() or procs[2].stderr.read())
            flock(fd, op)

        monkeypatch.setattr(fcntl, "flock", flock_joining_meanwhile)
        with pytest.raises(BadInput, match=r"^second is in use by the training processes of another lorplan "):
            OutputLock(out, "second").take(make=False)
        monkeypatch.undo()
        assert said == ["joined\n"]
        assert lock_path(out).read_text() == held
    finally:
        monkeypatch.undo()
        for proc in procs:
            if proc.poll() is None:
                _kill(proc)


@pytest.mark.parametrize("left", ["no lock file", "no folder"])
def test_a_launched_process_whose_runs_lock_file_is_gone_stops(tmp_path, monkeypatch, left):
    """Its launcher ended and its lock file went (removed by a run that took the folder and ended, or the folder
    itself removed) before this process joined: it stops in one line naming the folder, not training unlocked."""
    from lorplan.train.lock import joined

    out = tmp_path / "run"
    if left == "no lock file":
        out.mkdir()
    monkeypatch.setenv(UNDER_LAUNCH_ENV, "1")
    monkeypatch.setenv(TOKEN_ENV, "0123456789abcdef")
    entered = []
    with pytest.raises(BadInput) as caught:
        with joined(out):
            entered.append(True)
    assert not entered
    assert str(caught.value) == (f"{out}: the lorplan train that launched this process has ended, and another run "
                                 "took the folder: this process stops (start the run again once that one has ended)")
    monkeypatch.delenv(TOKEN_ENV)
    with joined(out):  # no token (your own torchrun): nothing looked at
        entered.append(True)
    assert entered == [True]
