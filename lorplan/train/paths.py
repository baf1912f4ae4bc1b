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
