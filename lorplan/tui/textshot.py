"""Plain-text screenshots of a running app (for the README, docs/ and debugging without an SVG viewer)."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def screen_text(app: App) -> str:
    """The current screen as plain text, one line per terminal row (same compositor as export_screenshot)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


async def _render(width: int, height: int, theme: str, model: str | None) -> str:
    import tempfile
    from pathlib import Path

    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp

    with tempfile.TemporaryDirectory() as empty:  # the default setup, not the one your config remembers
        app = LorplanApp(theme=theme, model=model, gpu_source=bridge.no_gpu("no NVIDIA driver"),
                         config_path=Path(empty) / "config.toml", save_settings=False)
        return await _screen_of(app, width, height)


async def _screen_of(app: App, width: int, height: int) -> str:
    async with app.run_test(size=(width, height)) as pilot:
        while not app.screen.query_one("#gpu-panel").ready:  # the first NVML answer comes from a worker
            await pilot.pause(0.01)
        await pilot.pause()
        app.screen.query_one("#rank-table").focus()
        await pilot.pause()
        return screen_text(app)


def main(argv: list[str] | None = None) -> None:
    """`python -m lorplan.tui.textshot [WIDTH HEIGHT [THEME [MODEL]]]`: print the main screen as text."""
    import asyncio
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    width, height = (int(args[0]), int(args[1])) if len(args) >= 2 else (120, 40)
    theme = args[2] if len(args) >= 3 else "dark"
    model = args[3] if len(args) >= 4 else None
    print(asyncio.run(_render(width, height, theme, model)))


if __name__ == "__main__":
    main()
