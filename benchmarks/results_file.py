"""The benchmarks' resumable results files: one JSON row per finished run, appended as each run ends."""

from __future__ import annotations

import json
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
