"""A theme's [variables] are checked when the file is read, the way Textual will parse them: a value Textual
cannot use in the property it styles (footer-key-foreground = "zzz") passed theme_from_toml and then stopped the
planner with Textual's StylesheetParseError (exit 1) once the theme was applied. Now the file is reported in one
line naming it and the variable, and skipped; the planner starts with the default theme."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.tui.config import UserConfig, save_config
from lorplan.tui.themes import PACKAGE_THEMES_DIR, load_themes, theme_from_toml

ROOT = Path(__file__).resolve().parents[2]
BAD_FOOTER = 'name = "mine"\nprimary = "#123456"\n[variables]\nfooter-key-foreground = "zzz"\n'


def _theme(tmp_path: Path, text: str, stem: str = "mine") -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(text)
    return path


def test_a_bad_variable_value_names_the_file_and_the_variable(tmp_path):
    path = _theme(tmp_path, BAD_FOOTER)
    with pytest.raises(ValueError, match=r"\[variables\] footer-key-foreground = 'zzz' is not a colour"):
        theme_from_toml(path)
    (tmp_path / "good.toml").write_text('name = "good"\nprimary = "#123456"\n')
    themes, problems = load_themes(tmp_path)
    assert "mine" not in themes and "good" in themes and "dark" in themes
    assert [str(p) for p in problems] == [f"{path}: [variables] footer-key-foreground = 'zzz' is not a colour "
                                          f"Textual can use (e.g. \"#1A1B26\", \"red 50%\", \"auto 87%\")"]
    assert "\n" not in str(problems[0])


@pytest.mark.parametrize(("body", "expected"), [
    ('[variables]\nborder = 3\n', "[variables] border must be a string"),
    ('[variables]\nfooter-key-foregound = "#FF0000"\n',
     "[variables] unknown variable 'footer-key-foregound' (did you mean 'footer-key-foreground'?)"),
    ('[variables]\nblock-cursor-text-style = "#FF0000"\n',
     "[variables] block-cursor-text-style = '#FF0000' is not a text style"),
    ('[variables]\nborder = "auto 87%"\n', "[variables] border = 'auto 87%' is not a colour"),
    ('[variables]\nborder = "red; color: blue"\n', "[variables] border = 'red; color: blue' is not a colour"),
    ('[variables]\nborder = "{"\n', "[variables] border = '{' is not a colour"),
    ('[variables]\nbackground-darken-1 = "zzz"\n', "[variables] background-darken-1 = 'zzz' is not a colour"),
    ('[variables]\nbackground-darken-1 = "red 50%"\n',
     "[variables] background-darken-1 = 'red 50%' must be a plain colour"),
    ('variables = "border"\n', "[variables] must be a table"),
])
def test_other_bad_variables_are_reported(tmp_path, body, expected):
    path = _theme(tmp_path, 'name = "mine"\nprimary = "#123456"\n' + body)
    themes, problems = load_themes(tmp_path)
    assert "mine" not in themes
    assert len(problems) == 1 and str(problems[0]).startswith(f"{path}: {expected}"), problems


@pytest.mark.parametrize("primary", ["zzz", "#12345", "auto 87%", "red 50%"])
def test_a_bad_primary_colour_is_reported(tmp_path, primary):
    path = _theme(tmp_path, f'name = "mine"\nprimary = "{primary}"\n')
    themes, problems = load_themes(tmp_path)
    assert "mine" not in themes
    assert [str(p) for p in problems] and str(problems[0]).startswith(f"{path}: bad colour"), problems


def test_a_file_that_is_not_utf8_is_reported(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_bytes(b'name = "caf\xe9"\nprimary = "#123456"\n')
    themes, problems = load_themes(tmp_path)
    assert len(problems) == 1 and problems[0].path == path and problems[0].name == "mine"


def test_values_textual_accepts_are_kept(tmp_path):
    _theme(tmp_path, 'name = "mine"\nprimary = "#123456"\n[variables]\ntext = "auto 87%"\n'
                     'footer-key-foreground = "ansi_bright_red"\nfooter-background = "transparent"\n'
                     'border = "red 50%"\nblock-cursor-text-style = "bold not underline"\nlink-style = "underline"\n'
                     'scrollbar = "rgb(10, 20, 30)"\nlink-background = "initial"\n')
    themes, problems = load_themes(tmp_path)
    assert problems == [] and themes["mine"].variables["text"] == "auto 87%"


def test_every_value_textual_itself_derives_passes(tmp_path):
    """The check is no stricter than Textual: a theme that spells out every variable Textual derives for the dark
    theme (shades, text, cursors, links, footer, markdown headings) loads."""
    dark = theme_from_toml(PACKAGE_THEMES_DIR / "dark.toml")
    derived = dark.to_color_system().generate()
    lines = [f'{name} = "{value}"' for name, value in derived.items()]
    _theme(tmp_path, 'name = "spelled"\nprimary = "#4EA8DE"\n[variables]\n' + "\n".join(lines) + "\n", "spelled")
    themes, problems = load_themes(tmp_path)
    assert problems == [] and themes["spelled"].variables == derived


@pytest.mark.anyio
async def test_the_planner_starts_with_the_default_theme_and_says_why(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    (config_path.parent / "themes").mkdir(parents=True)
    theme_path = _theme(config_path.parent / "themes", BAD_FOOTER)
    save_config(UserConfig(theme="mine"), config_path)  # chosen in the planner when it still worked
    app = make_app(config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        said = [n.message for n in app._notifications]
        # one notice: the theme could not be used, why (file and variable), and what is used instead; before, a
        # second one said "theme 'mine' is not installed; using dark", which it is (its file is bad)
        about_it = [m for m in said if "mine" in m]
        assert len(about_it) == 1, said
        assert about_it[0].startswith(f"theme 'mine' in {theme_path} could not be used: [variables] "
                                      "footer-key-foreground = 'zzz' is not a colour"), about_it
        assert about_it[0].endswith("; using dark") and "\n" not in about_it[0]
        assert not any("not installed" in m for m in said), said
        assert "mine" not in app.available_themes
    assert app.return_code in (None, 0)


def test_cli_theme_naming_a_bad_file_exits_2_with_one_line(tmp_path):
    themes_dir = tmp_path / "config" / "lorplan" / "themes"
    themes_dir.mkdir(parents=True)
    theme_path = _theme(themes_dir, BAD_FOOTER)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "lorplan", "--theme", "mine"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert f"--theme: theme 'mine' in {theme_path} could not be used: [variables] footer-key-foreground" in line
