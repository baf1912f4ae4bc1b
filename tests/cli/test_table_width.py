"""Tables fit a terminal narrower than them: in an 80-column SSH window every row of `lorplan plan`'s rank
table (100 columns, 121 with a budget) wrapped into two lines, and `lorplan profile`'s header (the tokenizer's
path) ran to 138. On such a terminal each column is as wide as its widest cell and what still does not fit
moves to a second table led by the rank; every figure stays. Output to a pipe keeps the wide layout, byte for
byte (the README's transcripts and scripts read it)."""

from __future__ import annotations

import json
import os
import sys

import pytest
from pty_output import piped_and_in_terminal

from lorplan.core.columns import Column, fit_line, fit_tables

PLAN = [sys.executable, "-m", "lorplan", "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct"]
WIDE_HEAD = (" rank  trainable  weights  adapter    grads    optim    activ overhead    total       peak at")


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "HF_HUB_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}


def _piped(argv, tmp_path) -> str:
    return piped_and_in_terminal(argv, cwd=tmp_path, env=_env(tmp_path))


def _terminal(argv, tmp_path, columns: int) -> str:
    return piped_and_in_terminal(argv, cwd=tmp_path, env=_env(tmp_path), columns=columns)


def _table(text: str) -> tuple[int, int]:
    """Where the rank tables are: from the first heading that starts with "rank" to the legend."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["rank"])
    return start, next(i for i, ln in enumerate(lines) if ln.startswith("weights, adapter, optim:"))


def _rows(text: str) -> dict[str, list[str]]:
    """Every cell of the rank tables per rank: the wide table's one row, or a narrow layout's rows in each of
    its tables."""
    start, end = _table(text)
    cells: dict[str, list[str]] = {}
    for ln in text.splitlines()[start:end]:
        words = ln.split()
        if words[0] != "rank":
            cells.setdefault(words[0], []).extend(words[1:])
    return cells


@pytest.mark.parametrize("flags", [[], ["--gpu", "H100", "--quant", "nf4", "--grad-checkpointing"]],
                         ids=["no budget", "budget"])
def test_plan_fits_80_columns_with_every_figure_and_a_pipe_keeps_the_wide_table(tmp_path, flags):
    argv = PLAN + flags
    piped = _piped(argv, tmp_path)
    head = next(ln for ln in piped.splitlines() if ln.startswith(" rank"))
    assert head.startswith(WIDE_HEAD) and head.endswith("   (GiB)")  # the wide layout, as before
    assert max(map(len, piped.splitlines())) > 100
    narrow = _terminal(argv, tmp_path, 80)
    assert max(map(len, narrow.splitlines())) <= 79, narrow
    wide_rows, narrow_rows = _rows(piped), _rows(narrow)
    assert list(narrow_rows) == list(wide_rows) == ["1", "2", "4", "8", "16", "32", "64", "128", "256"]
    for rank, cells in wide_rows.items():  # each rank's trainable count, GiB figures, total, fits ...
        assert sorted(narrow_rows[rank]) == sorted(cells), (rank, narrow)
    assert "(GiB)" in narrow
    # the lines around the table say the same words, wrapped at the terminal's width
    for text in (piped, narrow):
        start, end = _table(text)
        lines = text.splitlines()
        assert " ".join(lines[:start]).split() == " ".join(piped.splitlines()[:_table(piped)[0]]).split()
        assert " ".join(lines[end:]).split() == " ".join(piped.splitlines()[_table(piped)[1]:]).split()
    # a terminal wider than the table prints what the pipe gets
    assert _terminal(argv, tmp_path, 200) == piped


def test_plan_with_a_budget_at_80_columns_reads_as_two_tables_led_by_the_rank(tmp_path):
    narrow = _terminal(PLAN + ["--gpu", "H100"], tmp_path, 80)
    heads = [ln.split() for ln in narrow.splitlines() if ln.startswith(" rank ")]
    assert heads == [["rank", "trainable", "weights", "adapter", "grads", "optim", "activ", "overhead", "total",
                      "(GiB)"], ["rank", "peak", "at", "fits", "max", "mb", "max", "seq"]]
    row16 = [ln.split() for ln in narrow.splitlines() if ln.split()[:1] == ["16"]]
    assert row16[0][-1] == "34.60" and row16[1][1:3] == ["loss", "yes"]  # rank 16's total, then whether it fits


def test_profile_and_recommend_fit_80_columns(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"example {i} " * (i % 9 + 1), "label": f"class-{i % 12}"}) + "\n"
                            for i in range(200)))
    profile = [sys.executable, "-m", "lorplan", "profile", "--data", data.name, "--model", "all-MiniLM-L6-v2"]
    recommend = [sys.executable, "-m", "lorplan", "recommend", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                 "--trained-tokens", "2M", "--gpu", "RTX-4090"]
    for argv in (profile, recommend):
        piped = _piped(argv, tmp_path)
        assert max(map(len, piped.splitlines())) > 80  # lines a pipe gets whole
        narrow = _terminal(argv, tmp_path, 80)
        # a word longer than the terminal (the tokenizer's folder: 85 characters under CI's venv in /tmp) stands
        # on a line of its own, unbroken, so it can be copied; every other line fits
        lines = narrow.splitlines()
        assert [line for line in lines if len(line) > 79 and len(line.split()) != 1] == [], narrow
        assert narrow.split() == piped.split()  # the same words, the long lines broken
        # a terminal wider than the longest line prints what the pipe gets
        assert _terminal(argv, tmp_path, max(map(len, piped.splitlines())) + 1) == piped


def test_fit_tables_keeps_one_table_where_it_fits_and_splits_in_column_order():
    key = [Column("rank", ("1", "16"))]
    cols = [Column(h, (h.upper(), h)) for h in ("alpha", "beta", "gamma", "delta")]
    one = fit_tables(key, cols, 40)
    assert one == ["rank  alpha  beta  gamma  delta", "   1  ALPHA  BETA  GAMMA  DELTA",
                   "  16  alpha  beta  gamma  delta"]
    assert fit_tables(key, cols, 28) == ["rank alpha beta gamma delta", "   1 ALPHA BETA GAMMA DELTA",
                                         "  16 alpha beta gamma delta"]  # one space between, still one table
    split = fit_tables(key, cols, 20, suffix=" (u)")
    # two tables a space apart rather than three two spaces apart; the unit (suffix) on the first heading
    assert split == ["rank alpha beta (u)", "   1 ALPHA BETA", "  16 alpha beta",
                     "rank gamma delta", "   1 GAMMA DELTA", "  16 gamma delta"]
    assert fit_line("a b c", None) == ["a b c"] and fit_line("aaa bbb ccc", 8, "  ") == ["aaa bbb", "  ccc"]
