"""Counts in `lorplan recommend`'s lines read in the singular at 1 (core.units.counted): "the 1 usable
examples", "each probe trains 1 steps", "(1 module names)" were printed."""

from __future__ import annotations

import json
from argparse import Namespace
from types import SimpleNamespace

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend


def test_a_file_with_one_usable_example_says_it_in_the_singular(tiny_llama, tmp_path, capsys):
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"prompt": "What is 2 plus 2?", "completion": " 4."}) + "\n{broken\n")
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(data), "--probes", "none"]) == 0
    err = capsys.readouterr().err
    assert "1 row skipped" in err and "the recommendation counts the 1 usable example;" in err, err


def test_the_probes_steps_are_counted(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    """The probes' evidence counts their steps (it said "each probe trains 1 steps of the planned ..." at
    --probe-steps 1, which is now refused: a 1-step probe under the warmup trains nothing,
    tests/recommend/test_one_step_probes.py; 2 is the shortest). The ladder is built for real and not started (its
    _run_ladder is replaced, so no probe process runs)."""
    built = []

    def keep(args, ladder, **kw):
        built.append(ladder)
        return 0

    monkeypatch.setattr(cli_recommend, "_run_ladder", keep)
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probe-steps", "2"]) == 0
    (ladder,) = built
    note = next(n["explanation"] for n in ladder.spec.notes if n["source"] == "probes")
    assert "each probe trains 2 steps of the planned " in note, note
    assert not any(state_home.glob("*/ladder.json"))


def test_a_one_module_pattern_is_one_module_name(capsys):
    args = Namespace(no_pattern=False, apply_pattern=False)
    rec = SimpleNamespace(pattern_checked=True, rank_pattern={"q_proj": 8}, rank=4)
    assert cli_recommend._written_pattern(args, rec) == {"q_proj": 8}
    assert "(1 module name);" in capsys.readouterr().err
