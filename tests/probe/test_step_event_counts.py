"""A probe's step events say `epoch` and `tokens` as `lorplan train`'s log.jsonl does: the epochs done
(transformers' Trainer's float epoch: micro-batches done / an epoch's, rounded down to 4 decimals) and the input
tokens the probe trained on so far. The worker used to send the 0-based pass the step came from (0 for a whole
first epoch) and that one step's tokens, where the same words in log.jsonl mean the run's counts. Events written
before (the old meanings) still read: nothing reads either field but the per-step rate beside them."""

from __future__ import annotations

import json
import math

import pytest

from lorplan.probe import runner
from lorplan.probe.events import append_event, read_events
from lorplan.probe.runs import create_run
from lorplan.probe.status import Curves
from lorplan.probe.worker import run_worker
from lorplan.train.data import micro_batches_per_epoch


@pytest.mark.slow
def test_step_events_say_epochs_done_and_tokens_so_far(state_home, tiny_llama, tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"item {i} has", "completion": f" colour {'ab'[i % 2] * (i % 5 + 1)}"})
                            + "\n" for i in range(12)))
    steps = 5
    plan = runner.make_plan((4,), (1e-2,), model=str(tiny_llama), data=str(data), steps=steps, micro_batch=4,
                            eval_every=steps, eval_examples=8, seq_len=32, device="cpu")
    run = create_run(plan, state_home)
    r = run_worker(run.path, "r4", "cpu")
    assert r["state"] == "finished", r["traceback"]
    events = [e for e in read_events(run.events_path("r4")) if e["type"] == "step"]
    assert [e["step"] for e in events] == list(range(1, steps + 1))
    per_epoch = micro_batches_per_epoch(r["train_examples"], r["micro_batch"])
    assert per_epoch < steps  # the run passes over its data more than once, so epochs done pass 1
    assert [e["epoch"] for e in events] == [math.floor(n * 10**4 / per_epoch) / 10**4 for n in range(1, steps + 1)]
    tokens = [e["tokens"] for e in events]
    assert all(b > a > 0 for a, b in zip(tokens, tokens[1:], strict=False))  # counted on, step by step
    assert tokens[-1] == r["tokens"]  # the run's input tokens, as result.json says them
    # the rate is still the step's own: its tokens (the difference) over its seconds
    steps_tokens = [tokens[0]] + [b - a for a, b in zip(tokens, tokens[1:], strict=False)]
    for e, n in zip(events, steps_tokens, strict=True):
        assert e["tokens_per_second"] == pytest.approx(n / e["seconds"], rel=0.05)


def test_events_written_with_the_old_meanings_read_as_before(tmp_path):
    """An events file from before (0-based pass, per-step tokens) and one written now give the same curves."""
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    for step in (1, 2, 3):
        common = {"type": "step", "step": step, "loss": 1.0 / step, "lr": 1e-3, "tokens_per_second": 100.0,
                  "seconds": 0.5, "t": 10.0 + step}
        append_event(old, {**common, "tokens": 50, "epoch": (step - 1) // 2})
        append_event(new, {**common, "tokens": 50 * step, "epoch": step / 2})
    curves = []
    for path in (old, new):
        c = Curves()
        for ev in read_events(path):
            c.add(ev)
        curves.append(c)
    assert curves[0] == curves[1]
    assert curves[0].steps == [1, 2, 3] and curves[0].train_seconds == 1.5 and not curves[0].problems
