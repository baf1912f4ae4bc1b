"""The benchmarks' resumable results files: one JSON row per finished run, appended as each run ends."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Hashable
from pathlib import Path


def read_unique(path: Path, key: Callable[[dict], Hashable]) -> list[dict]:
    """Every complete JSON row of the results file, the first of each key only: a line cut short by a killed run
    is skipped, and a run recorded twice (two sweeps at once; the runs are deterministic in their seed) counts
    once."""
    if not path.exists():
        return []
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if key(row) not in seen:
            seen.add(key(row))
            rows.append(row)
    return rows


def append_row(path: Path, row: dict) -> None:
    """One row, written as one line and flushed to disk before the next run starts (the file only ever grows;
    a line torn by a kill is ended first, so it costs only itself). Under an exclusive flock on the file, so
    two trainers (e.g. one per task) may append to one file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            torn = path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
            f.write(("\n" if torn else "") + json.dumps(row, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def hit(rank: int, knee: int) -> bool:
    """The benchmarks' target test: the recommended rank lies in [knee, 2 × knee]."""
    return knee <= rank <= 2 * knee


def show_report(text: str, path: Path, write: bool) -> None:
    """Print a benchmark's markdown report, and write it to `path` (atomically) when `write`."""
    print(text)
    if write:
        from lorplan.core.atomic import replace_text

        replace_text(path, text)
