"""A sequence length typed with a separator ("4,096", as the field reads it since core.units.without_commas) was
never fitted to the next model's context: PlanView._fit_seq_len took only plain digits, so loading GPT-2 (1,024
tokens) with "4,096" in the field left the plan stale on "beyond the context" where "4096" was cut to 1,024 with
a note, and 4,096 came back with a longer model."""

from __future__ import annotations

import pytest
from tui_helpers import model_settled, paste_into, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("typed", ["4,096", "4_096", "4096"])
async def test_a_length_typed_with_separators_is_fitted_to_the_context_as_plain_digits_are(make_app, typed):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, "#f-seq_len", typed)
        await wait_until(pilot, lambda: app.main.plan is not None and app.main.plan.setup.seq_len == 4096)
        await type_into(pilot, "#model-input", "gpt2", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and "gpt2" in view.state.spec.id)
        await wait_until(pilot, lambda: not view.state.stale and app.main.plan.setup.seq_len == 1024)
        assert app.screen.query_one("#f-seq_len").value == "1024"
        said = [n.message for n in app._notifications if "beyond" in n.message]
        assert said and said[-1].startswith("Seq len 4,096 is beyond openai-community/gpt2's context of 1,024 tokens"), said
        # the user's length again for a model whose context allows it
        await paste_into(pilot, "#model-input", "meta-llama/Llama-3.1-8B-Instruct", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and view.state.spec.id.startswith("meta-llama"))
        await wait_until(pilot, lambda: not view.state.stale and app.main.plan.setup.seq_len == 4096)


async def test_a_length_within_the_context_keeps_its_separators(make_app):
    """Fitting compares numbers, not texts: "1,000" within GPT-2's context stays as typed (not rewritten 1000)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, "#f-seq_len", "1,000")
        await wait_until(pilot, lambda: app.main.plan is not None and app.main.plan.setup.seq_len == 1000)
        await type_into(pilot, "#model-input", "gpt2", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and "gpt2" in view.state.spec.id)
        await wait_until(pilot, lambda: not view.state.stale and app.main.plan.setup.seq_len == 1000)
        assert app.screen.query_one("#f-seq_len").value == "1,000"
        assert not [n.message for n in app._notifications if "beyond" in n.message]
