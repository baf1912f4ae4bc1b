"""The demo evaluates on the documented 100 held-out examples (it held out 80: 10% of 800 sentences)."""

from __future__ import annotations

from lorplan.probe import runner
from lorplan.probe.demo import DEMO_EVAL_EXAMPLES, DEMO_STEPS
from lorplan.probe.worker import build_probe
from lorplan.train.data import split


def test_demo_run_holds_out_the_documented_eval_examples():
    run = runner.make_plan((4,), steps=DEMO_STEPS, device="cpu", eval_every=10, eval_examples=DEMO_EVAL_EXAMPLES)
    plan, examples = build_probe(run, "r4", "cpu")
    # the engine's own split of the probe's examples (tokenizing keeps every sentence of the demo)
    train, held = split(list(range(len(examples))), plan.data.eval_split, plan.training.seed,
                        max_eval=run.eval_examples)
    assert DEMO_EVAL_EXAMPLES == 100 and len(held) == 100
    assert len(train) >= DEMO_STEPS  # at least one example per step remains to train on
