"""The ladder budget's upper bound (a week) in the planner's minutes field: refused as typed, in the field's
line, with the words `lorplan recommend --budget-minutes` and the ladder itself use (one checker)."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input, Static
from tui_helpers import type_into, wait_until

from lorplan.core.errors import BadInput
from lorplan.tui.panels.recommend_panel import RecommendPanel

pytestmark = pytest.mark.anyio

SAID = ("Ladder budget: 20,000 minutes is not between 0 and 10,080 minutes (a week; a probe ladder spends hours "
        "at most)")


async def test_a_budget_beyond_a_week_is_the_fields_error_as_typed(make_app):
    """20000 minutes passed the field's check (a positive number) and reached the ladder only when `l` started
    it, whose refusal was a toast naming `ladder budget`; now the field is marked and its line says why, with
    the bound the CLI refuses, and `l` is refused with the same line."""
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_until(pilot, lambda: pilot.app.main.plan is not None)
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        await type_into(pilot, "#rec-budget", "20000")
        field = app.screen.query_one("#rec-budget", Input)
        assert field.has_class("-invalid") and field.value == "20000"
        assert str(app.screen.query_one("#rec-ladder-error", Static).render()) == SAID
        with pytest.raises(BadInput, match=re.escape(SAID)):
            panel.ladder_settings()
        await type_into(pilot, "#rec-budget", "10080")  # a week is still a budget
        assert not field.has_class("-invalid")
        assert panel.ladder_settings()[0] == 10080.0


async def test_a_one_step_probe_is_the_fields_error_as_typed(make_app):
    """`Steps per probe` 1 passed the field's check and was refused only when `l` started the ladder (a probe of
    1 step trains nothing: its one step is the warmup's, at a learning rate of 0); now the field says so as typed,
    with the words `lorplan recommend --probe-steps` uses, and 2 is taken."""
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_until(pilot, lambda: pilot.app.main.plan is not None)
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        await type_into(pilot, "#rec-steps", "1")
        field = app.screen.query_one("#rec-steps", Input)
        assert field.has_class("-invalid") and field.value == "1"
        said = str(app.screen.query_one("#rec-ladder-error", Static).render())
        assert said.startswith("Steps per probe: a probe of 1 step trains nothing: its one step is the warmup's"), said
        with pytest.raises(BadInput, match="give 2 or more"):
            panel.ladder_settings()
        await type_into(pilot, "#rec-steps", "2")
        assert not field.has_class("-invalid")
        assert panel.ladder_settings()[2] == 2
