"""A keymap entry naming no key a press can send is refused at start, naming the file, the binding and the key,
and the binding keeps its own key. Before, Textual bound whatever string it was given: `export = "ctrl+e,"` or
`",,,"` left Export on no key at all, and `focus-table = "Ctrl+4"`, `"control+e"` or `"f99"` on a key that never
comes; the planner said nothing and the action silently had no key."""

from __future__ import annotations

import pytest
from test_app import SIZE, written_config

from lorplan.tui.screens.export_dialog import ExportDialog

pytestmark = pytest.mark.anyio


async def test_keys_no_press_sends_are_refused_and_the_defaults_kept(make_app, tmp_path):
    config_path = written_config(tmp_path, '[keymap]\nexport = ",,,"\nfocus-table = "Ctrl+4"\n'
                                           '"probes.start_plan" = "f99"\nnext-theme = "f10, ctrl+n"\n')
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        said = [n.message for n in app._notifications if "keymap" in n.message]
        assert sorted(said) == [
            f"{config_path}: keymap.export: ',,,' has an empty key (a stray comma); ignored, ctrl+e kept",
            f"{config_path}: keymap.focus-table: 'Ctrl+4': 'Ctrl' is not a modifier (ctrl, alt, shift, super, "
            "meta, hyper); ignored, f4 kept",
            f"{config_path}: keymap.probes.start_plan: 'f99': 'f99' is not a key name (e.g. ctrl+e, f9, escape, "
            "question_mark); ignored, its own key kept",
        ], said
        await pilot.press("ctrl+n")  # a good entry beside them still applies (the space after the comma too)
        await pilot.pause()
        assert app.theme == "light"
        await pilot.press("f4")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "rank-table"
        for _ in range(50):
            if app.main.plan is not None:
                break
            await pilot.pause(0.1)
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)


def test_an_unquoted_dotted_binding_id_says_to_quote_it(tmp_path):
    """`probes.start_plan = "f9"` is a table "probes" in TOML: before, the notice said "keymap.probes: must be a
    key string", naming no binding the user wrote; now it names the binding and how to write it."""
    from lorplan.tui.config import parse_config

    path = tmp_path / "config.toml"
    config, problems = parse_config('[keymap]\nprobes.start_plan = "f9"\nhelp = "f1"\n', path)
    assert dict(config.keymap) == {"help": "f1"}
    assert problems == [f'{path}: keymap.probes.start_plan (line 2): a binding id with a dot is quoted in TOML '
                        '("probes.start_plan" = "..."); ignored']


@pytest.mark.parametrize("keys", ["plus", "minus", "slash", "at", "+", "-", "/", "@", "ctrl+slash", "ctrl+minus",
                                  "f30", "menu", "pause", "print_screen", "media_play_pause", "ctrl+shift+e",
                                  "escape", "f12", "question_mark", "comma", "space", "ctrl+left_square_bracket",
                                  "home", "pagedown", "?", "1", "A", "é", "euro_sign"])
def test_names_textual_gives_key_presses_are_keys(keys):
    # "plus", "minus", "slash" and "at" are what Textual calls +, -, / and @ (and what it turns them into when
    # written as the character); f13-f35, menu, pause, print_screen and the media keys come from terminals with
    # the kitty keyboard protocol. Each was refused as "not a key name".
    from textual.app import App

    from lorplan.tui.app import _key_name_problem

    assert _key_name_problem(App._normalize_keymap({"x": keys})["x"]) is None


async def test_a_plus_key_binding_applies_and_fires(make_app, tmp_path):
    config_path = written_config(tmp_path, '[keymap]\nnext-theme = "+"\nrefresh-gpus = "ctrl+r,f30,menu"\n')
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications if "keymap" in n.message] == []
        await pilot.press("f4")  # out of any text field, which would take the + as typing
        await pilot.pause()
        await pilot.press("plus")  # what Textual sends for +
        await pilot.pause()
        assert app.theme == "light"


def test_every_unquoted_dotted_binding_id_is_named(tmp_path):
    # two under one table ("probes") or one nested deeper: only the table's first entry was named, so
    # probes.cancel_run went unbound without a word, and a.b.c was named "a.b"
    from lorplan.tui.config import parse_config

    path = tmp_path / "config.toml"
    text = '[keymap]\nprobes.start_plan = "f9"\nprobes.cancel_run = "f10"\nexport.x.y = "f11"\nhelp = "f1"\n'
    config, problems = parse_config(text, path)
    assert dict(config.keymap) == {"help": "f1"}
    assert problems == [
        f'{path}: keymap.probes.start_plan (line 2): a binding id with a dot is quoted in TOML '
        '("probes.start_plan" = "..."); ignored',
        f'{path}: keymap.probes.cancel_run (line 3): a binding id with a dot is quoted in TOML '
        '("probes.cancel_run" = "..."); ignored',
        f'{path}: keymap.export.x.y (line 4): a binding id with a dot is quoted in TOML ("export.x.y" = "..."); '
        'ignored',
    ]
