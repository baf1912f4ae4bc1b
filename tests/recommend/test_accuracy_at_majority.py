"""A README walk's 3-minute ladder on 120 rows whose labels are hard to learn: every rank scored eval accuracy
0.700, exactly the share of the eval split's largest class, and the output never said so: the recommendation
rested on noise. Now the evidence says what the accuracy shows (no more than always answering the largest class)
and what the eval loss shows, and the band spans every rank measured when neither shows anything."""

from __future__ import annotations

from dataclasses import replace

from test_combine import LR, prior
from test_ladder_decide import base_obs, obs
from test_ladder_decide import spec as decide_spec

from lorplan.probe.status import Curves
from lorplan.probe.worker import majority_count
from lorplan.recommend import LadderRow, combine, measured
from lorplan.recommend.ladder_spec import LadderState
from lorplan.train.data import Item

MAJORITY = (14, 20)  # 14 of 20 held-out examples in the largest class: always answering it scores 0.700


def rows(losses: dict[int, tuple[float, ...]], acc: float | dict[int, float] = 0.7) -> list[LadderRow]:
    """One row per (rank, seed), each rank's seeds' losses as given, every row with accuracy `acc` (per rank)."""
    return [LadderRow(r, 1e-3, loss, eval_accuracy=acc[r] if isinstance(acc, dict) else acc, seed=s, steps=100)
            for r, seeds in losses.items() for s, loss in enumerate(seeds)]


def accuracy_words(rec) -> list[str]:
    return [e.explanation for e in rec.evidence if e.source == "accuracy"]


def test_flat_accuracy_and_no_loss_gain_say_so_and_the_band_spans_every_rank():
    ladder = rows({1: (0.62,), 4: (0.615,), 16: (0.63,), 64: (0.625,)})  # no rank beats the base's 0.61
    rec = combine(prior(), default_lr=LR, ladder=ladder, base_loss=0.61, majority=MAJORITY)
    (words,) = accuracy_words(rec)
    assert words == ("every probe's eval accuracy is 0.700, the share of the largest class among the 20 held-out "
                     "examples (14 of 20): by accuracy the probes learned no more than always answering the largest "
                     "class; nor did the eval loss improve on the base's, so nothing measured tells the ranks apart: "
                     "the band spans every rank measured")
    assert rec.confidence == (1, 64)
    # the evidence follows the knee's, which it qualifies
    sources = [e.source for e in rec.evidence]
    assert sources.index("accuracy") == sources.index("ladder") + 1


def test_a_loss_gain_within_its_noise_widens_the_band_that_the_seeds_had_narrowed():
    # two seeds a rank, close together: the knee's band is narrow; but the base's own seeds (the head trained
    # alone) spread ±0.02, and the best gain over it is within that noise
    ladder = rows({1: (0.60, 0.601), 4: (0.585, 0.586), 16: (0.58, 0.581), 64: (0.582, 0.583)})
    alone = combine(prior(), default_lr=LR, ladder=ladder, base_loss=0.61, base_stderr=0.02)
    assert alone.confidence == (8, 16) and not accuracy_words(alone)  # without the split's classes: nothing said
    rec = combine(prior(), default_lr=LR, ladder=ladder, base_loss=0.61, base_stderr=0.02, majority=MAJORITY)
    (words,) = accuracy_words(rec)
    assert words.startswith("every probe's eval accuracy is 0.700, the share of the largest class among the 20 ")
    assert "; the eval loss improves on the base's by 0.0295 at best (rank 16), within 2 standard errors (±0.04)" \
        in words, words
    assert words.endswith("neither measure shows the adapters learning more than the base, so the band spans every "
                          "rank measured and the knee may be noise")
    assert rec.confidence == (1, 64) and rec.rank == alone.rank


def test_a_loss_gain_beyond_its_noise_keeps_the_knee_band_and_says_the_loss_decides():
    ladder = rows({1: (0.66, 0.665), 4: (0.55, 0.552), 16: (0.50, 0.505), 64: (0.50, 0.502)})
    alone = combine(prior(), default_lr=LR, ladder=ladder, base_loss=0.69)
    rec = combine(prior(), default_lr=LR, ladder=ladder, base_loss=0.69, majority=MAJORITY)
    assert (rec.rank, rec.confidence) == (alone.rank, alone.confidence) and rec.confidence[1] < 64
    (words,) = accuracy_words(rec)
    assert "; the eval loss does improve on the base's: rank 64 by 0.189, more than 2 standard errors (±0.002)" in words
    assert words.endswith("so the knee rests on the loss, which moves where the accuracy does not")


def test_accuracy_within_the_noise_of_twenty_examples_counts_and_above_it_does_not():
    ladder = {1: (0.62,), 4: (0.615,), 16: (0.63,)}
    # ±0.10 is one standard error of a share of 0.7 on 20 examples: 0.85 is within two, 0.95 is not
    near = combine(prior(), default_lr=LR, ladder=rows(ladder, {1: 0.65, 4: 0.7, 16: 0.85}), base_loss=0.61,
                   majority=MAJORITY)
    (words,) = accuracy_words(near)
    assert words.startswith("every probe's eval accuracy (0.650-0.850) is within 2 standard errors (±0.1 on 20 "
                            "examples) of 0.700, the share of the largest class among the 20 held-out examples (14 "
                            "of 20), or below it: by accuracy")
    far = combine(prior(), default_lr=LR, ladder=rows(ladder, {1: 0.65, 4: 0.7, 16: 0.95}), base_loss=0.61,
                  majority=MAJORITY)
    assert not accuracy_words(far)
    # a causal LM's rows have no accuracy; a classifier's without the split's classes say nothing either
    plain = [replace(r, eval_accuracy=None) for r in rows(ladder)]
    assert not accuracy_words(combine(prior(), default_lr=LR, ladder=plain, base_loss=0.61, majority=MAJORITY))


def test_the_worker_counts_the_largest_class_of_the_held_out_items_and_the_status_reader_keeps_it():
    held = [Item((1, 2), label=c) for c in (0, 1, 1, 0, 1)]
    assert majority_count(held) == 3
    assert majority_count([Item((1, 2), labels=(1, 2))]) is None and majority_count([]) is None  # a causal LM's
    c = Curves()
    c.add({"type": "started", "probe": "r4", "eval_examples": 5, "eval_majority": 3, "eval_digest": "x"})
    assert (c.started["eval_examples"], c.started["eval_majority"]) == (5, 3)


def test_the_ladder_recommendation_compares_its_probes_accuracy_with_their_split():
    s = decide_spec(task="sequence-classification",
                    data={"task": "sequence-classification", "examples": 500, "num_labels": 2})
    split = {"eval_examples": 20, "eval_majority": 14, "eval_accuracy": 0.7}
    seen = [replace(base_obs(0.61), **split)] + [replace(obs(r, 0.62), **split) for r in (1, 4, 16, 64)]
    rec, _ = measured.recommendation(s, seen, LadderState(done=True))
    (words,) = accuracy_words(rec)
    assert words.startswith("every probe's eval accuracy is 0.700, the share of the largest class among the 20 "
                            "held-out examples (14 of 20)")
    assert rec.confidence == (1, 64)
    assert measured.eval_majority(seen) == (14, 20)
    # probes that disagree about their split (none should) vouch for none
    assert measured.eval_majority(seen[:-1] + [replace(seen[-1], eval_majority=13)]) is None
    assert measured.eval_majority([base_obs()]) is None
