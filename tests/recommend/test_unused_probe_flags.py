"""The probe ladder's flags on an answer no probe runs for, which only the profile tells (a dataset too small
to measure, a model whose weights are not here): `--budget-minutes 1` was accepted without a word. Now one note
names the flags given and why they are not used; the answer (the prior's) is the same."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


def _rows(path, n):
    path.write_text("".join(json.dumps({"prompt": f"What is {i} plus {i}?", "completion": f" {2 * i}."}) + "\n"
                            for i in range(n)))
    return str(path)


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if "not used" in line]


@pytest.mark.parametrize(("flags", "said"), [
    (["--budget-minutes", "1"], "note: --budget-minutes 1 is not used"),
    (["--probes", "auto", "--budget-minutes", "1.5", "--seeds", "2", "--probe-steps", "20"],
     "note: --probes auto, --budget-minutes 1.5, --seeds 2 and --probe-steps 20 are not used"),
])
def test_a_dataset_too_small_to_probe_says_the_flags_are_not_used(flags, said, tiny_llama, tmp_path, state_home,
                                                                   capsys):
    data = _rows(tmp_path / "tiny.jsonl", 3)
    assert main(["recommend", "--model", str(tiny_llama), "--data", data, "--json", *flags]) == 0
    cap = capsys.readouterr()
    assert _notes(cap.err) == [f"{said}: no probe runs, since 3 examples are too few to measure (see data)"], cap.err
    assert json.loads(cap.out)["ladder"] == [] and not any(state_home.glob("*/ladder.json"))
    assert main(["recommend", "--model", str(tiny_llama), "--data", data, "--json"]) == 0
    assert _notes(capsys.readouterr().err) == []  # no flag, no note


def test_a_model_not_on_disk_says_the_budget_is_not_used(tmp_path, capsys):
    data = _rows(tmp_path / "sums.jsonl", 200)
    assert main(["recommend", "--model", QWEN, "--data", data, "--budget-minutes", "5", "--json"]) == 0
    cap = capsys.readouterr()
    assert _notes(cap.err) == ["note: --budget-minutes 5 is not used: no probe runs, since the model's weights are "
                               "not on this machine (see probes)"], cap.err
    assert json.loads(cap.out)["ladder"] == []


def test_a_model_too_large_for_the_hardware_says_the_seeds_are_not_used(tiny_llama, lm_data, state_home,
                                                                       monkeypatch, capsys):
    """The hardware's blocker (more than 1B parameters and no GPU) stood in for: the tiny model is probed on any
    machine, and a real 1B model's weights are not in the test data."""
    from lorplan.recommend import launch

    monkeypatch.setattr(launch, "probe_blocker", lambda spec, source: launch.Blocker("too large here", False))
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--seeds", "3", "--json"]) == 0
    cap = capsys.readouterr()
    assert _notes(cap.err) == ["note: --seeds 3 is not used: no probe runs, since the model is too large to probe "
                               "here (see probes)"], cap.err
    assert not any(state_home.glob("*/ladder.json"))


@pytest.mark.parametrize(("flags", "said"), [
    (["--budget-minutes", "5"], "note: --budget-minutes 5 is not used"),
    (["--probes", "auto", "--budget-minutes", "2.5", "--seeds", "2", "--probe-steps", "2"],
     "note: --probes auto, --budget-minutes 2.5, --seeds 2 and --probe-steps 2 are not used"),
])
def test_a_one_step_plan_says_the_ladders_flags_are_not_used(flags, said, tiny_llama, lm_data, state_home, capsys):
    """A planned training of 1 step (--epochs 0.001 of 130 training examples) gets no ladder
    (recommend.launch.shortest_training_probe): the ladder's flags went unused without the note the other
    refusals print. (--probe-steps 1 was listed here too; it is now refused before the data is profiled, since
    no plan recommend builds trains with 1-step probes: tests/recommend/test_refused_before_the_profile.py.)"""
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.001", "--json",
                 *flags]) == 0
    cap = capsys.readouterr()
    assert _notes(cap.err) == [f"{said}: no probe runs, since the planned training is 1 step, too short to probe "
                               "(see probes)"], cap.err
    assert json.loads(cap.out)["ladder"] == [] and not any(state_home.glob("*/ladder.json"))
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.001", "--json"]) == 0
    assert _notes(capsys.readouterr().err) == []  # no flag, no note
