"""Themes: the TOML files load as Textual themes, the packaged copy matches the canonical one."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorplan.tui.themes import PACKAGE_THEMES_DIR, load_themes, theme_from_toml

REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"

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


@pytest.mark.parametrize("name", ["dark", "light", "high-contrast"])
def test_packaged_copy_is_identical_to_the_canonical_file(name):
    # themes/ is the canonical source; lorplan/themes/ ships inside the wheel (package data).
    assert (PACKAGE_THEMES_DIR / f"{name}.toml").read_bytes() == (REPO_THEMES / f"{name}.toml").read_bytes()


def test_same_set_of_files_in_both_places():
    assert sorted(p.name for p in PACKAGE_THEMES_DIR.glob("*.toml")) == sorted(p.name for p in REPO_THEMES.glob("*.toml"))


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
