"""The planner's attention field follows the model as `lorplan plan` does (core.model.attention): transformers 5's
Gemma 2 has no SDPA (the form's default), so choosing it moves the field to eager, the attention it trains with,
and a model with SDPA brings SDPA back; an attention the user picks that the model lacks is marked on the field
(SDPA on Gemma 2, flash-attention 2 on the multimodal Gemma 3), never planned."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, wait_until

from lorplan.core.vocab import Attention
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.panels.setup_form import attention_for_model
from lorplan.tui.widgets.select import Select

pytestmark = pytest.mark.anyio

GEMMA2, GEMMA3, QWEN = "google/gemma-2-2b-it", "google/gemma-3-4b-it", "Qwen/Qwen3-0.6B"
SDPA, EAGER, FLASH = Attention.SDPA.value, Attention.EAGER.value, Attention.FLASH.value
ALL = Attention.values()
NO_SDPA = tuple(a for a in ALL if a != SDPA)


def test_the_form_default_follows_the_model_and_a_choice_is_kept():
    assert attention_for_model(SDPA, NO_SDPA, EAGER, False) == (EAGER, True)
    assert attention_for_model(EAGER, ALL, SDPA, True) == (SDPA, False)  # set for Gemma 2: back to the default
    assert attention_for_model(EAGER, ALL, SDPA, False) == (EAGER, False)  # the user's eager stays
    assert attention_for_model(FLASH, NO_SDPA, EAGER, False) == (FLASH, False)
    assert attention_for_model(SDPA, ALL, SDPA, False) == (SDPA, False)


async def _load(pilot, view, model: str) -> None:
    await paste_into(pilot, "#model-input", model, submit=True)  # typed: ~80 ms a key
    await wait_until(pilot, lambda: view.state.source == model and view.state.spec is not None
                     and view.state.spec.id == model)
    await pilot.pause()


async def test_gemma2_plans_eager_and_sdpa_chosen_there_is_marked(make_app):
    app = make_app(model=QWEN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None)
        assert view.state.setup.attention == SDPA
        await _load(pilot, view, GEMMA2)
        await wait_until(pilot, lambda: view.state.setup.attention == EAGER and not view.state.stale)
        assert view.state.form.attention == EAGER
        assert app.screen.query_one("#f-attention", Select).value == EAGER
        app.screen.query_one("#f-attention", Select).value = SDPA  # chosen by hand
        await wait_until(pilot, lambda: view.state.stale)
        assert set(view.state.errors) == {"attention"}, view.state.errors
        message = view.state.errors["attention"]
        assert message.startswith("Attention sdpa: ") and "Gemma2ForCausalLM" in message, message
        assert "supports eager, flash" in message, message
        await _load(pilot, view, QWEN)
        await wait_until(pilot, lambda: not view.state.stale and view.state.setup.attention == SDPA)


async def test_eager_set_for_gemma2_goes_back_to_sdpa_and_flash_on_gemma3_is_marked(make_app):
    app = make_app(model=GEMMA2)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None and view.state.setup.attention == EAGER)
        await _load(pilot, view, QWEN)
        await wait_until(pilot, lambda: view.state.setup.attention == SDPA)
        app.screen.query_one("#f-attention", Select).value = FLASH
        await wait_until(pilot, lambda: view.state.setup.attention == FLASH)
        await _load(pilot, view, GEMMA3)
        await wait_until(pilot, lambda: view.state.stale)
        assert set(view.state.errors) == {"attention"}, view.state.errors
        assert "Gemma3ForConditionalGeneration" in view.state.errors["attention"]
        assert view.state.form.attention == FLASH  # the user's choice is kept, and marked


async def test_the_session_remembers_the_users_attention_not_the_one_a_model_set(make_app, tmp_path):
    """Eager set for Gemma 2 was saved as the session's attention, so the next session took it for the user's
    choice: a later model with SDPA (Qwen) was planned with eager, without a word. The session keeps SDPA, which
    the next Gemma 2 turns into eager again; an attention chosen by hand is remembered as chosen."""
    from lorplan.tui.config import load_config

    path = tmp_path / "config" / "lorplan" / "config.toml"
    app = make_app(model=GEMMA2)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None and view.state.setup.attention == EAGER)
    assert load_config(path)[0].setup.attention == SDPA
    app = make_app(model=GEMMA2)  # the next session, on the model it was left on
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None and view.state.setup.attention == EAGER)
        await _load(pilot, view, QWEN)
        await wait_until(pilot, lambda: not view.state.stale and view.state.setup.attention == SDPA)
        app.screen.query_one("#f-attention", Select).value = EAGER  # chosen by hand
        await wait_until(pilot, lambda: view.state.setup.attention == EAGER and not view.state.stale)
    assert load_config(path)[0].setup.attention == EAGER
