"""Where a plan's relative paths point (no torch here: probes' plan building imports it from the light side)."""

from __future__ import annotations

from pathlib import Path


def resolve_path(path: str, plan_path: str | None) -> Path:
    """A plan's data or model path: relative paths are taken from the working folder, else from the plan's."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or plan_path is None:
        return p
    beside = Path(plan_path).resolve().parent / p
    return beside if beside.exists() else p


def output_folder(output: str | None, plan) -> Path:
    """The run's output folder: `output` (--output) when given, else the plan's training.output_dir, with `~`
    expanded. One resolution for the lock, the input checks and the accelerate config of a run on several GPUs,
    so each names the folder the training processes write."""
    return Path(output or plan.training.output_dir).expanduser()


def output_folder_problem(out: Path) -> str | None:
    """Why no output folder can be made at `out` (it exists and is not a folder, or a folder above it is a
    file, or the name cannot be looked up: too long for the file system), or None when it can.
    Checked before anything heavy is loaded, so the user hears it at once."""
    try:
        if out.exists() and not out.is_dir():
            return "exists and is not a folder"
        for parent in out.parents:
            if parent.exists():
                return None if parent.is_dir() else f"{parent} is a file, so no folder can be made under it"
    except OSError as exc:  # pathlib ignores only a missing name: File name too long, Permission denied
        return f"cannot look there ({exc.strerror or exc})"
    return None
