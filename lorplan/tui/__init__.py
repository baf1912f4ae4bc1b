"""The planner (Textual). `launch()` is what `lorplan` with no command runs; Textual is imported inside it."""

from __future__ import annotations


def launch(theme: str | None = None, model: str | None = None) -> int:
    """Open the planner. Returns the exit code (0). Raises BadInput for an unknown --theme, and (after that
    check) when stdin or stdout is not a terminal (need_terminal)."""
    from lorplan.tui.app import LorplanApp

    app = LorplanApp(theme=theme, model=model)
    need_terminal()
    app.run()
    return int(app.return_code or 0)


def need_terminal() -> None:
    """BadInput unless stdin and stdout are terminals: the planner draws with escape codes and reads keys, so
    with output into a file or a pipe (`lorplan > f`, cron, CI) it wrote escape codes there and waited for keys
    until killed. A Textual driver named in TEXTUAL_DRIVER (textual serve's web driver) brings its own."""
    import os
    import sys

    from lorplan.core.errors import BadInput

    if os.environ.get("TEXTUAL_DRIVER"):
        return
    away = [name for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout))
            if stream is None or not stream.isatty()]
    if away:
        raise BadInput(f"the planner needs a terminal ({' and '.join(away)} {'is' if len(away) == 1 else 'are'} "
                       "not one); without one use the text commands: lorplan plan, lorplan recommend (lorplan "
                       "--help lists them all)")
