"""The real worker (transformers + peft training on CPU), run in this process for speed."""

from __future__ import annotations

import json

import pytest

from lorplan.probe import runner
from lorplan.probe.events import read_events
from lorplan.probe.runs import create_run
from lorplan.probe.worker import run_worker

pytestmark = pytest.mark.slow

RESULT_FIELDS = {
    "probe", "rank", "lr", "state", "step", "steps", "loss", "eval_loss", "eval_accuracy", "tokens",
    "tokens_per_second", "peak_memory_bytes", "memory", "wall_seconds", "train_seconds", "trainable_params",
    "total_params", "micro_batch", "message", "traceback", "task", "model", "device", "eval_digest",
    "train_examples", "eval_examples", "load_seconds", "peak_allocated_bytes", "peak_reserved_bytes",
    "peak_active_bytes", "alpha", "trained_tokens",
}


def _check_log(events, steps, eval_every):
    kinds = [e["type"] for e in events]
    assert kinds[0] == "loading" and kinds[1] == "started" and kinds[-1] == "finished"
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, steps + 1))
    evals = [e for e in events if e["type"] == "eval"]
    assert [e["step"] for e in evals] == list(range(eval_every, steps + 1, eval_every))
    # each eval comes right after the step it measured
    for e in evals:
        i = events.index(e)
        assert events[i - 1]["type"] == "step" and events[i - 1]["step"] == e["step"]
    losses = [e["loss"] for e in events if e["type"] == "step"]
    steps_ = [e for e in events if e["type"] == "step"]
    assert all(e["tokens_per_second"] > 0 for e in steps_)
    # transformers' warmup starts at lr 0 (Trainer's schedule, as `lorplan train` runs it), then rises
    assert all(e["lr"] > 0 for e in steps_[1:]) and steps_[0]["lr"] < steps_[1]["lr"]
    return losses, evals


def _sentiment_file(path):
    """A plain labelled JSONL file (string labels), as a user would bring."""
    good = ["wonderful", "excellent", "lovely", "great", "superb", "pleasant"]
    bad = ["terrible", "awful", "boring", "horrible", "dull", "rude"]
    things = ["the film", "the hotel", "the meal", "the book", "the staff", "the trip", "the show", "the room"]
    rows = []
    for i in range(240):
        positive = i % 2 == 0
        adj = (good if positive else bad)[(i // 2) % 6]
        rows.append({"text": f"{things[(i // 12) % 8].capitalize()} was {adj}.",
                     "label": "positive" if positive else "negative"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_minilm_classification_ranks_4_and_16(state_home, tmp_path):
    steps, every = 30, 10
    data = _sentiment_file(tmp_path / "sentiment.jsonl")
    plan = runner.make_plan((4, 16), (2e-3,), data=str(data), steps=steps, micro_batch=8, eval_every=every,
                            eval_examples=32, device="cpu")
    run = create_run(plan, state_home)
    results = {}
    for probe in plan.probes:
        results[probe.id] = run_worker(run.path, probe.id, "cpu")
        losses, evals = _check_log(read_events(run.events_path(probe.id)), steps, every)
        first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
        assert last < first - 0.1, (probe.id, losses)
        assert all(0.0 <= e["eval_accuracy"] <= 1.0 for e in evals)
    r4, r16 = results["r4"], results["r16"]
    for r in (r4, r16):
        assert RESULT_FIELDS <= set(r), RESULT_FIELDS - set(r)
        assert r["state"] == "finished" and r["step"] == steps and r["task"] == "sequence-classification"
        assert r["peak_memory_bytes"] > 50 * 2**20 and r["memory"]["peak_rss_bytes"] == r["peak_memory_bytes"]
        assert r["wall_seconds"] > r["train_seconds"] > 0 and r["tokens"] > 0
        assert r["eval_loss"] < 0.69 and r["eval_accuracy"] >= 0.6  # learned something beyond chance
        assert json.loads(run.result_path(r["probe"]).read_text()) == r
    # LoRA on query/key/value/dense (+ the classifier head): 4 times the adapter parameters at rank 16
    head = 2 * 384 + 2
    assert (r16["trainable_params"] - head) == 4 * (r4["trainable_params"] - head)
    assert r4["eval_digest"] == r16["eval_digest"]  # the same held-out split


def test_tiny_llama_causal_lm_masks_the_prompt(state_home, tiny_llama, tmp_path):
    colours = ["red", "blue", "green", "yellow"]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"item {i} has colour", "completion": " " + colours[i % 4]}) + "\n"
                            for i in range(120)))
    steps, every = 30, 10
    plan = runner.make_plan((8,), (1e-2,), model=str(tiny_llama), data=str(data), steps=steps, micro_batch=8,
                            eval_every=every, eval_examples=16, seq_len=64, device="cpu")
    run = create_run(plan, state_home)
    r = run_worker(run.path, "r8", "cpu")
    assert r["state"] == "finished", r["traceback"]
    losses, evals = _check_log(read_events(run.events_path("r8")), steps, every)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.1, losses
    assert r["task"] == "causal-lm" and r["eval_accuracy"] is None and evals[-1]["eval_loss"] == pytest.approx(r["eval_loss"], abs=1e-5)
    assert RESULT_FIELDS <= set(r)


def test_packing_run_uses_full_blocks(state_home, tiny_llama, tmp_path):
    data = tmp_path / "text.jsonl"
    data.write_text("".join(json.dumps({"text": f"sentence number {i} is here"}) + "\n" for i in range(200)))
    plan = runner.make_plan((4,), (1e-2,), model=str(tiny_llama), data=str(data), steps=4, micro_batch=2,
                            eval_every=4, eval_examples=8, seq_len=32, device="cpu", grouping="packing")
    run = create_run(plan, state_home)
    r = run_worker(run.path, "r4", "cpu")
    assert r["state"] == "finished", r["traceback"]
    steps = [e for e in read_events(run.events_path("r4")) if e["type"] == "step"]
    # every micro-batch is 2 full blocks, no padding (`tokens`: the probe's so far, as in lorplan train's log)
    assert [e["tokens"] for e in steps] == [2 * 32 * e["step"] for e in steps]
    assert r["trained_tokens"] == 32 * r["train_examples"]  # text rows: every token of every block trained
