"""lorplan's colour themes: TOML files turned into Textual `Theme` objects.

The files live in `lorplan/themes/` and ship inside the package (package data), so an installed lorplan finds
them; the top-level `themes/` of the repository is a link to that folder. Users may add their own `*.toml` in
`<config dir>/themes/`. A bad theme file is reported (file and key) and skipped, never fatal.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.css.tokenizer import TokenError
from textual.theme import Theme

from lorplan.core.tomltext import NotToml, loads_toml

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
    """A theme file that could not be used: which file, and why (one line); `name` is the theme it names (its
    file's stem when the name could not be read), so `--theme NAME` can say why NAME is missing."""

    path: Path
    message: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class BadTheme(ValueError):
    """A theme file lorplan cannot use; `name` is the theme it names (its file's stem when unreadable)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


def theme_from_toml(path: Path) -> Theme:
    """Parse one theme file, checking every value the way Textual will use it when the theme is applied.
    Raises BadTheme (a ValueError) with a message naming the key or variable at fault."""
    try:
        data = loads_toml(path.read_text(encoding="utf-8"))
    except NotToml as exc:
        raise BadTheme(str(exc), path.stem) from None
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise BadTheme(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_ALLOWED))})", path.stem)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise BadTheme("'name' must be a non-empty string", path.stem)
    try:
        return _theme(name, data)
    except ValueError as exc:
        raise BadTheme(str(exc), name) from None


def _theme(name: str, data: dict) -> Theme:
    if not isinstance(data.get("primary"), str):
        raise ValueError("'primary' colour is required")
    for key in _COLOUR_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key!r} must be a colour string such as \"#1A1B26\"")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("[variables] must be a table of names and values (colours or text styles)")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ValueError(f"[variables] {key} must be a string, such as \"#1A1B26\" or \"bold\"")
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
    problem = _variables_problem(variables)
    if problem:
        raise ValueError(f"[variables] {problem}")
    if not all(_plain_colour(value) for value in variables.values()):
        # Textual derives some colours from variables (Color.parse of $background-darken-1), which takes plain
        # colours only: with every value one (the shipped themes) that cannot fail, and is not paid for here
        try:
            theme.to_color_system().generate()  # what Textual does when the theme is applied
        except Exception:  # ColorParseError: a shade Textual derives others from, given as "red 50%"
            raise ValueError(f"[variables] {_underived(theme)}") from None
    return theme


# What Textual does with a theme's variables: each becomes a CSS variable ($footer-key-foreground) that its
# widgets' stylesheets use in a property's value, parsed when the theme is applied or a widget first mounted; a
# value a declaration cannot take fails the whole stylesheet (StylesheetParseError, the app stops). So each value
# is parsed as Textual will use it. A plain colour ("#1A1B26", "red") fits any colour slot, and a text style only
# its text-style / link-style property, so those are checked by the property the name says. Any other value
# ("auto 87%", "red 50%") fits some declarations only: it is parsed in every declaration that uses the variable
# in Textual's and lorplan's stylesheets (text-primary = "auto 87%" fits `color: $text-primary` but not Markdown's
# `border-left: outer $text-primary 50%`; text-accent = "auto 87%", used only in `color`, fits); a variable no
# stylesheet uses is parsed in `background`, the strictest place Textual puts a colour.
_TEXT_COLOURS = frozenset({"text", "text-muted", "text-disabled", "foreground-muted", "foreground-disabled"})
_EXAMPLES = {
    "color": 'a colour Textual can use (e.g. "#1A1B26", "red 50%", "auto 87%")',
    "background": 'a colour Textual can use (e.g. "#1A1B26", "red 50%", "transparent")',
    "text-style": 'a text style Textual can use (e.g. "bold", "bold not underline", "none")',
    "link-style": 'a text style Textual can use (e.g. "underline", "bold not underline")',
}


def _css_property(name: str) -> str:
    if name.endswith("text-style"):
        return "text-style"
    if name.startswith("link-style"):
        return "link-style"
    if name in _TEXT_COLOURS or name.endswith(("-foreground", "-color", "-color-hover")):
        return "color"
    return "background"


def _by_name(name: str, value: str) -> bool:
    """Whether the property `name` says is enough to check `value`: a text style, or a plain colour."""
    return _css_property(name) in ("text-style", "link-style") or _plain_colour(value)


_DECLARATION = re.compile(r"(?<![\w$-])([a-z][a-z-]*)\s*:\s*([^;{}\n\"']*\$[a-z][\w-]*[^;{}\n\"']*)")
_VARIABLE = re.compile(r"\$([a-z][\w-]*)")
# In a .py file only its DEFAULT_CSS / CSS strings are a stylesheet: a comment or docstring quoting one (this
# module's own, above) is not, and read as declarations it refused values that fit every real use.
_CSS_STRING = re.compile(r"\b(?:DEFAULT_CSS|CSS)\b[^=\n]*=\s*[rRfF]?(\"\"\"|''')(.*?)\1", re.S)


@cache
def _declarations() -> dict[str, tuple[str, ...]]:
    """Variable name -> the declarations ("border-left: outer $text-primary 50%") that use it in the stylesheets
    of Textual's widgets and lorplan's own. Read from their source files on the first theme that needs it (about
    0.2 s), never at start-up for plain colours."""
    import textual

    try:
        from textual.css._styles_builder import StylesBuilder
    except ImportError:  # a Textual that moved it: each value is checked in the property its name says
        return {}

    properties = {name[len("process_"):].replace("_", "-") for name in dir(StylesBuilder)
                  if name.startswith("process_")}
    known = _textual_variables()
    textual_dir = Path(textual.__file__).resolve().parent
    sources = [path for path in textual_dir.rglob("*") if path.suffix in (".py", ".tcss")
               and "demo" not in path.relative_to(textual_dir).parts]  # the demo app is no widget's style
    sources += [path for path in Path(__file__).resolve().parent.rglob("*") if path.suffix in (".py", ".tcss")]
    found: dict[str, set[str]] = {}
    textual_read = False
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:  # unreadable: its uses go unknown, which only makes the check less strict
            continue
        if path.suffix == ".py":
            text = "\n".join(match.group(2) for match in _CSS_STRING.finditer(text))
        if "$" not in text:
            continue
        for match in _DECLARATION.finditer(text):
            prop, value = match.group(1), " ".join(match.group(2).replace("!important", "").split())
            named = _VARIABLE.findall(value)
            if prop in properties and all(variable in known for variable in named):  # not a stylesheet's own
                for variable in named:
                    found.setdefault(variable, set()).add(f"{prop}: {value}")
                textual_read = textual_read or path.is_relative_to(textual_dir)
    if not textual_read:
        # no Textual source to read (a zipped or compiled install): lorplan's uses alone would let
        # warning = "auto 87%" through, used in lorplan only in `color` but in Textual's widgets as a background
        return {}
    return {variable: tuple(sorted(uses)) for variable, uses in found.items()}


def _uses(name: str, value: str) -> tuple[str, ...]:
    """The declarations `value` of variable `name` is parsed in (see above)."""
    if not _by_name(name, value):
        uses = _declarations().get(name)
        if uses:
            return uses
    return (f"{_css_property(name)}: ${name}",)


@cache
def _textual_variables() -> frozenset[str]:
    """The variable names Textual derives from a theme (and reads in its widgets' stylesheets)."""
    return frozenset(_textual_defaults())


def _underived(theme: Theme) -> str:
    """Which of the theme's variables Textual failed to derive its other colours from (generate() raised)."""
    for name, value in theme.variables.items():
        alone = Theme(name=theme.name, primary=theme.primary, dark=theme.dark, variables={name: value})
        try:
            alone.to_color_system().generate()
        except Exception:
            return f'{name} = {value!r} must be a plain colour (e.g. "#1A1B26"): Textual derives others from it'
    return "Textual could not derive the theme's colours"


def _plain_colour(value: str) -> bool:
    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def _parses(variables: dict[str, str], uses: dict[str, tuple[str, ...]]) -> bool:
    """Whether Textual's stylesheet parser takes every variable in the declarations `uses` names for it (the other
    variables a declaration names hold Textual's own values)."""
    if any(u != (f"{_css_property(name)}: ${name}",) for name, u in uses.items()):
        variables = {**_textual_defaults(), **variables}
    stylesheet = Stylesheet(variables=variables)
    rules = "".join(f"  {use};\n" for name in uses for use in uses[name])
    stylesheet.add_source(f"Screen {{\n{rules}}}\n", read_from=("theme", "variables"))
    try:
        stylesheet.parse()
    except (StylesheetParseError, TokenError):  # TokenError: a value that does not even tokenize ("{")
        return False
    return True


@cache
def _textual_defaults() -> dict[str, str]:
    """Every variable Textual derives from a theme, with its value for a plain one (the values a declaration's
    other variables hold when one variable is parsed, _parses)."""
    return dict(Theme(name="probe", primary="#000000").to_color_system().generate())


def _variables_problem(variables: dict[str, str]) -> str | None:
    """Why Textual could not use one of `variables` (one line naming it), or None. One parse for the lot; the
    variable at fault is looked for only when that fails."""
    known = _textual_variables()
    for name in variables:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (not one Textual uses)"
            return f"unknown variable {name!r}{hint}"
    uses = {name: _uses(name, value) for name, value in variables.items()}
    if not variables or _parses(variables, uses):
        return None
    for name, value in variables.items():
        for use in uses[name]:
            if _parses({name: value}, {name: (use,)}):
                continue
            prop = _css_property(name)
            if use == f"{prop}: ${name}":
                return f"{name} = {value!r} is not {_EXAMPLES[prop]}"
            return (f"{name} = {value!r} is not a colour Textual can use in `{use}` (a plain colour such as "
                    f"\"#1A1B26\" fits everywhere)")
    return "Textual could not parse them"  # only together: not seen, kept so a failure is never passed over


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
            except (OSError, ValueError) as exc:  # ValueError: BadTheme, or a file that is not UTF-8
                problems.append(ThemeProblem(path, str(exc), exc.name if isinstance(exc, BadTheme) else path.stem))
                continue
            themes[theme.name] = theme
    return themes, problems
