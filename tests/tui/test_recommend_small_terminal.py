"""The Recommend tab's plot at 80x24 (a small SSH terminal) and at 120x40. Before, both columns under the headline
had `min-width: 40`: at 80 columns the evidence took the panel's width and the plot sat wholly off the screen's
right edge (x=78), with no key or scroll to reach it. Narrow, the plot now goes under the evidence and the content
above the keys' line scrolls (the arrow and page keys of the panel F8 focuses); wide, the two sit side by side as
before. A ladder written by the test (no probe process runs) gives the plot its points and the tab its table."""

from __future__ import annotations

import pytest
from test_recommend_panel import (
    LLAMA,
    _ladder_run,
    _open_recommend,
    _plan_ready,
    _recommendation,
    _row,
    _write,
)
from textual.geometry import Region
from tui_helpers import wait_until

from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio


def _within(outer: Region, inner: Region) -> bool:
    return inner.area > 0 and outer.contains_region(inner)


async def _ladder_shown(pilot, home):
    run = _ladder_run(home, "20261128-100000-aaaa")
    rows = [_row(4, 2.0), _row(8, 1.62), _row(16, 1.45), _row(32, 1.44)]
    _write(run / "recommendation.json", _recommendation(LLAMA, rows, base_loss=2.4, state="done"))
    await _plan_ready(pilot)
    panel = await _open_recommend(pilot)
    await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
    await pilot.pause()
    return panel


def _plot_on_screen(app) -> None:
    """The plot, its note and the keys' line lie on the screen, inside the panel, and their words are drawn."""
    screen = Region(0, 0, *app.size)
    panel = app.screen.query_one("RecommendPanel").region
    for selector in ("#rec-plot", "#rec-plot-note", "#rec-keys"):
        region = app.screen.query_one(selector).region
        assert _within(screen, region) and _within(panel, region), (selector, region, app.size)
    text = screen_text(app)
    for words in ("eval loss by rank", "rank (log2 axis)", "dots: each probe's eval loss", "a: apply the recommendation"):
        assert words in text, (words, text)


async def test_the_plot_is_reached_under_the_evidence_at_80x24(make_app, isolated_home):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await _ladder_shown(pilot, isolated_home)
        assert app.focused is panel
        await pilot.press("end")  # the panel's key, where F8 left the focus
        await pilot.pause()
        _plot_on_screen(app)
        assert panel.has_class("-narrow")
        scroll = app.screen.query_one("#rec-scroll")
        assert scroll.max_scroll_y > 0  # more than the 80x24 panel holds: it scrolls
        plot = app.screen.query_one("#rec-plot").region
        evidence = app.screen.query_one("#rec-evidence-box").region
        assert plot.width >= 70 and plot.height >= 12  # the panel's width, a readable height
        assert plot.x == evidence.x  # under the evidence, not beside it
        assert "│ rank 16 (" not in screen_text(app)  # the headline scrolled away above
        await pilot.press("home")
        await pilot.pause()
        assert scroll.scroll_y == 0 and "│ rank 16 (" in screen_text(app)
        evidence = app.screen.query_one("#rec-evidence-box").region
        assert app.screen.query_one("#rec-plot").region.y >= evidence.bottom  # the plot under the evidence
        for _ in range(3):  # a page at a time reaches it too
            await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        _plot_on_screen(app)


async def test_the_plot_sits_beside_the_evidence_at_120x40(make_app, isolated_home):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await _ladder_shown(pilot, isolated_home)
        assert not panel.has_class("-narrow")
        _plot_on_screen(app)  # at once, no scrolling
        assert app.screen.query_one("#rec-scroll").max_scroll_y == 0
        plot = app.screen.query_one("#rec-plot").region
        evidence = app.screen.query_one("#rec-evidence-box").region
        assert plot.x > evidence.right and plot.y == evidence.y  # two columns, as before
        assert plot.width >= 40 and evidence.width >= 40 and plot.height >= 12
        assert "│ rank 16 (" in screen_text(app)


async def test_the_layout_follows_a_resize(make_app, isolated_home):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await _ladder_shown(pilot, isolated_home)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert panel.has_class("-narrow")
        await pilot.press("end")
        await pilot.pause()
        _plot_on_screen(app)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not panel.has_class("-narrow")
        _plot_on_screen(app)


async def test_a_short_wide_terminal_scrolls_to_the_whole_plot_and_its_note_at_120x24(make_app, isolated_home):
    """Side by side, the body squeezed under the ladder's table once cut the plot's note (and the plot's lower
    rows): the body keeps the room of a plot and its note, and the content scrolls to it."""
    app = make_app()
    async with app.run_test(size=(120, 24)) as pilot:
        panel = await _ladder_shown(pilot, isolated_home)
        assert not panel.has_class("-narrow")
        await pilot.press("end")
        await pilot.pause()
        _plot_on_screen(app)
        note = app.screen.query_one("#rec-plot-note")
        assert note.region.height == note.virtual_region.height  # every line of the note, none cut
