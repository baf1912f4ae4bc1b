"""The ladder tables README.md shows (`lorplan recommend` transcripts, not-checked blocks that
tests/readme_outputs.py does not regenerate) explain a clipped `[low, high]` cell in a legend line that names
the columns clipped, by their headers, as lorplan.recommend.table writes it: the README's lines said
"(accuracy 0-1, loss at least 0)", the wording of an older lorplan, under tables whose clipped columns were
accuracy and eval loss, or accuracy, eval loss and train s."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
COLUMNS = ("accuracy", "eval loss", "train s")  # the ladder table's columns whose intervals can be clipped
LEGEND = "[low, high]: that interval clipped to what the value can take ("


def _tables() -> list[tuple[str, list[str], str]]:
    """(header, rows, legend line) of every ladder table in README.md that has a [low, high] legend."""
    lines = README.read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        if LEGEND not in line:
            continue
        head = max(j for j in range(i) if "trainable" in lines[j] and "eval loss" in lines[j]
                   and "peak mem" in lines[j])
        rows = [ln for ln in lines[head + 1:i] if not ln.strip().startswith("±")]
        found.append((lines[head], rows, line))
    return found


def _clipped(header: str, rows: list[str]) -> list[str]:
    """The columns (by header) with a [low, high] cell in some row."""
    starts = sorted((header.index(c), c) for c in (*COLUMNS, "peak mem") if c in header)
    out = []
    for (start, name), (end, _) in zip(starts, starts[1:], strict=False):
        if any("[" in row[start:end] for row in rows):
            out.append(name)
    return out


def test_the_readme_has_ladder_tables_with_a_clipping_legend():
    assert len(_tables()) >= 2  # the demo's and the docstring-packages one


def test_each_clipping_legend_names_the_columns_its_table_clipped():
    for header, rows, legend in _tables():
        clipped = _clipped(header, rows)
        assert clipped, (header, rows)
        named = re.search(r"\((.*)\)$", legend.strip()).group(1).split(", ")
        # each item is "<column header> <its bound>", in the table's column order, as table.py writes them
        assert [next((c for c in COLUMNS if item.startswith(c + " ")), item) for item in named] == clipped, legend
