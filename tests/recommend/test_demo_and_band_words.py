"""Wording of the ladder's text: a band of one rank reads "band: rank 8 only" (not "band 8-8"), and the demo
ladder, which trains on data it generated, says "the demo's data" where a ladder on the user's data says
"your data" ("checked on your data", "the ladder measured your data")."""

from __future__ import annotations

from test_ladder_table import FIGURES, LR
from test_pattern_check import SIGNALS, ladder

from lorplan.recommend import measured
from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.table import band_text, pattern_line, render_ladder


def three_seed_ladder(kind: str) -> dict:
    """test_ladder_table's demo-like ladder (knee 16, the capacity prior's rank 1) as a `kind` ladder."""
    spec = LadderSpec(kind=kind, model="sentence-transformers/all-MiniLM-L6-v2", spec_source="/x",
                      task="sequence-classification", target_modules=("query", "key", "value", "dense"),
                      data={"task": "sequence-classification", "examples": 900, "num_labels": 6,
                            "label_entropy_bits": 2.58, "entropy_counted": True},
                      adapter={"model": "m", "targets": "all-linear", "per_rank": 41_472, "fixed": 2_310,
                               "min_dim": 384},
                      learning_rate=LR, learning_rate_why="test", planned_steps=60, probe_steps=60, seeds=(0, 1, 2),
                      ranks=(4, 8, 16, 32), refine=False, extra_learning_rates=False, halving=False)
    obs = [ProbeObs(id=f"r{rank}-s{seed}", rank=rank, lr=LR, seed=seed, state="finished", step=60,
                    curve=((20, loss + 0.3), (40, loss + 0.1), (60, loss)), eval_accuracy=acc, train_seconds=10.0,
                    wall_seconds=20.0, trainable_params=41_472 * rank + 2_310 if rank else 2_310)
           for rank, runs in FIGURES.items() for seed, (loss, acc) in enumerate(runs)]
    return measured.recommendation_json(spec, obs, LadderState(done=True), run_id="run")


def test_a_band_of_one_rank_says_so():
    assert band_text(8, 16) == "band 8-16"
    assert band_text(1, 1) == "band: rank 1 only"
    obj = three_seed_ladder("demo")
    one = render_ladder({**obj, "confidence": {"low": 16, "high": 16}}).splitlines()[2]
    assert one.startswith("  rank            16         band: rank 16 only") and "16-16" not in one, one
    assert "band 16-32" in render_ladder({**obj, "confidence": {"low": 16, "high": 32}}).splitlines()[2]


def test_the_demo_says_its_own_data_where_a_data_ladder_says_yours():
    demo = " ".join(e["explanation"] for e in three_seed_ladder("demo")["evidence"])
    assert "the ladder measured the demo's data" in demo and "your data" not in demo, demo
    data = " ".join(e["explanation"] for e in three_seed_ladder("data")["evidence"])
    assert "the ladder measured your data" in data and "the demo's data" not in data, data


def test_the_demos_pattern_check_is_on_the_demos_data():
    for kind, words in (("demo", "checked on the demo's data"), ("data", "checked on your data")):
        s, o, state = ladder(pattern_loss=1.10, top_loss=1.53, kind=kind)  # a pattern applied beyond the noise
        rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
        text = next(e.explanation for e in rec.evidence if e.source == "pattern")
        assert rec.pattern_checked and words in text, text
        assert ("your data" in text) == (kind == "data"), text
        obj = measured.recommendation_json(s, o, state, signals=SIGNALS)
        line = next(x for x in render_ladder(obj).splitlines() if x.strip().startswith("rank pattern"))
        assert line.endswith(f"({words})" if kind == "demo" else f"({words}: --write writes it, --no-pattern does not)")
    assert pattern_line({"q": 8}, True, demo=True) == "  rank pattern    q=8 (checked on the demo's data)"
