"""README's `lorplan recommend --json` field list names every key the command prints, and no key it does not:
the list had drifted to 13 of the 17 keys of a prior-only answer and none of a ladder's, unnoticed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_pattern_check import SIGNALS, ladder

from lorplan.cli import main
from lorplan.recommend import measured

README = Path(__file__).resolve().parents[2] / "README.md"
DRIVER_KEYS = {"updated"}  # the driver stamps recommendation.json as it writes it (recommend.driver)


def _readme_lists() -> tuple[set[str], set[str]]:
    """The README's two lists: what every recommendation prints, and what a ladder's object adds."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    block = re.search(r"`--json` \(rank, alpha, (.+?)\), `--write PLAN\.toml`", text)
    assert block, "README: the `lorplan recommend --json` field list was not found"
    every, ladder_part = block.group(1).split("a ladder's object", 1)
    words = lambda s: set(re.findall(r"\b[a-z][a-z_]*[a-z]\b", s.replace("`", "")))  # noqa: E731
    return words("rank, alpha, " + every), words(ladder_part)


def _readme_fits_keys() -> list[str]:
    """README's list of the fits object's keys: `fits {fits, rank, ...}`."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    block = re.search(r"`--json` \(rank, alpha, .+?\bfits \{(.+?)\}", text)
    assert block, "README: the fits object's keys (fits {...}) were not found in recommend's --json list"
    return re.findall(r"(?:^|, )`?([a-z_]+)`?", block.group(1))


def test_the_prior_answer_prints_what_the_readme_lists(capsys):
    every, _ = _readme_lists()
    assert main(["recommend", "--model", "Qwen/Qwen2.5-0.5B", "--trained-tokens", "200000", "--json",
                 "--gpu", "H100"]) == 0
    obj = json.loads(capsys.readouterr().out)
    keys = set(obj)
    assert keys <= every, f"printed but not in README: {sorted(keys - every)}"
    # the fits object's keys, in README's order (the memory verdict's GPUs and sharding among them)
    assert list(obj["fits"]) == _readme_fits_keys(), (list(obj["fits"]), _readme_fits_keys())


def test_a_ladders_object_adds_what_the_readme_lists():
    every, ladder_words = _readme_lists()
    s, o, state = ladder(pattern_loss=1.10, top_loss=1.53)
    obj = measured.recommendation_json(s, o, state, signals=SIGNALS)
    keys = set(obj) | DRIVER_KEYS
    rec_keys = set(measured.recommendation(s, o, state, signals=SIGNALS)[0].to_json())
    assert rec_keys <= every, f"in every recommendation but not in README: {sorted(rec_keys - every)}"
    added = keys - rec_keys
    assert added <= ladder_words, f"a ladder's key not in README: {sorted(added - ladder_words)}"
    named = {w for w in ladder_words if "_" in w or w in {"run", "state", "kind", "base", "seeds", "passes",
                                                           "stops", "probes", "updated"}}
    assert named <= keys, f"README names ladder keys the object does not have: {sorted(named - keys)}"
