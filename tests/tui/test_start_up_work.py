"""Work the start-up no longer does before the first frame (benchmarks/tui_latency.py, issue 4), and that the
screen it paints is the one Textual's full work gave: every widget styled as a full restyle styles it, the
drop-down lists made when opened, the footer's keys as Textual's footer makes them."""

from __future__ import annotations

import gc

import pytest
from textual.app import App
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from textual.widgets._select import SelectCurrent, SelectOverlay
from tui_helpers import choose

from lorplan.tui.screens.main_screen import MainScreen

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def _styles(screen) -> list[tuple]:
    """Every widget's classes and computed CSS rules, in DOM order."""
    return [(type(w).__name__, w.id, sorted(w.classes), sorted(w._css_styles.get_rules().items(), key=str))
            for w in screen.walk_children(with_self=True)]


def _watch_start_up(app, monkeypatch) -> dict:
    """Record, up to the main screen's first frame sent to the terminal: the widgets Textual restyled (whether
    they were in the DOM then), and whether the cyclic garbage collector was on when that frame was painted."""
    seen: dict = {"restyled": [], "gc_at_first_frame": None}
    original_update = App.update_styles

    def update_styles(self, node, animate=True):
        if seen["gc_at_first_frame"] is None:
            seen["restyled"].append((node, node.is_attached))
        return original_update(self, node, animate)

    monkeypatch.setattr(App, "update_styles", update_styles)
    original_display = app._display

    def display(screen, renderable):
        if renderable is not None and isinstance(screen, MainScreen) and not app._batch_count:
            if seen["gc_at_first_frame"] is None:
                seen["gc_at_first_frame"] = gc.isenabled()
        original_display(screen, renderable)

    app._display = display
    return seen


async def test_start_up_restyles_no_widget_before_it_is_mounted_nor_the_whole_screen(make_app, monkeypatch):
    """Widgets whose classes change in their __init__ (a ticked Checkbox, a compact Input) were styled once
    before being mounted and again at mount, and the whole screen a third time when it was first shown (~40 ms
    on a 2-core machine). The screen they paint is the one a full restyle gives."""
    app = make_app()
    seen = _watch_start_up(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert seen["gc_at_first_frame"] is not None, "the main screen was never painted"
        unmounted = [type(node).__name__ for node, attached in seen["restyled"] if not attached]
        assert unmounted == []
        assert screen not in [node for node, _attached in seen["restyled"]]
        before = _styles(screen)
        app.stylesheet.update(screen)  # what Textual's restyle of the whole screen gives
        assert _styles(screen) == before


async def test_the_collector_is_paused_for_the_first_frame_and_on_again_after(make_app, monkeypatch):
    assert gc.isenabled()
    app = make_app()
    seen = _watch_start_up(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert seen["gc_at_first_frame"] is False
        for _ in range(50):  # resumed by the main screen once its first refresh is done
            if gc.isenabled():
                break
            await pilot.pause(0.02)
        assert gc.isenabled()
    assert gc.isenabled()


async def test_an_app_that_ends_before_its_first_frame_turns_the_collector_on_again(tmp_path):
    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp

    class EndsAtOnce(LorplanApp):
        def on_mount(self, event) -> None:
            event.prevent_default()  # LorplanApp's on_mount (which pushes the main screen) does not run
            self.exit()

    app = EndsAtOnce(gpu_source=bridge.no_gpu("test"), config_path=tmp_path / "config.toml")
    async with app.run_test(size=SIZE):
        pass
    assert not any(isinstance(screen, MainScreen) for screen in app._screen_stack)
    assert gc.isenabled()


async def test_the_setup_drop_downs_are_made_when_first_opened_and_work_as_textuals(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert not screen.query(SelectOverlay)  # four setup fields and the GPU preset: none made yet
        assert all(current.has_class("-has-value") for current in screen.query(SelectCurrent))
        optimizer = screen.query_one("#f-optimizer")
        shown = optimizer.value
        optimizer.focus()
        await pilot.pause()
        await pilot.press("enter")  # opens it: the list is made, filled and on the current value
        await pilot.pause()
        overlay = optimizer.query_one(SelectOverlay)
        assert optimizer.expanded and overlay.display and app.focused is overlay
        assert overlay.option_count == len(optimizer._options)
        assert optimizer._options[overlay.highlighted][1] == shown
        await pilot.press("escape")
        await pilot.pause()
        assert not optimizer.expanded and app.focused is optimizer
        other = next(value for _label, value in optimizer._options if value != shown)
        await choose(pilot, "#f-optimizer", other)  # opened again: the same list, now on another value
        assert len(optimizer.query(SelectOverlay)) == 1
        assert app.screen.query_one("#plan-view").state.form.optimizer == other
        attention = screen.query_one("#f-attention")  # never opened: its list takes a value set meanwhile
        value = attention._options[-1][1]
        attention.value = value
        await pilot.pause()
        attention.focus()
        await pilot.press("enter")
        await pilot.pause()
        overlay = attention.query_one(SelectOverlay)
        assert attention._options[overlay.highlighted][1] == value
        await pilot.press("escape")
        quant = screen.query_one("#f-quant")  # opened with the mouse
        await pilot.click("#f-quant")
        await pilot.pause()
        assert quant.expanded and quant.query_one(SelectOverlay).display


async def test_the_footer_keys_are_not_restyled_as_they_mount(make_app, monkeypatch):
    """Each FooterKey started compact and was then bound to the footer's value: two restyles per key at every
    recompose (each change of tab or focus). The keys end with Textual's classes: the palette's key compact."""
    restyled: list[FooterKey] = []
    original_update = App.update_styles

    def update_styles(self, node, animate=True):
        if isinstance(node, FooterKey):
            restyled.append(node)
        return original_update(self, node, animate)

    monkeypatch.setattr(App, "update_styles", update_styles)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")  # another tab: other keys, the footer composed again
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        keys = list(footer.query(FooterKey))
        assert len(keys) >= 5
        assert [key for key in restyled if not key.has_class("-command-palette")] == []
        for key in keys:
            assert key.has_class("-compact") == key.has_class("-command-palette"), key
