"""The ladder's table on a terminal narrower than it (the demo's is 149 columns with the knee's-noise mark): two
tables led by the rank, what each rank measured (accuracy, eval loss, the knee's mark) and what it cost (train
time, trainable parameters, peak memory, probes), every cell kept; output to a pipe keeps the wide table."""

from __future__ import annotations

import json
import os
import sys

from pty_output import run_in_pty
from test_ladder_table import FIGURES, LR, demo_like

from lorplan.recommend.table import ladder_table, render_ladder

NOISY = {**FIGURES, 16: [(0.16, 0.99), (0.26, 0.99), (0.36, 0.98)], 32: [(0.20, 0.99), (0.21, 0.99), (0.19, 0.98)]}


def _two_rates() -> dict:
    """The knee's-noise ladder with rank 16 tried at a second rate too, one of its probes failed."""
    obj = demo_like(NOISY)
    extra = [dict(r, learning_rate=LR * 3, eval_loss=0.15) for r in obj["ladder"] if r["rank"] == 16]
    extra[0]["state"] = "failed"
    return {**obj, "ladder": obj["ladder"] + extra}


def _cells(lines: list[str], labels: set[str]) -> dict[tuple[str, ...], list[str]]:
    """The words of every table row, per (rank, lr) key where rows carry a learning rate."""
    out: dict[tuple[str, ...], list[str]] = {}
    for ln in lines:
        words = ln.split()
        if words and words[0] in labels:
            key = tuple(words[:2]) if len(words) > 1 and words[1].startswith("0.00") else tuple(words[:1])
            out.setdefault(key, []).extend(words[len(key):])
    return out


def _table_part(lines: list[str]) -> list[str]:
    return lines[:next(i for i, ln in enumerate(lines) if ln.strip().startswith(("±", "train s:")))]


def test_a_narrow_table_fits_and_keeps_every_cell_and_mark():
    for obj in (demo_like(), demo_like(NOISY), _two_rates()):
        wide = ladder_table(obj)
        assert max(map(len, wide)) > 100 and ladder_table(obj, None) == wide
        narrow = ladder_table(obj, 79)
        assert max(map(len, narrow)) <= 79, "\n".join(narrow)
        labels = {"base", "4", "8", "16", "32"}
        wide_cells, narrow_cells = _cells(_table_part(wide), labels), _cells(_table_part(narrow), labels)
        assert list(narrow_cells) == list(wide_cells)
        for key, cells in wide_cells.items():
            shown = narrow_cells[key]
            # the knee's-noise mark keeps its arrow; where the reason does not fit beside it, it moves under the table
            if "(the knee's noise)" in " ".join(cells) and "(the knee's noise)" not in " ".join(shown):
                cells = " ".join(cells).replace(" (the knee's noise)", "").split()
            assert sorted(shown) == sorted(cells), (key, narrow)
        # a heading per table, each led by the rank
        heads = [ln.split() for ln in narrow if ln.split()[:1] == ["rank"] and "->" not in ln]
        assert [h[-3:] for h in heads] == [["accuracy", "eval", "loss"], ["peak", "mem", "probes"]]
    noisy = ladder_table(_two_rates(), 79)
    assert next(ln for ln in noisy if ln.split()[:2] == ["16", "0.001"]).endswith("<- knee")
    assert next(ln for ln in noisy if ln.split()[0] == "32").endswith("<- recommended")
    text = " ".join(" ".join(noisy).split())
    assert "<- recommended: rank 32, recommended above the knee for the knee's noise (evidence: knee noise)" in text


def test_the_whole_text_fits_and_says_the_same_words_outside_the_table():
    obj = {**demo_like(NOISY), "cost_seconds": 1063.0}
    wide, narrow = render_ladder(obj, wall_seconds=639.0), render_ladder(obj, wall_seconds=639.0, limit=79)
    assert max(map(len, narrow.splitlines())) <= 79
    before = wide.split("\n\n")[:2]
    assert " ".join(narrow.split("\n\n")[:2]).split() == " ".join(before).split()  # the headline and figures
    assert narrow.split("\nevidence\n")[1].split() == wide.split("\nevidence\n")[1].split()
    assert render_ladder(obj, wall_seconds=639.0, limit=200) == wide  # a wide terminal: the pipe's text


def test_the_ladder_printed_on_an_80_column_terminal(tmp_path):
    """As `lorplan recommend` prints a ladder (cli.recommend._print_ladder), on a pseudo-terminal."""
    path = tmp_path / "recommendation.json"
    path.write_text(json.dumps(demo_like(NOISY)))
    script = ("import json, sys, types; from lorplan.cli.recommend import _print_ladder; "
              "_print_ladder(types.SimpleNamespace(write=None, json=False), json.load(open(sys.argv[1])))")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    rc, text = run_in_pty([sys.executable, "-c", script, str(path)], columns=80, env=env, timeout=60)
    assert rc == 0, text
    lines = text.replace("\r\n", "\n").splitlines()
    assert max(map(len, lines)) <= 79, text
    assert next(ln for ln in lines if ln.split()[:1] == ["16"]).split()[-5:] == ["0.2600", "±", "0.2484", "<-", "knee"]
    assert next(ln for ln in lines if ln.split()[:1] == ["32"]).endswith("<- recommended (the knee's noise)")
