"""A theme's [variables] are parsed where Textual's and lorplan's stylesheets use them, not in a property guessed
from the variable's name. Before, text-accent = "auto 87%" (a colour that contrasts with what is behind it) was
refused as "not a colour" because its name did not end in -foreground or -color, though Textual uses
$text-accent only in `color`, which takes it; now it loads and the planner runs with it. A value that does not fit
one of the places a variable is used is still refused, naming that place."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown

from lorplan.tui.config import UserConfig, save_config
from lorplan.tui.themes import load_themes

pytestmark = pytest.mark.anyio
THEME = 'name = "mine"\nprimary = "#4EA8DE"\nbackground = "#1A1B26"\n[variables]\n'


def _write(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mine.toml"
    path.write_text(THEME + body)
    return path


@pytest.mark.parametrize("name", ["text-accent", "text-warning", "text-success", "text-error"])
def test_auto_colours_load_for_variables_textual_uses_as_text_colour(tmp_path, name):
    themes, problems = load_themes(_write(tmp_path, f'{name} = "auto 87%"\n').parent)
    assert problems == [] and themes["mine"].variables == {name: "auto 87%"}


def test_a_value_that_breaks_one_of_its_uses_is_refused_naming_it(tmp_path):
    # Textual's Markdown block quote draws `border-left: outer $text-primary 50%`: "auto 87%" cannot go there
    path = _write(tmp_path, 'text-primary = "auto 87%"\n')
    themes, problems = load_themes(path.parent)
    assert "mine" not in themes
    assert [str(p) for p in problems] == [
        f"{path}: [variables] text-primary = 'auto 87%' is not a colour Textual can use in "
        "`border-left: outer $text-primary 50%` (a plain colour such as \"#1A1B26\" fits everywhere)"]


async def test_the_planner_runs_every_tab_with_an_auto_text_accent(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    _write(config_path.parent / "themes", 'text-accent = "auto 87%"\ntext-warning = "auto 60%"\n')
    save_config(UserConfig(theme="mine"), config_path)
    app = make_app(config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == "mine" and app.config_problems == []
        for key in ("f6", "f7", "f8", "f1", "escape", "f5"):
            await pilot.press(key)
            await pilot.pause(0.2)
        # a widget lorplan does not show itself, mounted now: its stylesheet takes the theme's values
        await app.screen.mount(Markdown("> quoted `code`"))
        await pilot.pause()
        assert app.is_running
    assert app.return_code in (None, 0)


def test_every_use_found_is_a_declaration_textual_parses_with_its_own_values():
    # a comment in lorplan's themes.py quoting "`color: $text-primary` but not Markdown's" was read as two
    # declarations ending in a backtick, which no value parses in: every non-plain text-primary was refused
    from lorplan.tui.themes import _declarations, _parses, _textual_defaults

    defaults = _textual_defaults()
    bad = [(name, use) for name, uses in _declarations().items() for use in uses
           if not _parses({name: defaults[name]}, {name: (use,)})]
    assert bad == []
    assert "border-left: outer $text-primary 50%" in _declarations()["text-primary"]


@pytest.mark.parametrize("value", ["red 50%", "#fff 50%"])
async def test_a_value_that_fits_every_real_use_loads_and_textual_takes_it(tmp_path, value):
    from textual.app import App

    themes, problems = load_themes(_write(tmp_path, f'text-primary = "{value}"\n').parent)
    assert problems == [] and themes["mine"].variables == {"text-primary": value}

    class Quoting(App):
        def compose(self):
            yield Markdown("> quoted `code`")  # `border-left: outer $text-primary 50%`

    app = Quoting()
    app.register_theme(themes["mine"])
    app.theme = "mine"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.is_running
    assert app.return_code in (None, 0)


def test_without_textual_sources_each_value_is_checked_by_its_name(tmp_path, monkeypatch):
    # a Textual installed zipped or compiled has no stylesheet sources to read: lorplan's own uses alone let
    # warning = "auto 87%" through (lorplan puts $warning only in `color`; a warning Button has it as background),
    # a theme that would stop the app; the check by name refuses it, as before the uses were read
    import textual

    from lorplan.tui import themes

    monkeypatch.setattr(textual, "__file__", str(tmp_path / "site.zip" / "textual" / "__init__.py"))
    themes._declarations.cache_clear()
    try:
        assert themes._declarations() == {}
        path = _write(tmp_path, 'warning = "auto 87%"\n')
        assert [p.message for p in load_themes(path.parent)[1]] == [
            "[variables] warning = 'auto 87%' is not a colour Textual can use (e.g. \"#1A1B26\", \"red 50%\", "
            "\"transparent\")"]
    finally:
        themes._declarations.cache_clear()
