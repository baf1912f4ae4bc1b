"""The probe event log (append-only JSON lines) and the result file.

Writers append one complete line per event with a single os.write on an O_APPEND descriptor, so lines from one
writer never interleave and a crash can only leave the *last* line partial. A disk that fills mid-line makes the
write short: the part written is cut off again (the event raises the OS's error), so the line after it, written
once space is back, is whole. Readers skip any line that is not
a JSON object (in practice: a partial last line after a crash) and say so with a warning instead of failing.

Event types, in order: "loading" (process up, before heavy imports), "started" (model and data ready),
"step" (every step), "eval" (every eval_every steps and at the end), then one final event whose type is the
end state ("finished", "failed", "oom", "cancelled").
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from lorplan.core.jsontext import loads_json


class CorruptEventWarning(UserWarning):
    """An event-log line that is not a JSON object was skipped (e.g. a line cut short by a crash)."""


def log_line(line: str) -> None:
    """A time-stamped line in this process's log (its stdout: a scheduler's scheduler.log, a ladder driver's
    ladder.log), left out when that log's disk is full: the run's files say what happened."""
    try:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
    except OSError:
        pass


def append_event(path: Path, event: dict) -> None:
    """Append one event as one JSON line. Adds "t" (unix seconds) when the event has none."""
    if "t" not in event:
        event = {**event, "t": round(time.time(), 3)}
    data = (json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):  # a disk that fills writes part of the line, then refuses the rest
                written += os.write(fd, data[written:])
        except OSError:
            if written:  # no half line left behind: the next event (once there is space) starts a line
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _parse(line: bytes, where: str, problems: list[str]) -> dict | None:
    text = line.strip()
    if not text:
        return None
    try:
        obj = loads_json(text.decode("utf-8"))
    except ValueError:  # not UTF-8, not JSON, nested too deeply (a RecursionError from json itself)
        obj = None
    if not isinstance(obj, dict):
        problems.append(f"{where}: ignored a corrupt event line ({text[:60]!r})")
        return None
    return obj


def read_events(path: Path) -> list[dict]:
    """Every event of a log, in order. Unparseable lines are skipped with a CorruptEventWarning.
    A missing file is an empty log."""
    tail = EventTail(path)
    events = tail.poll(final=True)
    for msg in tail.problems:
        warnings.warn(msg, CorruptEventWarning, stacklevel=2)
    return events


class EventTail:
    """Incremental reader of one event log: each poll() returns only the events appended since the last.

    A line without its newline is held back until it is complete (the writer may be mid-write); with
    final=True (the writer is gone) it is parsed or reported as corrupt. A replaced or truncated file (a retry
    moved the old log aside) starts over from the beginning; `reset` is True after such a restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._inode: int | None = None
        self._pending = b""
        self.problems: list[str] = []
        self.reset = False

    def poll(self, final: bool = False) -> list[dict]:
        self.reset = False
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._inode is not None:
                self._restart()
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self._restart()
        self._inode = st.st_ino
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        self._offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()  # b"" when data ended with a newline
        out = []
        for line in lines:
            ev = _parse(line, str(self.path), self.problems)
            if ev is not None:
                out.append(ev)
        if final and self._pending:
            ev = _parse(self._pending, str(self.path), self.problems)
            self._pending = b""
            if ev is not None:
                out.append(ev)
        return out

    def _restart(self) -> None:
        self._offset = 0
        self._inode = None
        self._pending = b""
        self.problems = []
        self.reset = True
