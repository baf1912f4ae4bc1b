"""The planner on a sequence classifier whose head has one output (a regression or score head: a cross-encoder's
"num_labels": 1). lorplan trains class labels, so the exported plan writes and prices a new 2-class head
(core.model.head.trained_labels); the planner read the config's 1 through bridge.num_labels and priced the model
as it was: its table and the Recommend tab's fit were of the 1-output head, 33 trainable parameters fewer than the
plan it exported, and a Data tab profile without labels made the Recommend tab say "--num-labels: 1 must be at
least 2", a flag the planner has not. The plan's summary says the note `lorplan plan --write` says of the new head
(it said nothing). One config folder, no download, no probe."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Static
from tui_helpers import paste_into, wait_until

from lorplan.core.lora import trainable_params
from lorplan.core.memory import estimate
from lorplan.core.model import load_spec
from lorplan.core.model.head import with_labels
from lorplan.tui import bridge, recommend_bridge
from lorplan.tui.panels.recommend_panel import RecommendPanel
from lorplan.tui.screens.export_dialog import ExportDialog

pytestmark = pytest.mark.anyio

BERT = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "max_position_embeddings": 128, "type_vocab_size": 2, "num_labels": 1}


def _folder(tmp_path):
    folder = tmp_path / "cross-encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BERT))
    return folder


NOTE = ("Model {model}: its classifier head has 1 output, a regression or score head (a cross-encoder's, say); "
        "lorplan trains class labels, no regression, so the plan prices and trains a new {n}-class head {why}")


def test_the_head_note_in_the_planners_words(tmp_path):
    """`lorplan plan --write`'s note, with the Data tab's labels when its profile has them."""
    from lorplan.core.data import profile_dataset
    from lorplan.tui.state import PlanData

    folder = _folder(tmp_path)
    spec = bridge.load_spec(str(folder))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i} passage", "label": i % 3}) + "\n" for i in range(30)))
    labelled = PlanData(str(data), "text-label", "", 0.0, profile_dataset(data, model=str(folder)))
    assert bridge.head_note(spec, bridge.data_spec(spec, labelled), "./ce", labelled) == NOTE.format(
        model="./ce", n=3, why=f"for Dataset {data}'s labels in its place")
    minilm = bridge.load_spec("sentence-transformers/all-MiniLM-L6-v2")
    assert bridge.head_note(minilm, minilm, "sentence-transformers/all-MiniLM-L6-v2", None) is None


def test_the_bridge_gives_the_head_a_plan_trains(tmp_path):
    spec = bridge.load_spec(str(_folder(tmp_path)))
    assert bridge.num_labels(spec) == 2
    two = bridge.data_spec(spec, None)
    assert two.total_params == with_labels(spec, 2).total_params == spec.total_params + 33  # 32 weights, 1 bias
    minilm = bridge.load_spec("sentence-transformers/all-MiniLM-L6-v2")  # a class head is priced as it is
    assert bridge.data_spec(minilm, None) is minilm and bridge.num_labels(minilm) == 2


async def test_table_export_and_recommend_tab_price_the_new_2_class_head(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _folder(tmp_path)
    data = tmp_path / "unlabelled.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i} passage"}) + "\n" for i in range(40)))
    two = with_labels(load_spec(str(folder)), 2)
    app = make_app(model=str(folder))
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        plan = app.main.plan
        (row,) = [r for r in plan.table.rows if r.rank == plan.rank]
        assert row.trainable_params == trainable_params(two, plan.setup.targets, plan.rank)
        # the note `lorplan plan --write` says, under the table (the planner said nothing of the head)
        note = "note: " + NOTE.format(model=folder, n=2, why="in its place (Dataset gives it as many classes as "
                                      "its labels need)")
        summary = app.main.query_one("#plan-summary", Static)
        assert note in str(summary.render()).splitlines()
        assert row.memory.total == estimate(two, plan.setup, plan.rank).total
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        exported = app.screen.plan
        assert exported.model.num_labels == 2
        assert (exported.estimate.trainable_params, exported.estimate.total_bytes) == (row.trainable_params,
                                                                                        row.memory.total)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        await paste_into(pilot, "#rec-size", "1000")
        await wait_until(pilot, lambda: panel.shown is not None)
        setup = recommend_bridge._one_rank(plan.setup)
        assert panel.shown.fits.total_bytes == estimate(two, setup, panel.shown.rank).total
        # a profile without labels: the prior counts the 2 classes of the head the plan trains
        await pilot.press("f6")
        await paste_into(pilot, "#data-path", str(data), submit=True)
        await wait_until(pilot, lambda: app.main.data is not None, timeout=60)
        assert recommend_bridge.data_size(app.main.plan, app.main.data).num_labels == 2
        assert note in str(summary.render()).splitlines()  # no labels: still the new 2-class head
        await pilot.press("f8")
        await pilot.pause()
        head = str(app.screen.query_one("#rec-head", Static).render())
        assert "--num-labels" not in head, head
