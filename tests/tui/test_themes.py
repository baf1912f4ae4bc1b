"""Themes: the TOML files load as Textual themes; there is one copy, shipped in the package."""

from __future__ import annotations

import sys
from pathlib import Path

from lorplan.tui.themes import PACKAGE_THEMES_DIR, load_themes, theme_from_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
REPO_THEMES = ROOT / "themes"

# The 16 colours every terminal has (xterm's values for the standard + bright ANSI colours).
ANSI16 = {
    "#000000", "#800000", "#008000", "#808000", "#000080", "#800080", "#008080", "#C0C0C0",
    "#808080", "#FF0000", "#00FF00", "#FFFF00", "#0000FF", "#FF00FF", "#00FFFF", "#FFFFFF",
}


def test_three_themes_load():
    themes, problems = load_themes()
    assert problems == []
    assert {"dark", "light", "high-contrast"} <= set(themes)
    assert themes["dark"].dark and not themes["light"].dark


def test_the_top_level_themes_folder_is_the_packaged_one():
    # One copy: themes/ (where the README points) is a link to lorplan/themes/, which the package ships.
    names = sorted(p.name for p in PACKAGE_THEMES_DIR.glob("*.toml"))
    assert names == ["dark.toml", "high-contrast.toml", "light.toml"]
    assert sorted(p.name for p in REPO_THEMES.glob("*.toml")) == names
    assert all((REPO_THEMES / name).samefile(PACKAGE_THEMES_DIR / name) for name in names)


def test_the_package_data_ships_every_theme():
    """setuptools' package-data globs (relative to the package folder) match every theme file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["lorplan"]
    package = ROOT / "lorplan"
    shipped = {path for pattern in globs for path in package.glob(pattern)}
    assert set(PACKAGE_THEMES_DIR.glob("*.toml")) <= shipped
    assert PACKAGE_THEMES_DIR == package / "themes"


def test_high_contrast_uses_only_the_16_ansi_colours():
    theme = theme_from_toml(REPO_THEMES / "high-contrast.toml")
    colours = [getattr(theme, key) for key in ("primary", "secondary", "accent", "warning", "error", "success",
                                                "foreground", "background", "surface", "panel")]
    colours += list(theme.variables.values())
    assert all(c.upper() in ANSI16 for c in colours), colours


def test_bad_theme_file_is_reported_and_skipped(tmp_path):
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "#12345"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimary = "#123456"\nbackgorund = "#000000"\n')
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    themes, problems = load_themes(tmp_path)
    assert "mine" in themes and "broken" not in themes and "typo" not in themes
    text = "\n".join(str(p) for p in problems)
    assert "broken.toml: bad colour" in text
    assert "typo.toml: unknown key 'backgorund'" in text
