"""Review of 25d4686 (accuracy at the majority share). A real classifier ladder (tiny BERT, a 20-example held-out
split, 12 of them in the largest class) said "every probe's eval accuracy is 0.600" while two of its probes, at
learning rates the ranks were not compared at, scored 0.400: the sentence read only the compared rate's probes. A
probe at another rate above the share would have been called one that "learned no more than always answering the
largest class". And a held-out split too small for accuracy to show anything read "within 2 standard errors (±0 on
1 examples)", or called 5 of 5 right against a majority of 3 "no more than always answering the largest class"."""

from __future__ import annotations

from dataclasses import replace

from test_accuracy_at_majority import accuracy_words, rows
from test_combine import LR, prior
from test_ladder_decide import base_obs, obs
from test_ladder_decide import spec as decide_spec

from lorplan.recommend import combine, measured
from lorplan.recommend.ladder_spec import LadderState

FLAT = {1: (0.62,), 4: (0.615,), 16: (0.63,)}  # no rank beats the base's 0.61


def _ladder(other_rate_accuracy: float):
    s = decide_spec(task="sequence-classification",
                    data={"task": "sequence-classification", "examples": 500, "num_labels": 2})
    split = {"eval_examples": 20, "eval_majority": 14}
    seen = [replace(base_obs(0.61), **split, eval_accuracy=0.7)]
    seen += [replace(obs(r, 0.62), **split, eval_accuracy=0.7) for r in (1, 4, 16, 64)]
    # the learning-rate pass's probes at rank 4: not the rate the ranks are compared at (a higher loss)
    seen += [replace(obs(4, 0.64, lr=lr), **split, eval_accuracy=other_rate_accuracy) for lr in (3e-4, 3e-3)]
    rec, _ = measured.recommendation(s, seen, LadderState(done=True))
    return rec


def test_the_probes_at_other_learning_rates_are_read_too():
    (words,) = accuracy_words(_ladder(0.4))
    assert words.startswith("every probe's eval accuracy (0.400-0.700) is within 2 standard errors (±0.1 on 20 "
                            "examples) of 0.700"), words
    # a probe at another rate that beat the share by more than its noise learned something: nothing is said
    rec = _ladder(0.95)
    assert not accuracy_words(rec)


def test_a_split_too_small_for_accuracy_to_show_anything_says_so():
    one = combine(prior(), default_lr=LR, ladder=rows(FLAT, {1: 1.0, 4: 0.0, 16: 1.0}), base_loss=0.61,
                  majority=(1, 1))
    (words,) = accuracy_words(one)
    assert words.startswith("eval accuracy is measured on one held-out example, so it cannot show a probe learning "
                            "more than always answering the largest class; nor did the eval loss improve"), words
    same = combine(prior(), default_lr=LR, ladder=rows(FLAT, {1: 1.0, 4: 0.95, 16: 1.0}), base_loss=0.61,
                   majority=(20, 20))
    (words,) = accuracy_words(same)
    assert words.startswith("the 20 held-out examples are all of one class, so eval accuracy cannot show a probe "
                            "learning more than always answering it; nor did"), words
    five = combine(prior(), default_lr=LR, ladder=rows(FLAT, {1: 1.0, 4: 0.8, 16: 1.0}), base_loss=0.61,
                   majority=(3, 5))
    (words,) = accuracy_words(five)
    assert words.startswith("on 5 held-out examples, 3 of them of the largest class (0.600), even every answer "
                            "right is within 2 standard errors (±0.22) of always answering that class, so eval "
                            "accuracy cannot show a probe learning more than that (the probes: 0.800-1.000); nor "
                            "did"), words
    for rec in (one, same, five):
        assert "±0 " not in accuracy_words(rec)[0] and "1 examples" not in accuracy_words(rec)[0]
        assert rec.confidence == (1, 16)
