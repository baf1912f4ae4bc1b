"""A new user's first session, read off the screen at 120×40 and 80×24 (textshot.screen_text): what got in the
way of reading the Recommend tab, the GPU budget and the first key pressed."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into, wait_until

from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio


async def test_the_recommend_tab_s_evidence_never_runs_into_the_plot_beside_it(make_app):
    """At 120×40 the evidence column and the plot column met with no blank column between them, so an evidence
    line that filled its column read on into the plot's note: '9.64 GiB of 12.00no probe has finished yet'."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await wait_until(pilot, lambda: bool(app.screen.query("#rec-size")))
        await paste_into(pilot, "#rec-size", "2,000,000", submit=True)
        await wait_until(pilot, lambda: "token rule" in screen_text(app))
        evidence = app.screen.query_one("#rec-evidence-box").region
        plot = app.screen.query_one("#rec-right").region
        assert evidence.right < plot.x, (evidence, plot)
        rows = screen_text(app).splitlines()
        gap = plot.x - 1
        assert all(len(rows[y]) <= gap or rows[y][gap] == " " for y in range(plot.y, plot.bottom)), "\n".join(
            rows[plot.y:plot.bottom])
