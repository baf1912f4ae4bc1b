"""The Recommend tab's F1 topic names every key of the tab and what `a` does with a per-module pattern: the topic
named l, a and p only, said nothing of u (one rank everywhere), and read as if a never applied a pattern."""

from __future__ import annotations

import re

from textual.binding import Binding

from lorplan.tui.help_topics import BY_ID
from lorplan.tui.panels.recommend_panel import RecommendPanel


def bindings() -> list[Binding]:
    return [b for b in RecommendPanel.BINDINGS if isinstance(b, Binding) and b.id and b.id.startswith("recommend.")]


def test_the_topic_names_every_key_of_the_tab():
    text = BY_ID["recommend"].text
    keys = bindings()
    assert len(keys) >= 4
    for b in keys:
        assert re.search(rf"(^|[;,.] |and ){re.escape(b.key)} [a-z]", text), (b.key, text)


def test_the_topic_says_a_applies_the_pattern_only_when_checked():
    text = BY_ID["recommend"].text
    a = next(b for b in bindings() if b.action == "apply")
    assert "when the ladder's check kept it" in a.tooltip  # the key's own words, which the topic must match
    said = text[text.index("; a applies"):]
    said = said[:said.index("; p ")]
    assert "only when the ladder's check kept it" in said, said
    u = next(b for b in bindings() if b.action == "apply('uniform')")
    assert "one rank for every module" in u.tooltip
    assert "u the same with one rank for every module" in text
