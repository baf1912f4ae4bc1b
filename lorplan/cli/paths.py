"""Path arguments refused before anything reads them: an empty path, which pathlib reads as the current folder
(`--data ""` profiled the working folder, `--output ""` would train into it), and a folder given where a plan
file is expected (the plan reader said only "cannot read the plan (IsADirectoryError)"). Stdlib only."""

from __future__ import annotations

import argparse
from pathlib import Path

from lorplan.core.errors import BadInput


def nonempty_path(flag: str):
    """argparse type for a path that is not empty (nor only spaces), or a one-line error naming the flag."""

    def convert(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{flag}: empty path")
        return text

    return convert


def check_plan_file(path: str) -> None:
    """BadInput, one line, when `path` cannot be a plan file: empty, or a folder. A missing or unreadable file is
    left to the plan reader, which says so."""
    if not path.strip():
        raise BadInput("PLAN.toml: empty path (give the plan file, e.g. plan.toml)")
    if Path(path).is_dir():
        raise BadInput(f"{path} is a folder, not a plan file (give the plan's .toml file)")
