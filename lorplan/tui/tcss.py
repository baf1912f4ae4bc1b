"""Where each screen's, panel's and widget's stylesheet lives: next to its module, with the module's name."""

from __future__ import annotations

from pathlib import Path

TUI_DIR = Path(__file__).resolve().parent


def css_paths(*modules: str) -> list[Path]:
    """The .tcss files of these modules ("panels/plan_view", "widgets/rank_table"), for a screen's CSS_PATH."""
    return [TUI_DIR / f"{name}.tcss" for name in modules]
