"""lorplan's colour themes: TOML files turned into Textual `Theme` objects.

The files live in `lorplan/themes/` and ship inside the package (package data), so an installed lorplan finds
them; the top-level `themes/` of the repository is a link to that folder. Users may add their own `*.toml` in
`<config dir>/themes/`. A bad theme file is reported (file and key) and skipped, never fatal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from textual.theme import Theme

PACKAGE_THEMES_DIR = Path(__file__).resolve().parent.parent / "themes"
DEFAULT_THEME = "dark"
# Themes drawn with the 16 standard ANSI colours only: every shade Textual derives is mapped to the nearest of
# them on the way out (lorplan.tui.ansi16), so what the terminal receives keeps the promise.
ANSI16_THEMES = frozenset({"high-contrast"})

_COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_ALLOWED = {"name", "dark", "luminosity_spread", "text_alpha", "variables", *_COLOUR_KEYS}


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file that could not be used: which file, and why (one line)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def theme_from_toml(path: Path) -> Theme:
    """Parse one theme file. Raises ValueError with a message naming the key at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML ({exc})") from None
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_ALLOWED))})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ValueError("'name' must be a non-empty string")
    if not isinstance(data.get("primary"), str):
        raise ValueError("'primary' colour is required")
    for key in _COLOUR_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key!r} must be a colour string such as \"#1A1B26\"")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ValueError("[variables] must map names to colour strings")
    kwargs = {key: data[key] for key in _COLOUR_KEYS if key in data}
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            if not isinstance(data[key], (int, float)):
                raise ValueError(f"{key!r} must be a number")
            kwargs[key] = float(data[key])
    theme = Theme(name=name, dark=bool(data.get("dark", True)), variables=dict(variables), **kwargs)
    try:
        theme.to_color_system()  # parses every colour now, so a typo names its file
    except Exception as exc:  # Textual raises ColorParseError (a ValueError subclass) or similar
        raise ValueError(f"bad colour ({exc})") from None
    return theme


def load_themes(*dirs: Path) -> tuple[dict[str, Theme], list[ThemeProblem]]:
    """Load every `*.toml` theme in the package folder, then in `dirs` (later files override by name)."""
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for folder in (PACKAGE_THEMES_DIR, *dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = theme_from_toml(path)
            except (OSError, ValueError) as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            themes[theme.name] = theme
    return themes, problems
