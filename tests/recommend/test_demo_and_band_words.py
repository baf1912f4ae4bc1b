"""Wording of the ladder's text: a band of one rank reads "band: rank 8 only" (not "band 8-8"), and the demo
ladder, which trains on data it generated, says "the demo's data" where a ladder on the user's data says
"your data" ("checked on your data", "the ladder measured your data")."""

from __future__ import annotations

from test_ladder_table import demo_like
from test_pattern_check import SIGNALS, ladder

from lorplan.recommend import measured
from lorplan.recommend.table import band_text, pattern_line, render_ladder


def test_a_band_of_one_rank_says_so():
    assert band_text(8, 16) == "band 8-16"
    assert band_text(1, 1) == "band: rank 1 only"
    obj = demo_like(kind="demo")
    one = render_ladder({**obj, "confidence": {"low": 16, "high": 16}}).splitlines()[2]
    assert one.startswith("  rank            16         band: rank 16 only") and "16-16" not in one, one
    assert "band 16-32" in render_ladder({**obj, "confidence": {"low": 16, "high": 32}}).splitlines()[2]


def test_the_demo_says_its_own_data_where_a_data_ladder_says_yours():
    demo = " ".join(e["explanation"] for e in demo_like(kind="demo")["evidence"])
    assert "the ladder measured the demo's data" in demo and "your data" not in demo, demo
    data = " ".join(e["explanation"] for e in demo_like(kind="data")["evidence"])
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
