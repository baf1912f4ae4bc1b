"""`lorplan recommend --data FILE --epochs 0.001` planned a 1-step training, and the ladder then trained 1-step
probes (probes train no longer than the planned run), which cannot move (their one step is the warmup's, at rate
0): after spending the probe time it concluded "no rank improved ... no reason for more than rank 1". A planned
training shorter than the ladder's shortest judged probe (recommend.launch.shortest_judged_probe: successive
halving's first rung) now gets no ladder: the capacity prior, saying why and the --epochs that plans enough steps.
The ladder is built for real; its _run_ladder is replaced, so no probe process runs."""

from __future__ import annotations

import json
import re

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend
from lorplan.recommend.launch import shortest_judged_probe


def started_ladders(monkeypatch) -> list:
    built = []

    def keep(args, ladder, **kw):
        built.append(ladder)
        return 0

    monkeypatch.setattr(cli_recommend, "_run_ladder", keep)
    return built


def test_a_one_step_plan_gets_the_prior_saying_why(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    built = started_ladders(monkeypatch)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.001",
                 "--json"]) == 0
    assert built == [] and not any(state_home.glob("*/ladder.json"))  # no probe ran, none was planned
    out = json.loads(capsys.readouterr().out)
    probes = next(e["explanation"] for e in out["evidence"] if e["source"] == "probes")
    shortest = shortest_judged_probe()
    assert probes.startswith("no probes were run: the planned training is 1 step ("), probes
    assert f"needs probes of at least {shortest} steps to compare ranks" in probes, probes
    assert out["ladder"] == [], out["ladder"]

    # the --epochs it names plans a training the ladder runs on (the same data and batch)
    epochs = re.search(r"--epochs ([0-9.e-]+) plans (\d+) steps", probes)
    assert epochs is not None and int(epochs.group(2)) >= shortest, probes
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", epochs.group(1),
                 "--json"]) == 0
    (ladder,) = built
    assert ladder.spec.planned_steps == int(epochs.group(2)) and ladder.spec.probe_steps >= shortest


def test_the_text_says_capacity_prior_only(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    built = started_ladders(monkeypatch)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.001"]) == 0
    out = capsys.readouterr().out
    assert built == [] and "(capacity prior only)" in out and "the planned training is 1 step" in out, out


def test_the_readme_states_the_ladders_own_minimum():
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert f"shorter than the {shortest_judged_probe()} steps the ladder's shortest probe needs" in readme
