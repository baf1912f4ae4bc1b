"""Several GPUs: `lorplan train` re-executes itself under `accelerate launch`. There is no GPU here, so the
test checks the command it builds (parsed by accelerate's own launch parser) and the config it writes (loaded by
accelerate's own ClusterConfig); starting the launcher is the boundary that is replaced. Signal forwarding to the
launcher is tested with real processes. That two processes, as torchrun starts them, say the run's notes once
is checked by tests/train/test_ddp_normal_paths.py's first run (the same two-process set-up)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch
from lorplan.train.lock import TOKEN_ENV, lock_path

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_reexecutes_under_accelerate_launch(tmp_path, monkeypatch, tiny_llama):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    plan = read_plan(SAMPLES / "mistral-7b-fsdp-2gpu.toml")
    # lorplan train checks the model and data before it launches anything: a model on disk, data that exists
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    plan = replace(plan, model=replace(plan.model, id=None, path=str(tiny_llama)),
                   data=replace(plan.data, path=str(data)),
                   training=replace(plan.training, output_dir=str(tmp_path / "out"), seq_len=128))
    plan_path = write_plan(plan, tmp_path / "plan.toml")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv(launch.UNDER_LAUNCH_ENV, raising=False)
    # two GPUs to launch on: without NVML (no driver here) lorplan counts the entries as written
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    calls = []

    def fake_call(cmd, env):
        calls.append((cmd, env, lock_path(tmp_path / "out").read_text()))
        return 0

    monkeypatch.setattr(launch, "run_forwarding", fake_call)
    assert main(["train", str(plan_path), "--resume", "--max-steps", "7"]) == 0
    (cmd, env, held), = calls
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert env[launch.UNDER_LAUNCH_ENV] == "1"
    # the launched processes get the token the held lock file names: they join this run's folder (lock.joined)
    assert held.split()[2] == env[TOKEN_ENV] and TOKEN_ENV not in os.environ
    args = launch_command_parser().parse_args(cmd[3:])
    assert args.num_processes == 2 and args.module is True
    assert args.training_script == "lorplan"
    assert args.training_script_args == ["train", str(plan_path), "--resume", "--max-steps", "7"]
    cfg = ClusterConfig.from_yaml_file(args.config_file)
    assert Path(args.config_file) == tmp_path / "out" / "accelerate_config.yaml"
    assert str(cfg.distributed_type).endswith("FSDP") and cfg.num_processes == 2


def test_no_reexecution_inside_the_launcher_or_on_one_gpu(monkeypatch):
    plan = read_plan(SAMPLES / "mistral-7b-fsdp-2gpu.toml")
    monkeypatch.delenv(launch.UNDER_LAUNCH_ENV, raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert launch.needs_launcher(plan)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not launch.needs_launcher(plan)
    monkeypatch.delenv("LOCAL_RANK")
    assert not launch.needs_launcher(read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml"))



def test_launcher_gets_the_signal_and_its_exit_code_is_returned(tmp_path):
    """A stop signal to `lorplan train` reaches the launcher (which stops its workers politely)."""
    import os
    import signal
    import subprocess
    import time

    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
             "open(sys.argv[1], 'w').close()\n"
             "time.sleep(60)\n")
    ready = tmp_path / "ready"
    parent = ("import os, sys\n"
              "from lorplan.train.launch import run_forwarding\n"
              f"sys.exit(run_forwarding([sys.executable, '-c', {child!r}, {str(ready)!r}], dict(os.environ)))\n")
    proc = subprocess.Popen([sys.executable, "-c", parent])

    def forwards_sigterm() -> bool:
        """run_forwarding catches SIGTERM (/proc's SigCgt mask): it starts the launcher first and sets its
        handlers after, so a child that starts faster than a busy parent gets there is ready too soon."""
        with open(f"/proc/{proc.pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:")).split()[1]
        return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))

    deadline = time.monotonic() + 60
    while not (ready.exists() and forwards_sigterm()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 7


def test_a_sigterm_before_the_launcher_exists_is_passed_on_once_it_does(tmp_path):
    """A SIGTERM that reaches `lorplan train` while it is starting the launcher (here: at the moment Popen is
    called) is not lost and does not kill `lorplan train` by its default action: the launcher gets it once it
    exists and stops. Before, run_forwarding set its handlers after starting the launcher, so such a signal
    killed it (-15) and left the launcher running, orphaned."""
    import signal
    import subprocess

    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
             "time.sleep(60)\n")
    parent = ("import os, signal, subprocess, sys\n"
              "from lorplan.train.launch import run_forwarding\n"
              "real = subprocess.Popen\n"
              "def popen(*a, **k):\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    return real(*a, **k)\n"
              "subprocess.Popen = popen\n"
              f"code = run_forwarding([sys.executable, '-c', {child!r}], dict(os.environ))\n"
              "print('launcher exit', code)\n")
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # the signal reached the launcher before or after its handler: it stopped either way, not after 60 s
    assert out.stdout.strip() in ("launcher exit 7", f"launcher exit {-signal.SIGTERM}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
