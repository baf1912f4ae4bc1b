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


def output_folder(output: str | None, plan, plan_path: str | None = None) -> Path:
    """The run's output folder: `output` (--output) when given, else the plan's training.output_dir, with `~`
    expanded. One resolution for the lock, the input checks, the training itself (train.runner.run_training) and
    the accelerate config of a run on several GPUs, so each names the folder the training processes write.
    BadInput, naming --output or the plan's key, for a name no folder can have: `~user` of no user here, or a
    NUL byte (a caller's string; argv holds none)."""
    from lorplan.core.errors import NUL_NAME, BadInput, shown_name

    text = output or plan.training.output_dir
    where = "--output" if output else f"{plan_path or 'the plan'}: training.output_dir"
    if "\0" in text:
        raise BadInput(f"{where} {shown_name(text)}: {NUL_NAME}: choose another --output")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory." for ~user of no user (or no HOME)
        user = text[1:].split("/", 1)[0]
        whose = f"no user named {user} here" if user else "no home folder here (HOME is not set)"
        raise BadInput(f"{where} {text}: {whose} to expand ~{user} to: give the folder in full, or choose another "
                       "--output") from None


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
