"""`lorplan recommend --data FILE --epochs 0.001` planned a 1-step training, and the ladder then trained 1-step
probes (probes train no longer than the planned run), which cannot move (their one step is the warmup's, at rate
0): after spending the probe time it concluded "no rank improved ... no reason for more than rank 1". Such a plan
now gets no ladder: the capacity prior, saying why and the --epochs that plans enough steps. Probes of 2 to 7
steps do train, and the ladder compares them at their end (LadderRow.knee_loss): those plans keep their ladder
(8c19fa5 refused them, saying "the probe ladder needs probes of at least 8 steps to compare ranks", which only
successive halving's early stops need). The ladder is built for real; its _run_ladder is replaced, so no probe
process runs."""

from __future__ import annotations

import json
import re

import pytest

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend
from lorplan.recommend import launch
from lorplan.recommend.ladder import planned_steps


def started_ladders(monkeypatch) -> list:
    built = []

    def keep(args, ladder, **kw):
        built.append(ladder)
        return 0

    monkeypatch.setattr(cli_recommend, "_run_ladder", keep)
    return built


def blocked_ladders(monkeypatch) -> list:
    """What data_ladder returned without a ladder (the planner shows its `blocked` as 'No probe ladder: ...')."""
    seen = []
    real = launch.data_ladder

    def spy(*a, **kw):
        ladder = real(*a, **kw)
        if ladder.spec is None:
            seen.append(ladder)
        return ladder

    monkeypatch.setattr(launch, "data_ladder", spy)
    return seen


def probes_words(capsys) -> str:
    out = json.loads(capsys.readouterr().out)
    assert out["ladder"] == [], out["ladder"]
    return next(e["explanation"] for e in out["evidence"] if e["source"] == "probes")


def test_a_one_step_plan_gets_the_prior_saying_why(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    built, blocked = started_ladders(monkeypatch), blocked_ladders(monkeypatch)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.001",
                 "--json"]) == 0
    assert built == [] and not any(state_home.glob("*/ladder.json"))  # no probe ran, none was planned
    probes = probes_words(capsys)
    assert probes.startswith("no probes were run: the planned training is 1 step ("), probes
    assert "at a learning rate of 0" in probes and "8 steps" not in probes, probes
    # the planner's line names no flag of this command (its ladder's epochs are fixed): the remedy is the CLI's
    (ladder,) = blocked
    assert "--" not in ladder.blocked and ladder.remedy.startswith("--epochs "), ladder

    # the --epochs it names plans a training the ladder runs on (the same data and batch)
    epochs = re.search(r"--epochs ([0-9.e-]+) plans (\d+) steps", probes)
    assert epochs is not None and int(epochs.group(2)) >= 2, probes
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", epochs.group(1),
                 "--json"]) == 0
    (ladder,) = built
    assert ladder.spec.planned_steps == int(epochs.group(2)) and ladder.spec.probe_steps >= 2


@pytest.mark.parametrize("epochs,steps", [("0.01", 2), ("0.05", 7)])
def test_a_short_plan_of_two_steps_or_more_keeps_its_ladder(tiny_llama, lm_data, state_home, monkeypatch,
                                                             epochs, steps):
    # 135 training examples at micro-batch 1: probes as long as the planned run, compared at their end
    built = started_ladders(monkeypatch)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", epochs,
                 "--json"]) == 0
    (ladder,) = built
    assert (ladder.spec.planned_steps, ladder.spec.probe_steps) == (steps, steps)


@pytest.mark.parametrize("batch", [None, "4"])
def test_a_classifier_is_told_the_epochs_for_its_batch(tiny_bert, cls_data, state_home, monkeypatch, capsys,
                                                       batch):
    # 144 training rows at micro-batch 16 (the classifier's default) or 4; 0.005 epochs plans 1 step
    more = ["--micro-batch", batch] if batch else []
    built = started_ladders(monkeypatch)
    assert main(["recommend", "--model", str(tiny_bert), "--data", str(cls_data), "--epochs", "0.005", *more,
                 "--json"]) == 0
    probes = probes_words(capsys)
    per_step = int(batch or 16)
    assert f"× 0.005 epochs, {per_step} per step)" in probes and "(or a smaller --micro-batch)" in probes, probes
    epochs = re.search(r"--epochs ([0-9.e-]+) plans (\d+) steps", probes)
    assert epochs is not None, probes
    assert main(["recommend", "--model", str(tiny_bert), "--data", str(cls_data), "--epochs", epochs.group(1),
                 *more, "--json"]) == 0
    (ladder,) = built
    assert ladder.spec.planned_steps == int(epochs.group(2)) >= 2


def test_the_epochs_named_plan_what_they_say_as_typed():
    for examples in (1, 2, 3, 7, 57, 64, 100, 135, 144, 999, 1000, 12_345, 10**6, 3 * 10**9):
        for batch in (1, 2, 3, 16, 64, 100, 1000):
            for steps in (2, 8):
                found = launch.epochs_for_steps(steps, examples, batch)
                if found is None:
                    assert steps * batch / examples > 10**4, (steps, examples, batch)
                    continue
                text, planned = found
                assert "e+" not in text and planned == planned_steps(examples, float(text), batch) >= steps, (
                    text, planned, steps, examples, batch)
                assert float(text) <= 1.1 * steps * batch / examples + 1e-12, (text, steps, examples, batch)


def test_the_readme_states_the_rule():
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert "a planned training of 1 step (its warmup's, at a learning rate of 0" in readme
    assert "probes of 2 steps or more are compared at their end" in readme
