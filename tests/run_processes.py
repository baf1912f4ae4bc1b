"""Ending every process of a probe run (its ladder driver, scheduler, probes and the driver's pattern measure)
for a test, however far each had got.

Each of them runs `python -m lorplan.… RUN_FOLDER …` in its own session. Their locks do not name them all: the
scheduler takes a probe's alive.lock before it starts the process and writes the probe's proc.json (its
process group) after, so a scheduler killed between the two leaves a probe that no file names, which trained
on. So every process whose command line names the run folder is killed, by group, again and again until none
is left (a scheduler killed in one sweep launches nothing after it)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil

from lorplan.probe.backend import lock_held


def run_processes(run_path: Path) -> list[int]:
    """The pids of the live processes whose command line has the run folder as one of its words."""
    folder = str(run_path)
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.pid != os.getpid() and p.info["status"] != psutil.STATUS_ZOMBIE and folder in (p.info["cmdline"] or ()):
            found.append(p.pid)
    return found


def kill_run(run_path: Path, timeout_s: float = 30.0) -> list[int]:
    """SIGKILL every process of the run in `run_path` by process group until none is left (or timeout_s has
    passed); returns the pids that were still there at the end (none when it worked)."""
    own = os.getpgrp()
    deadline = time.monotonic() + timeout_s
    while (left := run_processes(run_path)) and time.monotonic() < deadline:
        for pid in left:
            try:
                pgid = os.getpgid(pid)
                os.killpg(pgid, signal.SIGKILL) if pgid != own else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)
    return left


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reap_runs(root: Path) -> None:
    """Kill the ladder driver, the scheduler and every probe of every run under `root` that still holds its
    lock, then every process still naming a run folder (a probe its scheduler was starting, not yet in a
    proc.json: run_processes.kill_run), a run whose processes hold no lock yet too (a start returns once it has
    launched the scheduler or driver, which takes its lock a moment later: a test ending then left them running)."""
    runs = sorted(root.glob("*"))
    named = _named_runs(runs)
    for run in runs:
        alive = False
        for lock in (run / "ladder.lock", run / "scheduler.lock"):
            if lock_held(lock):
                alive = True
                text = lock.read_text().strip()
                if text.isdigit():
                    _kill_group(int(text))
        for proc in run.glob("probes/*/proc.json"):
            if lock_held(proc.parent / "alive.lock"):
                _kill_group(int(json.loads(proc.read_text())["pgid"]))
        if alive or run in named or any(lock_held(lock) for lock in run.glob("probes/*/alive.lock")):
            kill_run(run)


def _named_runs(runs: list[Path]) -> set[Path]:
    """The runs among `runs` whose folder a live process's command line has as one of its words (one sweep of
    the processes for them all)."""
    by_name = {str(run): run for run in runs}
    named = set()
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.pid != os.getpid() and p.info["status"] != psutil.STATUS_ZOMBIE:
            named.update(by_name[word] for word in p.info["cmdline"] or () if word in by_name)
    return named
