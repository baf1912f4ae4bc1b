"""What reaches the terminal: the high-contrast theme sends the 16 standard ANSI colours only; a checkbox's box
differs in shape ticked and unticked, not only in colour."""

from __future__ import annotations

import re

import pytest
import textual.constants
from tui_helpers import until_started

from lorplan.tui.ansi16 import XTERM_16, nearest_ansi
from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio
SIZE = (120, 40)
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colour_codes(output: str) -> set[str]:
    """Every colour set by the SGR sequences in `output`: '31', '97', '38;5;146', '48;2;0;0;128', ..."""
    found = set()
    for params in SGR.findall(output):
        parts = params.split(";") if params else ["0"]
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in ("38", "48") and i + 1 < len(parts):
                width = 3 if parts[i + 1] == "5" else 5  # 38;5;N or 38;2;R;G;B
                found.add(";".join(parts[i:i + width]))
                i += width
                continue
            if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.add(p)
            i += 1
    return found


async def terminal_output(make_app, theme: str) -> str:
    """What the app hands the terminal driver (the same bytes Textual's driver writes), over the Plan, Data
    and Probes tabs, the help and the export dialog."""
    app = make_app(theme=theme, save_settings=False)
    sent: list[str] = []
    original = app._display

    def display(screen, renderable):
        if renderable is not None and not app._batch_count and hasattr(renderable, "render_segments"):
            sent.append(renderable.render_segments(app.console))
        original(screen, renderable)

    app._display = display
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        for key in ("f6", "f7", "f5", "f1", "escape", "ctrl+e", "escape"):
            await pilot.press(key)
            await pilot.pause(0.1)
    return "".join(sent)


@pytest.mark.parametrize("system", ["256", "truecolor"])
async def test_high_contrast_sends_only_the_16_standard_colours(make_app, monkeypatch, system):
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)  # what the terminal says it can show
    standard = {str(n) for n in (*range(30, 38), *range(90, 98), *range(40, 48), *range(100, 108), 39, 49)}
    codes = colour_codes(await terminal_output(make_app, "high-contrast"))
    assert codes and codes <= standard, sorted(codes - standard)
    assert {"97", "40"} <= codes  # bright white text on black, as the theme says
    # the check can fail: the dark theme's RGB colours go out as 256-colour or 24-bit codes
    dark = colour_codes(await terminal_output(make_app, "dark"))
    assert any(code.startswith(("38;", "48;")) for code in dark)


def test_the_theme_colours_map_to_themselves_and_shades_to_a_neighbour():
    assert [nearest_ansi(rgb) for rgb in XTERM_16] == list(range(16))
    assert nearest_ansi((0x66, 0x66, 0x00)) == 3  # yellow at 40% over black: dark yellow
    assert nearest_ansi((0x99, 0x99, 0x99)) in (7, 8)  # muted white text: a grey


async def test_ticked_and_unticked_boxes_differ_in_shape(make_app):
    """Without colour (the text of the screen, as on a monochrome terminal) a box says whether it is ticked."""
    app = make_app(save_settings=False)
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        text = screen_text(app)  # no colour at all
        assert "[x] q_proj" in text and "[ ] double quant" in text and "[ ] DoRA" in text
        app.screen.query_one("#f-dora").focus()
        await pilot.press("space")
        await pilot.pause()
        assert "[x] DoRA" in screen_text(app)
        assert "▐X▌" not in screen_text(app)
