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


def test_demo_ladder_trains_every_row_whole_at_the_demos_rate_with_one_eval():
    from collections import Counter

    from transformers import AutoTokenizer

    from lorplan.core.model import model_folder, resolve_model
    from lorplan.probe.demo import (
        DEMO_COLOURS,
        DEMO_LEARNING_RATE,
        DEMO_MODEL_NAME,
        DEMO_NUM_LABELS,
        DEMO_SEQ_LEN,
        DEMO_SHELF,
        DEMO_STOCK,
        demo_examples,
    )
    from lorplan.recommend.launch import demo_ladder

    tok = AutoTokenizer.from_pretrained(str(model_folder(resolve_model(DEMO_MODEL_NAME))))
    # every word is one WordPiece, so every row is a thing, three colours, [CLS] and [SEP]: none is ever cut
    assert all(len(tok.tokenize(w)) == 1 for w in (*DEMO_SHELF, *DEMO_COLOURS))
    examples = demo_examples()
    assert {len(tok(e.text)["input_ids"]) for e in examples} == {DEMO_SEQ_LEN}
    # the table: twelve things a shelf, and each row's label is the shelf of the one thing it names
    assert len(DEMO_SHELF) == DEMO_STOCK and set(Counter(DEMO_SHELF.values()).values()) == {12}
    for e in examples:
        (thing,) = [w for w in e.text.split() if w not in DEMO_COLOURS]
        assert e.label == DEMO_SHELF[thing]
    assert len({e.label for e in examples}) == DEMO_NUM_LABELS
    ladder = demo_ladder(examples)
    plan = ladder.plan
    assert plan.seq_len == DEMO_SEQ_LEN and plan.eval_every == plan.steps == DEMO_STEPS
    assert {p.lr for p in plan.probes} == {DEMO_LEARNING_RATE} == {ladder.spec.learning_rate}
    assert sorted({p.rank for p in plan.probes}) == [0, 4, 8, 16, 32]
    assert sorted({p.seed for p in plan.probes}) == [0, 1, 2]
