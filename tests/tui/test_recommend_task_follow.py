"""The Recommend tab follows only a ladder of the plan's own task. The newest ladder for the plan's model and data
was followed whatever its recommendation's task, and a task change kept the followed run: a model folder whose
config.json now names its sequence classifier (a reward model saved where its causal LM was), or a ladder an
older lorplan ran when it planned that model as the other task, showed, and with `a` applied, the other task's
rank, alpha and learning rate. The recommendation.json files are written with lorplan's own writers
(Recommendation.to_json, atomic_write_json) into run folders made by create_run; no probe process runs."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, save_tiny_llama, wait_until, write_ladder

from lorplan.core.model import load_spec
from lorplan.core.vocab import Task
from lorplan.tui.messages import LadderActionFinished
from lorplan.tui.panels.recommend_panel import RecommendPanel
from lorplan.tui.recommend_bridge import LadderFeed

pytestmark = pytest.mark.anyio

CAUSAL, CLASSIFIER = Task.CAUSAL_LM.value, Task.SEQUENCE_CLASSIFICATION.value


def test_the_newest_ladder_of_the_asked_task_is_picked(tmp_path):
    """Two ladders of one model folder on one data file, a causal LM's and (newer) its classifier's: each task
    gets its own; with only the other task's ladder there is none; a run asked for by id is read whatever its
    task (the one the user started on the tab)."""
    folder, data, root = tmp_path / "model", tmp_path / "rows.jsonl", tmp_path / "runs"
    data.write_text('{"text": "a", "label": 0}\n')
    causal = load_spec(str(save_tiny_llama(folder, CAUSAL)))
    write_ladder(root, "20261207-100000-aaaa", causal, knee=8, data=data)
    classifier = load_spec(str(save_tiny_llama(folder, CLASSIFIER)))
    assert (causal.id, causal.task, classifier.task) == (classifier.id, CAUSAL, CLASSIFIER)
    feed = LadderFeed(root)
    read = feed.read(None, causal.id, str(data), CAUSAL)
    assert read.run_id == "20261207-100000-aaaa" and read.recommendation.rank == 8
    assert feed.read(None, causal.id, str(data), CLASSIFIER).run_id is None  # only the causal LM's ladder so far
    write_ladder(root, "20261207-110000-bbbb", classifier, knee=16, data=data)
    read = feed.read(None, causal.id, str(data), CAUSAL)
    assert read.run_id == "20261207-100000-aaaa" and read.recommendation.task == CAUSAL  # was the newer bbbb
    read = feed.read(None, classifier.id, str(data), CLASSIFIER)
    assert read.run_id == "20261207-110000-bbbb" and read.recommendation.rank == 16
    followed = feed.read("20261207-110000-bbbb", causal.id, str(data), CAUSAL)
    assert followed.run_id == "20261207-110000-bbbb" and followed.recommendation.task == CLASSIFIER


async def test_the_tab_follows_the_ladder_of_the_plans_task_when_it_changes(make_app, isolated_home):
    """The model folder's config.json is rewritten as its classifier's and the model loaded again (its id, the
    folder, unchanged): the tab drops the causal LM's ladder and shows the classifier's, and back."""
    folder = isolated_home / "reward-model"
    root = isolated_home / "state" / "lorplan" / "runs"  # conftest's XDG_STATE_HOME
    causal = load_spec(str(save_tiny_llama(folder, CAUSAL)))
    write_ladder(root, "20261207-100000-aaaa", causal, knee=8)
    classifier = load_spec(str(save_tiny_llama(folder, CLASSIFIER)))
    write_ladder(root, "20261207-110000-bbbb", classifier, knee=16)  # newer: what the causal LM's plan was shown
    save_tiny_llama(folder, CAUSAL)
    app = make_app(model=str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        assert (app.main.plan.spec.id, app.main.plan.spec.task) == (causal.id, CAUSAL)
        await pilot.press("f8")
        panel = app.screen.query_one(RecommendPanel)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
        assert (panel.ladder.run_id, panel.shown.task, panel.shown.rank) == ("20261207-100000-aaaa", CAUSAL, 8)
        for task, run_id, rank in ((CLASSIFIER, "20261207-110000-bbbb", 16), (CAUSAL, "20261207-100000-aaaa", 8)):
            save_tiny_llama(folder, task)
            await pilot.press("f5")
            await paste_into(pilot, "#model-input", str(folder), submit=True)
            await wait_until(pilot, lambda task=task: app.main.plan.spec.task == task)
            assert app.main.plan.spec.id == causal.id
            await pilot.press("f8")
            await wait_until(pilot, lambda run_id=run_id: panel.ladder is not None and panel.ladder.run_id == run_id)
            assert (panel.shown.task, panel.shown.rank) == (task, rank)
        # a ladder started on this tab is followed whatever its task (here the classifier's, its start ended after
        # the model was loaded again as the causal LM), but a does not apply it to the causal LM's plan
        panel.post_message(LadderActionFinished("started", run_id="20261207-110000-bbbb"))
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None
                         and panel.ladder.run_id == "20261207-110000-bbbb")
        before = app.main.plan
        panel.focus()
        await pilot.press("a")
        await pilot.pause()
        assert app.main.plan is before and app.main.plan.spec.task == CAUSAL
        assert any(f"as a {CLASSIFIER} model; the plan on screen trains it as a {CAUSAL} model" in n.message
                   for n in app._notifications)
