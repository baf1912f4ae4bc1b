"""What a change of focus restyles: the two fields, not the panel around them nor the footer (each Tab through the
setup restyled ~150 widgets for the panels' `:focus-within` border and re-mounted the footer's ~25 keys, though
neither changed). The screen is still the one a full restyle gives: the border of the panel with the focus, the
footer's keys of the focused widget's bindings."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from lorplan.tui.panels.gpu_panel import GpuPanel
from lorplan.tui.panels.setup_panel import SetupPanel
from lorplan.tui.widgets.model_picker import ModelPicker

pytestmark = pytest.mark.anyio


def _styles(screen) -> list[tuple]:
    """Every widget's classes and computed CSS rules, in DOM order."""
    return [(type(w).__name__, w.id, sorted(w.classes), sorted(w._css_styles.get_rules().items(), key=str))
            for w in screen.walk_children(with_self=True)]


def _border(widget) -> Color:
    return widget.styles.border_top[1]


def _footer_keys(app) -> list[tuple[str, str, bool]]:
    return [(key.key, key.description, key.disabled) for key in app.screen.query_one(Footer).query(FooterKey)]


async def test_a_tab_between_two_fields_restyles_the_two_fields_alone(make_app, monkeypatch):
    restyled = []
    original = Stylesheet.apply

    def apply(self, node, **kwargs):
        restyled.append(node)
        return original(self, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", apply)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        seq = app.screen.query_one("#f-seq_len")
        seq.focus()
        await pilot.pause()
        await pilot.pause(0.05)
        keys = list(app.screen.query_one(Footer).query(FooterKey))
        restyled.clear()
        await pilot.press("tab")
        await pilot.pause()
        await pilot.pause(0.05)
        dropout = app.screen.query_one("#f-lora_dropout")
        assert app.focused is dropout
        widgets = {node if node.id else node._parent for node in restyled}  # (a component's node: its widget)
        assert widgets == {seq, dropout}, sorted(f"{type(w).__name__}#{w.id}" for w in widgets)
        assert list(app.screen.query_one(Footer).query(FooterKey)) == keys  # the same keys, not mounted again


async def test_the_panel_with_the_focus_and_the_footer_follow_it_as_a_full_restyle_draws_them(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        focused, blurred = Color.parse(app.theme_variables["border"]), Color.parse(app.theme_variables["border-blurred"])
        setup, gpu = app.screen.query_one(SetupPanel), app.screen.query_one(GpuPanel)
        box, picker = app.screen.query_one("#plan-table-box"), app.screen.query_one(ModelPicker)
        assert focused != blurred
        table_keys = _footer_keys(app)
        for selector, panel in (("#f-seq_len", setup), ("#gpu-preset", gpu), ("#model-input", picker),
                                ("#f-micro_batch", setup), ("#rank-table", box)):
            app.screen.query_one(selector).focus()
            await pilot.pause()
            await pilot.pause(0.05)
            for other in (setup, gpu, box, picker):
                assert _border(other) == (focused if other is panel else blurred), (selector, other)
            if selector == "#f-seq_len":
                assert _footer_keys(app) != table_keys  # a field's keys, not the table's
            if selector == "#rank-table":
                assert _footer_keys(app) == table_keys
            footer = _footer_keys(app)
            footer_widget = app.screen.query_one(Footer)
            footer_widget._composed_for = None  # composed again, as Textual's Footer does at every change of focus
            footer_widget.call_later(footer_widget.recompose)
            await pilot.pause()
            await pilot.pause(0.05)
            assert _footer_keys(app) == footer, selector
            incremental = _styles(app.screen)
            app.update_styles(app.screen)  # everything restyled: the rules each widget gets from scratch
            await pilot.pause()
            assert _styles(app.screen) == incremental, selector
