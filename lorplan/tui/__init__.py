"""The planner (Textual). `launch()` is what `lorplan` with no command runs; Textual is imported inside it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_start_up_pause = {"held": False}  # start_up_gc_pause's, until a LorplanApp takes it over (take_start_up_gc_pause)


@contextmanager
def start_up_gc_pause() -> Iterator[None]:
    """Python's cyclic garbage collector paused from here to the planner's first frame. Importing the planner makes
    ~56,000 objects that nearly all live on (modules, classes, functions, Textual's styles), yet the collector ran
    about 80 times over them during the import (about 14 ms of the first frame on a 2-core machine). Turning it on
    between the import and the app's own pause (LorplanApp.on_load) would cost as much again: its next run walks
    every object made meanwhile. So the first LorplanApp started inside the block takes the pause over and resumes
    the collector after its first frame (or when it ends before one; that one run, about 30 ms, comes after the
    frame); the collector is on again when the block ends in any case. One already off is left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _start_up_pause["held"] = True
    try:
        yield
    finally:
        _start_up_pause["held"] = False
        gc.enable()


def take_start_up_gc_pause() -> bool:
    """Whether start_up_gc_pause holds the collector off now; it is then the caller's to resume (once)."""
    held = _start_up_pause["held"]
    _start_up_pause["held"] = False
    return held


def launch(theme: str | None = None, model: str | None = None, trust_remote_code: bool = False) -> int:
    """Open the planner. Returns the exit code (0). Raises BadInput for an unknown --theme, and (after that
    check) when stdin or stdout is not a terminal (lorplan.tui.terminal). trust_remote_code: the user's
    `lorplan --trust-remote-code`, this session's consent to run a model's own code (LorplanApp)."""
    with start_up_gc_pause():
        from lorplan.tui.app import LorplanApp
        from lorplan.tui.terminal import need_terminal

        app = LorplanApp(theme=theme, model=model, trust_remote_code=trust_remote_code)
        need_terminal()
        app.run()
    return int(app.return_code or 0)
