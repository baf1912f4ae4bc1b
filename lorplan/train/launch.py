"""Several GPUs: `lorplan train` re-executes itself under `accelerate launch` with the plan's accelerate
config (written by the accelerate exporter into the output folder).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

UNDER_LAUNCH_ENV = "LORPLAN_UNDER_ACCELERATE"


def under_launcher() -> bool:
    """True inside a process started by accelerate launch / torchrun (or by our own re-execution)."""
    return bool(os.environ.get(UNDER_LAUNCH_ENV)) or "LOCAL_RANK" in os.environ


def process_rank() -> int:
    """This process's rank among a run's processes: RANK (torchrun and accelerate launch set it, with LOCAL_RANK),
    else LOCAL_RANK; 0 outside a launcher."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def says_input_notes() -> bool:
    """Whether this process prints the `note:` lines of `lorplan train`'s input checks, so that a run says each
    once: not in the processes our own re-execution started (the `lorplan train` that launched them said them),
    and of those torchrun or accelerate launch started directly, rank 0 alone."""
    return not os.environ.get(UNDER_LAUNCH_ENV) and process_rank() == 0


def needs_launcher(plan) -> bool:
    return plan.hardware.gpus > 1 and not under_launcher()


def accelerate_command(plan, plan_path: str, config_path: str | os.PathLike, train_args: list[str]) -> list[str]:
    """The command line that runs `lorplan train` on every GPU:
    python -m accelerate.commands.launch --config_file CFG --num_processes N -m lorplan train PLAN [args]."""
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(config_path),
        "--num_processes", str(plan.hardware.gpus),
        "--num_machines", "1",
        "-m", "lorplan", "train", str(plan_path), *train_args,
    ]


def write_accelerate_config(plan, out_dir: Path) -> Path:
    """Write the accelerate config for this plan into the output folder (regenerated on every launch)."""
    from lorplan.core.export import export_plan
    from lorplan.core.export.files import write_text_atomic

    result = export_plan(plan, "accelerate")
    (text,) = result.files.values()
    return write_text_atomic(Path(out_dir) / "accelerate_config.yaml", text, force=True)


def run_forwarding(cmd: list[str], env: dict[str, str]) -> int:
    """Run the launcher and wait for it without dying first on a stop signal, so the training processes can
    stop after their current step and save a checkpoint. SIGTERM (sent to this process alone) is passed on;
    SIGINT and SIGHUP come from the terminal to the whole process group, so the workers already have them and
    passing them on would count as a second Ctrl-C. The handlers are set before the launcher starts: a signal
    that arrives before it exists is passed on to it once it does (it was in no group the terminal signalled).
    Returns the launcher's exit code."""
    proc: subprocess.Popen | None = None
    early: list[int] = []
    previous = {}

    def forward(signum, frame) -> None:
        if proc is None:
            early.append(signum)
        elif signum == signal.SIGTERM and proc.poll() is None:
            proc.send_signal(signum)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, forward)
            except ValueError:  # not the main thread
                pass
    try:
        proc = subprocess.Popen(cmd, env=env)
        for signum in dict.fromkeys(early):
            if proc.poll() is None:
                proc.send_signal(signum)
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
