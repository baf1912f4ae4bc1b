"""recommend.launch.planned_run_steps counts a planned training's optimizer steps as training examples × epochs
over the effective batch. With `packing = true` lorplan's engine trains packed blocks of seq_len tokens instead
(lorplan.train.data.tokenize), so that count would be wrong for a packed plan. No packed plan reaches it: lorplan
recommend builds its plan with core.plan.plan_from_setup (packing false) and has no --packing flag and no plan
file, and the planner's Recommend tab builds its ladder's plan the same way from its snapshot (which has no
packing). These tests pin that on every way in (the CLI's written plan and its ladder, the planner's ladder), and
that planned_run_steps refuses a packed plan rather than miscount it."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend
from lorplan.core.data import profile_dataset
from lorplan.core.plan import read_plan
from lorplan.probe.plans import base_plan
from lorplan.recommend.launch import effective_batch, planned_run_steps


def test_recommend_has_no_packing_flag():
    import argparse

    parser = argparse.ArgumentParser()
    cli_recommend.register(parser.add_subparsers())
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    flags = {o for a in sub.choices["recommend"]._actions for o in a.option_strings}
    assert "--data" in flags and not any("pack" in f for f in flags), sorted(flags)


def test_the_written_plan_and_the_ladders_plan_do_not_pack(tiny_llama, lm_data, tmp_path, state_home,
                                                           monkeypatch, capsys):
    target = tmp_path / "plan.toml"
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probes", "none",
                 "--write", str(target), "--json"]) == 0
    written = read_plan(target)
    assert written.training.packing is False

    built = []
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: built.append(ladder) or 0)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "2",
                 "--targets", "q_proj,v_proj"]) == 0, capsys.readouterr().err
    (ladder,) = built
    probes = base_plan(ladder.plan)
    assert probes.training.packing is False and ladder.plan.grouping == "length"
    # the planned steps the ladder measures against: examples per step, as the engine trains an unpacked plan
    profile = profile_dataset(str(lm_data), model=str(tiny_llama), mask=True)
    assert profile.split.train == 130  # 20 of 150 held out
    assert ladder.spec.planned_steps == planned_run_steps(probes, profile, 2.0) == math.ceil(130 * 2 / 1)


def test_the_planners_ladder_plan_does_not_pack(planner_ladder_inputs, state_home):
    from lorplan.tui import bridge, recommend_bridge

    snapshot, data = planner_ladder_inputs
    assert bridge.profiled_plan(snapshot, data).training.packing is False
    assert recommend_bridge.probe_steps(snapshot, data, None) == (100, 130)


def test_planned_run_steps_refuses_a_packed_plan(tiny_llama, lm_data, tmp_path, state_home, capsys):
    target = tmp_path / "plan.toml"
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probes", "none",
                 "--write", str(target), "--json"]) == 0
    plan = read_plan(target)
    profile = profile_dataset(str(lm_data), model=str(tiny_llama), mask=True)
    assert planned_run_steps(plan, profile, 1.0) == math.ceil(profile.split.train / effective_batch(plan))
    packed = replace(plan, training=replace(plan.training, packing=True))
    with pytest.raises(ValueError, match="packing"):
        planned_run_steps(packed, profile, 1.0)
