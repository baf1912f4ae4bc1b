"""TOML that tomllib refuses with something other than TOMLDecodeError (an integer of more than 4,300 digits is
int()'s ValueError; nesting past the recursion limit is a RecursionError), in every file lorplan reads as TOML:
the plan, the TUI's settings and its themes each say the same one line, "FILE: not valid TOML (...)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan.tomlfile import read_plan
from lorplan.tui.config import ConfigLeftAsIs, UserConfig, load_config, save_config
from lorplan.tui.themes import load_themes
from tests.tui.test_app import SIZE, written_config

LONG = "not valid TOML (line 2: an integer of more than 4,300 digits, more than Python reads)"
DEEP = "not valid TOML (tables or arrays nested too deeply for Python's TOML reader)"
FAULTS = [pytest.param('name = "x"\nprimary = ' + "9" * 5000 + "\n", LONG, id="long-integer"),
          pytest.param('name = "x"\nprimary = ' + "[" * 100_000 + "\n", DEEP, id="deep-nesting")]


@pytest.mark.parametrize(("text", "said"), FAULTS)
def test_the_plan_the_settings_and_a_theme_say_the_same_line(tmp_path, text, said):
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(BadInput) as plan_error:
        read_plan(path)
    assert str(plan_error.value) == f"{path}: {said}"

    config, problems = load_config(path)
    assert config == UserConfig() and len(problems) == 1
    assert problems[0].startswith(f"{path}: {said}; using defaults"), problems
    with pytest.raises(ConfigLeftAsIs, match=r"not valid TOML .*settings not saved"):
        save_config(config.with_last_model("openai-community/gpt2"), path)
    assert path.read_text() == text  # never written over

    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "x.toml").write_text(text)
    loaded, theme_problems = load_themes(themes)
    assert "x" not in loaded and [str(p) for p in theme_problems] == [f"{themes / 'x.toml'}: {said}"]


@pytest.mark.anyio
async def test_the_planner_opens_with_a_settings_file_it_cannot_read_and_says_why(make_app, tmp_path):
    config_path = written_config(tmp_path, 'theme = "light"\nlast_model = ' + "7" * 5000 + "\n")
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"{config_path}: not valid TOML (line 2: an integer of more than 4,300 digits")
                   for m in messages), messages
        assert app.theme == "dark"  # the defaults


def test_a_byte_order_mark_is_read_past_in_every_toml_file(tmp_path):
    """Windows editors save UTF-8 with a byte order mark, which tomllib refuses ("Invalid statement"): the plan
    reader skipped it, the settings and the themes said "not valid TOML" and the settings were never saved."""
    settings = tmp_path / "config.toml"
    settings.write_text('\ufefftheme = "light"\n', encoding="utf-8")
    config, problems = load_config(settings)
    assert problems == [] and config.theme == "light"
    save_config(config.with_last_model("openai-community/gpt2"), settings)
    again, problems = load_config(settings)
    assert problems == [] and again.theme == "light" and again.last_model == "openai-community/gpt2"

    themes = tmp_path / "themes"
    themes.mkdir()
    dark = Path(__file__).resolve().parents[2] / "themes" / "dark.toml"
    (themes / "bom.toml").write_text("\ufeff" + dark.read_text().replace('name = "dark"', 'name = "bom"'),
                                     encoding="utf-8")
    loaded, theme_problems = load_themes(themes)
    assert "bom" in loaded and theme_problems == []
