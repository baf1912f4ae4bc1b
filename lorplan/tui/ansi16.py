"""Keep a theme to the 16 standard ANSI colours on the wire (the high-contrast theme).

A Textual theme is a set of RGB colours from which Textual derives shades (muted text, hover and cursor tints,
borders); Rich then sends each as a 24-bit or 256-colour code (`38;5;146`) for the terminal to show as it can.
A theme that promises the 16 standard colours must send only those: this line filter maps every colour of the
rendered output to the nearest of the 16 (by RGB distance to xterm's values of them) and sends it as an SGR
30–37 / 90–97 (foreground) or 40–47 / 100–107 (background) code, so the terminal's own palette draws it. Text
whose colour would land on its background's colour takes black or bright white, whichever stands out.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color as RichColor
from rich.color import ColorType
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

# xterm's RGB values of the 16 standard colours, by ANSI number: black, red, green, yellow, blue, magenta, cyan,
# white (light grey), then the bright versions (bright black is dark grey).
XTERM_16 = (
    (0x00, 0x00, 0x00), (0x80, 0x00, 0x00), (0x00, 0x80, 0x00), (0x80, 0x80, 0x00),
    (0x00, 0x00, 0x80), (0x80, 0x00, 0x80), (0x00, 0x80, 0x80), (0xC0, 0xC0, 0xC0),
    (0x80, 0x80, 0x80), (0xFF, 0x00, 0x00), (0x00, 0xFF, 0x00), (0xFF, 0xFF, 0x00),
    (0x00, 0x00, 0xFF), (0xFF, 0x00, 0xFF), (0x00, 0xFF, 0xFF), (0xFF, 0xFF, 0xFF),
)
BLACK, BRIGHT_WHITE = 0, 15


def nearest_ansi(rgb: tuple[int, int, int]) -> int:
    """The ANSI number (0–15) of the standard colour nearest to `rgb` (squared RGB distance)."""
    return min(range(16), key=lambda i: sum((a - b) ** 2 for a, b in zip(rgb, XTERM_16[i], strict=True)))


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def _standard(number: int) -> RichColor:
    return RichColor.from_ansi(number)


def _as_ansi(color: RichColor | None) -> RichColor | None:
    if color is None or color.type in (ColorType.DEFAULT, ColorType.STANDARD):
        return color
    return _standard(nearest_ansi(color.get_truecolor(foreground=True)))


@lru_cache(maxsize=4096)
def ansi16_style(style: Style, background: tuple[int, int, int], has_text: bool) -> Style:
    """`style` with its colours replaced by their nearest standard ANSI colours. `background`: the colour
    behind a segment without one; `has_text`: the segment shows letters or digits (kept readable)."""
    color = _as_ansi(style.color)
    bgcolor = _as_ansi(style.bgcolor)
    if has_text and color is not None and color.type == ColorType.STANDARD:
        behind = bgcolor.number if bgcolor is not None and bgcolor.number is not None else None
        behind = nearest_ansi(background) if behind is None else behind
        if color.number == behind:
            dark = _luminance(XTERM_16[behind]) >= 128
            color = _standard(BLACK if dark else BRIGHT_WHITE)
    if color is style.color and bgcolor is style.bgcolor:
        return style
    return style + Style.from_color(color, bgcolor)


class Ansi16(LineFilter):
    """Map every colour to the nearest of the 16 standard ANSI colours (see the module docstring)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        behind = (background.r, background.g, background.b)
        return [
            Segment(text, None if style is None else ansi16_style(style, behind, _has_text(text)), control)
            for text, style, control in segments
        ]


def _has_text(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
