"""A probe of 1 step under a warmup trains nothing: the schedule's first step is the warmup's, at a learning rate of
0 (train.optim), so the probe ends where the base model began and every rank reports the base loss.
`lorplan recommend --probe-steps 1` (a planned training longer than 1 step), the planner's steps field (through
recommend_bridge.start_ladder) and `lorplan probe start --steps 1` still started such probes. Each is now refused
in one line naming its input and saying "give 2 or more", by the one rule (recommend.launch.shortest_training_probe);
2 steps are taken. The ladders are built for real; _run_ladder is replaced where a ladder would start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend
from lorplan.core.errors import BadInput
from lorplan.probe.runs import RunDir
from lorplan.recommend.launch import shortest_training_probe


def started_ladders(monkeypatch) -> list:
    built = []

    def keep(args, ladder, **kw):
        built.append(ladder)
        return 0

    monkeypatch.setattr(cli_recommend, "_run_ladder", keep)
    return built


def test_recommend_refuses_one_step_probes_and_takes_two(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    built = started_ladders(monkeypatch)
    # 150 rows, 1 epoch at micro-batch 1: a planned training of 135 steps, longer than 1
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probe-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("lorplan recommend: error: --probe-steps: a probe of 1 step trains nothing: "), err
    assert "learning rate of 0" in err and err.endswith("give 2 or more"), err
    assert built == [] and not any(state_home.glob("*/ladder.json"))

    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probe-steps", "2"]) == 0
    (ladder,) = built
    assert ladder.spec.probe_steps == 2 and ladder.plan.steps == 2
    # the probes' plan warms up: the rule that refused 1 step reads the plan they train
    from lorplan.probe.plans import base_plan

    assert shortest_training_probe(base_plan(ladder.plan)) == 2


def test_the_planners_ladder_refuses_one_step_probes(planner_ladder_inputs, state_home):
    from lorplan.tui import recommend_bridge

    snapshot, data = planner_ladder_inputs
    runs = state_home  # a ladder started by mistake is reaped by the fixture
    with pytest.raises(BadInput) as refused:
        recommend_bridge.start_ladder(snapshot, data, runs_dir=runs, probe_steps=1)
    said = str(refused.value)
    assert said.startswith("Steps per probe: a probe of 1 step trains nothing: ") and said.endswith("give 2 or more"), said
    assert "\n" not in said and "--" not in said, said  # the planner's field, no flag of a command
    assert not runs.exists() or not any(runs.iterdir())


def test_probe_start_refuses_one_step_and_starts_two(state_home, capsys):
    assert main(["probe", "start", "--ranks", "4", "--steps", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("lorplan probe start: error: --steps: a probe of 1 step trains nothing: "), err
    assert "learning rate of 0" in err and err.endswith("give 2 or more"), err
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []  # no run was created

    assert main(["probe", "start", "--ranks", "4", "--steps", "2", "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    try:
        assert RunDir(Path(started["path"])).plan().steps == 2
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
