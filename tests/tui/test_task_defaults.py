"""Choosing a model of another task moves the micro-batch from one task's default to the other's (the one place
that says what trains, core.plan.defaults: 16 rows for a sequence classifier, 1 for a causal LM), so a plan
exported for MiniLM trains; a micro-batch the user typed is never changed."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into, wait_until

from lorplan.core.plan.defaults import micro_batch
from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio


async def _load(pilot, view, model: str) -> None:
    await paste_into(pilot, "#model-input", model, submit=True)  # typed: ~80 ms a key
    await wait_until(pilot, lambda: view.state.source == model and view.state.setup is not None
                     and view.state.setup.targets is not None)
    await pilot.pause()


async def test_micro_batch_follows_the_task_default_unless_typed(make_app):
    app = make_app(model="Qwen/Qwen3-0.6B")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None)
        assert view.state.setup.micro_batch == micro_batch("causal-lm") == 1
        await _load(pilot, view, "sentence-transformers/all-MiniLM-L6-v2")
        await wait_until(pilot, lambda: view.state.setup.micro_batch == micro_batch("sequence-classification"))
        assert view.state.form.micro_batch == "16"
        await _load(pilot, view, "Qwen/Qwen3-0.6B")
        await wait_until(pilot, lambda: view.state.setup.micro_batch == 1)
        await type_into(pilot, "#f-micro_batch", "4")  # the user's own value
        await wait_until(pilot, lambda: view.state.setup.micro_batch == 4)
        await _load(pilot, view, "sentence-transformers/all-MiniLM-L6-v2")
        assert view.state.form.micro_batch == "4"


@pytest.mark.parametrize("typed", ["1.0", "1e0", "+1"])
async def test_a_task_default_written_another_way_is_still_the_default(make_app, typed):
    """The field is read by the form's whole-number rule (core.units.whole_number, as parse_int reads it), not by
    str.isdecimal: "1.0" is the causal LM's default 1, which a classifier's 16 replaces as it replaces "1"."""
    app = make_app(model="Qwen/Qwen3-0.6B")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None)
        await type_into(pilot, "#f-micro_batch", typed)
        await wait_until(pilot, lambda: view.state.form.micro_batch == typed and view.state.setup.micro_batch == 1)
        await _load(pilot, view, "sentence-transformers/all-MiniLM-L6-v2")
        await wait_until(pilot, lambda: view.state.setup.micro_batch == micro_batch("sequence-classification"))
        assert view.state.form.micro_batch == "16"  # was left as typed: a classifier planned at 1 row a step
