"""The planner's "grad checkpointing" box on a model whose transformers class cannot checkpoint (CTRL: a model
outside the catalog, read by the fallback's child, spec.supports_gradient_checkpointing False).

`lorplan plan --grad-checkpointing` refuses such a model (core.model.fallback.check_gradient_checkpointing). In the
planner, the box ticked went stale with that line under the form, but the box itself was not marked (only text
fields and dropdowns were), and a box ticked only by the saved setup of an earlier session stayed ticked on such a
model, so the table stayed stale until the user unticked it, which the session then saved, losing the setting for
every later model. As the attention field does (tests/tui/test_attention_model_default.py): a box the user ticks in
this session is theirs, kept and marked as the field in error; a box ticked only by the saved setup is the form's
default and follows the model: cleared on such a model with a note, ticked again for the next model that
checkpoints, and saved as ticked. A real tiny CTRL folder (random weights, MiniLM's tokenizer)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tui_helpers import paste_into, wait_until

from lorplan.tui.config import load_config
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

QWEN = "Qwen/Qwen3-0.6B"
BOX = "#f-grad_checkpointing"
LACKS = "does not implement gradient checkpointing in transformers"


@pytest.fixture
def ctrl(tiny_ctrl) -> str:
    """The shared tiny CTRL's folder (tests/conftest.py), as the model field takes it."""
    return str(tiny_ctrl)


def _config(tmp_path: Path) -> Path:
    return tmp_path / "config" / "lorplan" / "config.toml"


def _saved_tick(tmp_path: Path) -> None:
    """An earlier session's saved setup with the box ticked."""
    path = _config(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[setup]\ngrad_checkpointing = true\n")


async def _load(pilot, view, model: str) -> None:
    await paste_into(pilot, "#model-input", model, submit=True)  # typed: ~80 ms a key (a folder path)
    await wait_until(pilot, lambda: view.state.source == model and view.state.spec is not None)
    await pilot.pause()


async def _toggle(pilot, app) -> None:
    """Tick or untick the box by hand (focus it, press space)."""
    app.screen.query_one(BOX, Checkbox).focus()
    await pilot.pause()
    await pilot.press("space")
    await pilot.pause()


def _planned(view, checkpointing: bool) -> bool:
    return not view.state.stale and view.state.setup is not None \
        and view.state.setup.grad_checkpointing is checkpointing


def _marked(app) -> set[str]:
    """The ids of the setup form's fields drawn as bad."""
    return {w.id for w in app.screen.query("#setup-panel *") if w.id and w.has_class("-invalid")}


def _noted(app) -> list[str]:
    """Record the app's notes about checkpointing as they are posted (a toast expires after its timeout, which a
    loaded machine can pass before the test looks); the list returned grows with them."""
    said: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        if LACKS in str(message):
            said.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return said


@asynccontextmanager
async def _planner(make_app, model: str, *, checkpointing: bool):
    """The planner at 120x40 opened on `model`, once its first plan is made (checkpointing or not): yields the
    pilot, the app, its PlanView and the notes about checkpointing posted from the start (_noted)."""
    app = make_app(model=model)
    notes = _noted(app)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: _planned(view, checkpointing))
        yield pilot, app, view, notes


async def test_a_box_ticked_by_hand_is_kept_and_marked_on_a_model_that_cannot_checkpoint(make_app, ctrl):
    async with _planner(make_app, QWEN, checkpointing=False) as (pilot, app, view, notes):
        await _toggle(pilot, app)  # ticked by hand
        await wait_until(pilot, lambda: _planned(view, True))
        await _load(pilot, view, ctrl)
        await wait_until(pilot, lambda: view.state.stale)
        assert set(view.state.errors) == {"grad_checkpointing"}, view.state.errors
        message = view.state.errors["grad_checkpointing"]
        assert message.startswith("grad checkpointing: ") and "CTRLLMHeadModel" in message and LACKS in message
        assert "--" not in message, message  # the box's label, not the command's flag
        # what to do in the form, not `lorplan plan`'s "plan without --grad-checkpointing" in the form's words
        assert message.endswith(f"{LACKS}: untick grad checkpointing"), message
        assert "untick grad checkpointing" in str(app.screen.query_one("#setup-errors").render())
        assert app.screen.query_one(BOX, Checkbox).value  # the user's tick stays
        assert _marked(app) == {BOX[1:]}  # the box is the field in error, drawn as the other fields are
        assert view.bad_fields() == ("grad checkpointing",)
        assert not notes  # nothing was changed behind the user's back
        await _toggle(pilot, app)  # unticked by hand: the table comes back
        await wait_until(pilot, lambda: _planned(view, False))
        assert _marked(app) == set()
        await _toggle(pilot, app)  # ticked again by hand on CTRL: marked again
        await wait_until(pilot, lambda: view.state.stale)
        assert _marked(app) == {BOX[1:]}


async def test_a_saved_tick_is_cleared_for_the_model_with_a_note_and_comes_back(make_app, ctrl, tmp_path):
    _saved_tick(tmp_path)
    async with _planner(make_app, QWEN, checkpointing=True) as (pilot, app, view, notes):
        await _load(pilot, view, ctrl)
        await wait_until(pilot, lambda: _planned(view, False))  # planned at once, not stale
        assert not app.screen.query_one(BOX, Checkbox).value
        assert _marked(app) == set()
        assert len(notes) == 1 and "CTRLLMHeadModel" in notes[0], notes
        assert notes[0].startswith("Grad checkpointing off: ") and "without" in notes[0], notes
        assert notes[0].count(LACKS) == 1 and "--" not in notes[0], notes  # the reason once, in the planner's words
        await _load(pilot, view, QWEN)  # a model that checkpoints: the saved tick again
        await wait_until(pilot, lambda: _planned(view, True))
        assert app.screen.query_one(BOX, Checkbox).value
        await _load(pilot, view, ctrl)
        await wait_until(pilot, lambda: _planned(view, False))
        assert len(notes) == 2
    # the session ended on CTRL with the box cleared for it: the saved setup keeps the tick
    assert load_config(_config(tmp_path))[0].setup.grad_checkpointing is True


async def test_a_session_opening_on_such_a_model_clears_the_saved_tick_and_a_tick_by_hand_is_marked(
        make_app, ctrl, tmp_path):
    _saved_tick(tmp_path)
    async with _planner(make_app, ctrl, checkpointing=False) as (pilot, app, view, notes):
        assert len(notes) == 1
        await _toggle(pilot, app)  # ticked by hand on CTRL: the user's, marked
        await wait_until(pilot, lambda: view.state.stale)
        assert set(view.state.errors) == {"grad_checkpointing"} and _marked(app) == {BOX[1:]}
        await _load(pilot, view, QWEN)  # the user's tick is planned on a model that checkpoints
        await wait_until(pilot, lambda: _planned(view, True))
        assert _marked(app) == set()
        await _load(pilot, view, ctrl)  # and stays the user's: kept and marked, not cleared
        await wait_until(pilot, lambda: view.state.stale)
        assert app.screen.query_one(BOX, Checkbox).value and _marked(app) == {BOX[1:]}
        assert len(notes) == 1


async def test_a_saved_tick_unticked_by_hand_is_saved_unticked(make_app, ctrl, tmp_path):
    """A saved tick unticked by hand (on a model that checkpoints) is the user's choice: CTRL then plans with no
    note, and the session saves the box unticked."""
    _saved_tick(tmp_path)
    async with _planner(make_app, QWEN, checkpointing=True) as (pilot, app, view, notes):
        await _toggle(pilot, app)
        await wait_until(pilot, lambda: _planned(view, False))
        await _load(pilot, view, ctrl)
        await wait_until(pilot, lambda: _planned(view, False))
        assert not notes
    assert load_config(_config(tmp_path))[0].setup.grad_checkpointing is False


async def test_probes_of_a_plan_that_checkpoints_such_a_model_are_refused_in_one_line(make_app, ctrl, tmp_path):
    """`p` in the Probes tab checks the plan as `lorplan probe start --grad-checkpointing` does (runner.check_start,
    core.model.fallback.check_gradient_checkpointing): it passed no grad_checkpointing, so a plan that checkpoints
    CTRL started a run whose every probe then failed in transformers' ValueError."""
    from dataclasses import replace

    from test_probes_panel import _press_p, _profiled_probes_tab, prompt_data

    from lorplan.probe.runs import list_runs

    data = prompt_data(tmp_path / "pc.jsonl")
    app = make_app(model=ctrl)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None and view.state.source == ctrl)
        panel = await _profiled_probes_tab(pilot, data)
        plan = app.main.plan
        assert not plan.setup.grad_checkpointing  # the Plan tab never plans it on CTRL
        panel.plan = replace(plan, setup=replace(plan.setup, grad_checkpointing=True))  # a plan that does
        assert await _press_p(pilot, panel) == [
            f"Cannot probe this plan: training.gradient_checkpointing = true: {ctrl} (CTRLLMHeadModel) {LACKS}: "
            "set it to false"]
        assert panel.backend.submitted == [] and list_runs(panel.runs_dir) == []

        panel.plan = plan  # without checkpointing: the same key starts the run
        await pilot.press("p")
        await wait_until(pilot, lambda: panel.backend.submitted)
        (run,) = list_runs(panel.runs_dir)
        assert run.plan().grad_checkpointing is False
