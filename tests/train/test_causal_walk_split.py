"""A causal LM walked through the CLI as the README tells a user: `lorplan plan --write --data` says how many
examples it holds out, and `lorplan train` of that plan must hold out as many (a tiny Llama from a config)."""

from __future__ import annotations

import json
import re

import pytest

from lorplan.cli import main
from lorplan.core.data.stats import suggest_split
from lorplan.core.plan import read_plan
from lorplan.core.plan.build import held_out_fraction
from lorplan.train.data import split

from .conftest import write_jsonl


def test_written_eval_split_holds_out_what_plan_said(tiny_llama, tmp_path, capsys, monkeypatch):
    # 60 rows: the 20-example floor holds out 1/3, which a 4-decimal 0.3333 turned into 19 in lorplan train
    monkeypatch.chdir(tmp_path)
    data = write_jsonl(tmp_path / "qa.jsonl", n=60)
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(tiny_llama), "--rank", "2", "--seq-len", "32", "--data", str(data),
                 "--write", str(plan_path)]) == 0
    said = capsys.readouterr().out
    assert "20 of 60 held out" in said
    written = float(re.search(r"eval_split ([0-9.]+)", said).group(1))
    assert read_plan(plan_path).data.eval_split == written
    assert main(["train", str(plan_path), "--max-steps", "1", "--no-progress", "--output",
                 str(tmp_path / "out")]) == 0
    assert "trained on 1 of an epoch's 40 sequences (1 step, 0.025 epoch)" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "result.json").read_text())["train_examples"] == 40


@pytest.mark.parametrize("examples", [52, 60, 77, 150, 199, 9_999, 30_000, 123_457])
def test_held_out_fraction_reproduces_the_profile_split(examples):
    held = suggest_split(examples).eval
    fraction = held_out_fraction(held, examples)
    train, evals = split(list(range(examples)), fraction, seed=0)
    assert (len(train), len(evals)) == (examples - held, held)
    assert len(repr(fraction)) <= 8  # still a short decimal in the plan


def test_held_out_fraction_keeps_round_values():
    assert held_out_fraction(20, 200) == 0.1
    assert held_out_fraction(0, 40) == 0.0


@pytest.mark.parametrize(("held", "examples"), [(29, 50), (29, 100), (57, 100), (63, 180), (29, 200)])
def test_held_out_fraction_survives_the_float_product(held, examples):
    # 100 × 0.29 is 28.999999999999996: the rounded fraction held out 28; the next 4-decimal value up holds out 29
    fraction = held_out_fraction(held, examples)
    assert len(split(list(range(examples)), fraction, seed=0)[1]) == held
    assert len(repr(fraction)) <= 8


def test_held_out_fraction_holds_out_every_count():
    # every count below every size up to 400: what the plan writes, lorplan train holds out
    assert all(int(n * held_out_fraction(k, n)) == k for n in range(2, 401) for k in range(1, n))
