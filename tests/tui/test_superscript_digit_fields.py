"""A superscript digit ("²") passes str.isdigit() but int() refuses it: the planner's micro-batch fit read the
field with `isdigit() and int()`, so loading a model with "²" in the field ended the app in a ValueError."""

from __future__ import annotations

import pytest
from tui_helpers import model_settled, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("field", ["#f-micro_batch", "#f-seq_len"])
async def test_a_superscript_digit_in_a_field_is_no_number_when_a_model_loads(make_app, field):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, field, "²")
        await type_into(pilot, "#model-input", "gpt2", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and "gpt2" in view.state.spec.id)
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert app.screen.query_one(field).value == "²"  # left for the form to refuse, as "abc" is
