"""The planner (Textual). `launch()` is what `lorplan` with no command runs; Textual is imported inside it."""

from __future__ import annotations


def launch(theme: str | None = None, model: str | None = None, trust_remote_code: bool = False) -> int:
    """Open the planner. Returns the exit code (0). Raises BadInput for an unknown --theme, and (after that
    check) when stdin or stdout is not a terminal (lorplan.tui.terminal). trust_remote_code: the user's
    `lorplan --trust-remote-code`, this session's consent to run a model's own code (LorplanApp)."""
    from lorplan.tui.app import LorplanApp
    from lorplan.tui.terminal import need_terminal

    app = LorplanApp(theme=theme, model=model, trust_remote_code=trust_remote_code)
    need_terminal()
    app.run()
    return int(app.return_code or 0)
