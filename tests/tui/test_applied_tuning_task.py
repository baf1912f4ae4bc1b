"""A recommendation applied to the plan (alpha, learning rate, rank_pattern: the Recommend tab's a/p/u) is for the
model it was made for. The plan view dropped it only when the model field's text changed, so a model folder loaded
again after its config.json changed (now its sequence classifier, or other sizes), which keeps its id, the folder
path, kept the other model's tuning on the plan on screen and in the plan `w` writes. A folder read again unchanged
keeps it. The ladder's recommendation.json is written with lorplan's own writers; no probe process runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import open_ladder, paste_into, save_tiny_llama, wait_until, write_ladder

from lorplan.core.model import load_spec
from lorplan.core.vocab import Task
from lorplan.tui import bridge
from lorplan.tui.messages import RecommendationApplied
from lorplan.tui.state import Tuning

pytestmark = pytest.mark.anyio

CAUSAL, CLASSIFIER = Task.CAUSAL_LM.value, Task.SEQUENCE_CLASSIFICATION.value
RUN = "20261207-100000-aaaa"


async def _load_again(pilot, folder: Path) -> None:
    """The folder pasted into the model field again (F5) and Enter: wait until the plan on screen has its new spec."""
    before = pilot.app.main.plan.spec
    await pilot.press("f5")
    await paste_into(pilot, "#model-input", str(folder), submit=True)
    await wait_until(pilot, lambda: pilot.app.main.plan.spec is not before)


def _summary(app) -> str:
    return str(app.screen.query_one("#plan-summary").render())


def _dropped_notes(app) -> list[str]:
    return [n.message for n in app._notifications if "dropped" in n.message]


async def test_an_applied_tuning_is_dropped_when_the_folder_is_another_model_and_kept_when_unchanged(
        make_app, isolated_home):
    folder = isolated_home / "reward-model"
    save_tiny_llama(folder, CAUSAL)
    causal = load_spec(str(folder))
    write_ladder(isolated_home / "state" / "lorplan" / "runs", RUN, causal, 8, lr=3e-4)  # conftest's XDG_STATE_HOME
    app = make_app(model=str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_ladder(pilot)
        panel.focus()
        await pilot.press("a")
        await wait_until(pilot, lambda: app.main.plan.tuning is not None)
        applied = app.main.plan.tuning
        assert applied.source == f"probe ladder run {RUN}" and app.main.plan.rank == 8
        assert bridge.plan_from_setup(app.main.plan).training.learning_rate == applied.learning_rate == 3e-4
        await wait_until(pilot, lambda: f"from the probe ladder run {RUN}" in _summary(app))

        # the same model read again (the same text, a newer mtime): a refresh keeps what the user applied
        save_tiny_llama(folder, CAUSAL)
        await _load_again(pilot, folder)
        assert app.main.plan.spec == load_spec(str(folder)) and app.main.plan.tuning is applied
        assert _dropped_notes(app) == []
        # saved again by a newer transformers (its config.json records the version): the same model to train
        save_tiny_llama(folder, CAUSAL, transformers_version="9.9.9")
        await _load_again(pilot, folder)
        assert app.main.plan.spec.config["transformers_version"] == "9.9.9" and app.main.plan.tuning is applied
        assert _dropped_notes(app) == []

        # other sizes (still the causal LM, still the folder's id): another model, its tuning dropped
        save_tiny_llama(folder, CAUSAL, intermediate_size=128)
        await _load_again(pilot, folder)
        assert (app.main.plan.spec.task, app.main.plan.spec.intermediate_size) == (CAUSAL, 128)
        assert app.main.plan.tuning is None
        written = bridge.plan_from_setup(app.main.plan)  # the plan `w` writes: not the other model's lr
        assert written.training.learning_rate != applied.learning_rate
        assert "probe ladder run" not in _summary(app)
        notes = _dropped_notes(app)
        assert len(notes) == 1 and "other sizes" in notes[0], notes
        assert f"alpha {applied.alpha:g} and learning rate {applied.learning_rate:g} applied from the {applied.source}" \
            in notes[0]

        # applied again to that model, then its config.json names its sequence classifier: dropped again
        app.screen.post_message(RecommendationApplied(8, Tuning(32.0, 5e-4, source="capacity prior")))
        await wait_until(pilot, lambda: app.main.plan.tuning is not None)
        save_tiny_llama(folder, CLASSIFIER, intermediate_size=128)
        await _load_again(pilot, folder)
        assert (app.main.plan.spec.id, app.main.plan.spec.task) == (causal.id, CLASSIFIER)
        assert app.main.plan.tuning is None
        notes = _dropped_notes(app)
        assert len(notes) == 2 and f"now a {CLASSIFIER} model, was a {CAUSAL} model" in notes[1], notes
        assert "alpha 32 and learning rate 0.0005 applied from the capacity prior" in notes[1]


async def test_a_recommendation_applied_for_the_model_as_it_was_is_not_taken_by_the_model_read_since(
        make_app, isolated_home):
    """`a` pressed on the Recommend tab while the Plan tab reads the folder again: the message names the model the
    Recommend tab's plan had; a plan that now reads another model there refuses it, saying so."""
    folder = isolated_home / "model"
    save_tiny_llama(folder, CAUSAL)
    app = make_app(model=str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        before = app.main.plan.spec
        save_tiny_llama(folder, CAUSAL, intermediate_size=128)
        await _load_again(pilot, folder)
        app.screen.post_message(RecommendationApplied(8, Tuning(32.0, 5e-4, source="capacity prior"), spec=before))
        await wait_until(pilot, lambda: any("Not applied" in n.message for n in app._notifications))
        assert app.main.plan.tuning is None and app.main.plan.rank != 8
        app.screen.post_message(RecommendationApplied(8, Tuning(32.0, 5e-4, source="capacity prior"),
                                                      spec=app.main.plan.spec))
        await wait_until(pilot, lambda: app.main.plan.tuning is not None)
        assert app.main.plan.rank == 8 and app.main.plan.tuning.learning_rate == 5e-4
