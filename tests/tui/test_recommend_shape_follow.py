"""The Recommend tab follows only a ladder of the plan's own model shape. A model folder read again after its
config.json gave other sizes keeps its id (the path), its task and its data file: the tab kept following, and `a`
applied, the ladder of the model as it was, whose rank, alpha and learning rate were measured on adapters of other
sizes. The shape is judged by what a ladder's recommendation.json records of the model it measured: its capacity's
LoRA parameters per rank and smallest adapted dimension, under its target modules. The files are written with
lorplan's own writers (Recommendation.to_json, atomic_write_json) into run folders made by create_run; no probe
process runs."""

from __future__ import annotations

import pytest
from tui_helpers import open_ladder, paste_into, save_tiny_llama, wait_until, write_ladder

from lorplan.core.lora import LoraTargets
from lorplan.core.model import load_spec
from lorplan.core.vocab import Task
from lorplan.tui.messages import LadderActionFinished
from lorplan.tui.recommend_bridge import LadderFeed, adapter_shape

pytestmark = pytest.mark.anyio

CAUSAL = Task.CAUSAL_LM.value
NARROW, WIDE = "20261207-100000-aaaa", "20261207-110000-bbbb"  # hidden size 32, then (newer) 64


def test_the_newest_ladder_of_the_plans_shape_is_picked(tmp_path):
    """Two ladders of one model folder on one data file, measured at hidden size 32 and (newer) 64: each shape
    gets its own, a third shape (3 layers) none; a ladder whose file records no shape (an older lorplan's) is
    picked as before, and so is one measured with other target modules (its sizes say nothing of the model's)."""
    folder, data, root = tmp_path / "model", tmp_path / "rows.jsonl", tmp_path / "runs"
    data.write_text('{"text": "a"}\n')
    save_tiny_llama(folder)
    narrow = load_spec(str(folder))
    save_tiny_llama(folder, hidden_size=64)
    wide = load_spec(str(folder))
    save_tiny_llama(folder, num_hidden_layers=3)
    deeper = load_spec(str(folder))
    assert narrow.id == wide.id == deeper.id and narrow.task == wide.task == CAUSAL
    shapes = {name: adapter_shape(spec, LoraTargets()) for name, spec in
              (("narrow", narrow), ("wide", wide), ("deeper", deeper))}
    assert len(set(shapes.values())) == 3
    write_ladder(root, NARROW, narrow, knee=8, data=data)
    write_ladder(root, WIDE, wide, knee=16, data=data)
    feed = LadderFeed(root)
    assert feed.read(None, narrow.id, str(data), CAUSAL).run_id == WIDE  # no shape asked: the newest, as before
    read = feed.read(None, narrow.id, str(data), CAUSAL, shape=shapes["narrow"])
    assert (read.run_id, read.recommendation.rank) == (NARROW, 8)  # was the newer WIDE, measured at 64
    read = feed.read(None, wide.id, str(data), CAUSAL, shape=shapes["wide"])
    assert (read.run_id, read.recommendation.rank) == (WIDE, 16)
    assert feed.read(None, deeper.id, str(data), CAUSAL, shape=shapes["deeper"]).run_id is None
    other_targets = adapter_shape(deeper, LoraTargets(modules=("q_proj", "v_proj")))
    assert feed.read(None, deeper.id, str(data), CAUSAL, shape=other_targets).run_id == WIDE
    write_ladder(root, "20261207-120000-cccc", wide, knee=4, data=data, capacity=False)
    assert feed.read(None, deeper.id, str(data), CAUSAL, shape=shapes["deeper"]).run_id == "20261207-120000-cccc"


async def test_the_tab_drops_the_followed_ladder_when_the_folder_gives_other_sizes(make_app, isolated_home):
    """The tab follows the hidden-size-32 ladder (not the newer one measured at 64); the folder's config.json
    rewritten with hidden size 64 and the model loaded again, the tab drops it with one line saying why and
    follows the ladder of 64; read at 3 layers, there is none, and the first ladder, followed again as if started on
    the tab, is dropped once its file is read."""
    folder = isolated_home / "model"
    root = isolated_home / "state" / "lorplan" / "runs"  # conftest's XDG_STATE_HOME
    save_tiny_llama(folder)
    write_ladder(root, NARROW, load_spec(str(folder)), knee=8)
    save_tiny_llama(folder, hidden_size=64)
    write_ladder(root, WIDE, load_spec(str(folder)), knee=16)  # the newest: the other shape's
    save_tiny_llama(folder)
    app = make_app(model=str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_ladder(pilot)
        assert (panel.ladder.run_id, panel.shown.rank) == (NARROW, 8)

        async def load(**sizes) -> None:
            before = app.main.plan.spec
            save_tiny_llama(folder, **sizes)
            await pilot.press("f5")
            await paste_into(pilot, "#model-input", str(folder), submit=True)
            await wait_until(pilot, lambda: app.main.plan.spec is not before)
            await pilot.press("f8")

        await load(hidden_size=64)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.run_id == WIDE
                         and panel.ladder.recommendation is not None)
        assert panel.shown.rank == 16
        notes = [n.message for n in app._notifications if f"probe ladder run {NARROW}" in n.message]
        assert len(notes) == 1 and "other sizes" in notes[0], notes
        await load(num_hidden_layers=3)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.run_id is None
                         and panel.follow is None)
        assert any(f"probe ladder run {WIDE}" in n.message for n in app._notifications)
        assert panel.ladder.recommendation is None and panel.shown is None  # no profile, no size: no prior either
        # a ladder started on this tab is followed until its recommendation says it measured another shape (its
        # start ended after the folder was read again): then it is dropped as well, saying so
        panel.post_message(LadderActionFinished("started", run_id=NARROW))
        await wait_until(pilot, lambda: sum(f"probe ladder run {NARROW}" in n.message
                                            for n in app._notifications) == 2 and panel.follow is None)
        assert panel.ladder is None or panel.ladder.recommendation is None
