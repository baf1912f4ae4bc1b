"""`lorplan` in a process of its own, with the CPU load its ladder's first probe-time estimate allows for pinned.

A ladder's first pass is sized by recommend.launch.cpu_load (the machine's cores and 1-minute load average).
tests/conftest.py's idle_cpu pins it for the test's own process, but a monkeypatch does not reach a child: a
test that starts `python -m lorplan recommend --budget-minutes 2` got the real load average there, and on a busy
machine (load 16 on 2 cores) the first estimate exceeded what the budget buys, no ladder started, and the test
failed after its wait. lorplan_argv's child pins the load, then runs lorplan.cli.main as `python -m lorplan`
does."""

from __future__ import annotations

import sys

PINNED = ("import sys\nfrom lorplan.recommend import launch\nfrom lorplan.recommend.ladder import CpuLoad\n"
          "launch.cpu_load = lambda: CpuLoad({cores}, {load!r})\nfrom lorplan.cli import main\n"
          "raise SystemExit(main())")


def python_args(cores: int = 2, load: float = 0.0) -> list[str]:
    """The interpreter's arguments in place of `-m lorplan`: `-c` with code that pins recommend.launch.cpu_load
    to `cores` at `load` (idle by default), then runs lorplan.cli.main on the words that follow."""
    return ["-c", PINNED.format(cores=int(cores), load=float(load))]


def lorplan_argv(*words: str, cores: int = 2, load: float = 0.0) -> list[str]:
    """`lorplan WORDS...` as a command line for subprocess, its ladder sized as for `cores` at `load`."""
    return [sys.executable, *python_args(cores, load), *words]
