"""Graceful stop: SIGINT (Ctrl-C), SIGTERM and SIGHUP (a dropped SSH session) ask the loop to stop after the
current optimizer step; the loop then saves a checkpoint there, so `--resume` loses no finished step. A second
Ctrl-C stops at once (the newest periodic checkpoint is still there)."""

from __future__ import annotations

import signal

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
