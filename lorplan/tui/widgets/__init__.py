"""Widgets of the planner. Each has its own .tcss next to it (loaded by the screen that uses it)."""

from __future__ import annotations

from pathlib import Path

CSS_DIR = Path(__file__).resolve().parent


def css_paths(*names: str) -> list[Path]:
    """Paths of the .tcss files of these widget modules, for a screen's CSS_PATH."""
    return [CSS_DIR / f"{name}.tcss" for name in names]
