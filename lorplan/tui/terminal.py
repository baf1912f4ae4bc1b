"""The planner needs a terminal: checked before the app runs (lorplan.tui.launch)."""

from __future__ import annotations

import os
import sys

from lorplan.core.errors import BadInput


def need_terminal() -> None:
    """BadInput unless stdin and stdout are terminals: the planner draws with escape codes and reads keys, so
    with output into a file or a pipe (`lorplan > f`, cron, CI) it wrote escape codes there and waited for keys
    until killed. A Textual driver named in TEXTUAL_DRIVER (textual serve's web driver) brings its own."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    away = [name for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout))
            if stream is None or not stream.isatty()]
    if away:
        raise BadInput(f"the planner needs a terminal ({' and '.join(away)} {'is' if len(away) == 1 else 'are'} "
                       "not one); without one use the text commands: lorplan plan, lorplan recommend (lorplan "
                       "--help lists them all)")
