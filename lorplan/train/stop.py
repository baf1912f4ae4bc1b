"""Graceful stop: SIGINT (Ctrl-C), SIGTERM and SIGHUP (a dropped SSH session) ask the loop to stop after the
current optimizer step; the loop then saves a checkpoint there, so `--resume` loses no finished step. A second
Ctrl-C stops at once (the newest periodic checkpoint is still there)."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import NoReturn

from lorplan.core.errors import LorplanError


class TrainingInterrupted(LorplanError):
    """The run stopped on a signal after saving a checkpoint (the CLI exits 128 + signal number)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


class StopRequest:
    """Installs the handlers while the loop runs (main thread only); `signum` is set once a stop was asked."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: stop now
        self.signum = signum

    def __enter__(self) -> StopRequest:
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave the defaults
                pass
        return self

    def __exit__(self, *exc) -> bool:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def exit_past_teardown(code: int) -> NoReturn:
    """End the process with exit status `code`, skipping the interpreter's teardown of its modules (and C++'s of
    the libraries it loaded). Call it when everything the process writes is on disk (the probe worker, after its
    result; a process of a run on several processes, after its group was destroyed: runner.exit_after_group).
    What a normal exit does that can matter still happens first, in its order: other non-daemon threads are
    joined (threading's own shutdown, which first tells concurrent.futures' workers to stop), the atexit handlers
    run (logging.shutdown flushes and closes the log handlers; a user's sitecustomize hooks), stdout and stderr
    are flushed."""
    threading._shutdown()  # what Py_FinalizeEx calls first; there is no public equivalent
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # None, a closed pipe or a closed file: nothing to keep
            pass
    os._exit(code)
