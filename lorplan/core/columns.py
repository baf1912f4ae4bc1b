"""Text tables that fit a narrow terminal.

The CLI's tables are laid out for 110 columns; in an 80-column SSH window every row of them wrapped into two
lines. When standard output is a terminal narrower than a table (core.units.terminal_limit), the table is
printed again from its cells: each column as wide as its widest cell, and when that is still too wide, as
several tables one under the other, each led by the key columns (the rank) so that every row can be read
across. Every cell is printed; only where it stands changes. Output to a file or a pipe keeps the wide layout.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column: its heading, its cells top to bottom, and whether they line up on the right (figures) or
    on the left (words)."""

    head: str
    cells: tuple[str, ...]
    right: bool = True

    @property
    def width(self) -> int:
        return max(len(self.head), *map(len, self.cells)) if self.cells else len(self.head)

    def text(self, row: int) -> str:
        """Row `row`'s cell padded to the column's width (row -1: the heading)."""
        cell = self.head if row < 0 else self.cells[row]
        return cell.rjust(self.width) if self.right else cell.ljust(self.width)


def table_lines(columns: Sequence[Column], *, indent: str = "", sep: str = " ", suffix: str = "") -> list[str]:
    """The heading line (then `suffix`, such as a unit) and one line per row, trailing spaces dropped."""
    rows = len(columns[0].cells) if columns else 0
    return [(indent + sep.join(c.text(row) for c in columns) + (suffix if row < 0 else "")).rstrip()
            for row in range(-1, rows)]


def _width(columns: Sequence[Column], indent: str, sep: str, suffix: str) -> int:
    return len(indent) + sum(c.width for c in columns) + len(sep) * (len(columns) - 1) + len(suffix)


def _groups(key: Sequence[Column], columns: Sequence[Column], limit: int, indent: str, sep: str,
            suffix: str) -> list[list[Column]]:
    """The columns in order, as many to a table as fit `limit` beside the key columns (at least one)."""
    groups: list[list[Column]] = [[]]
    for col in columns:
        tail = suffix if len(groups) == 1 else ""
        if groups[-1] and _width([*key, *groups[-1], col], indent, sep, tail) > limit:
            groups.append([])
        groups[-1].append(col)
    return groups


def fit_tables(key: Sequence[Column], columns: Sequence[Column], limit: int, *, indent: str = "",
               seps: Sequence[str] = ("  ", " "), suffix: str = "") -> list[str]:
    """The lines of `key` + `columns` no longer than `limit` where that can be: one table with the first of
    `seps` between the columns that fits, else the fewest tables (roomier separators first) that each take the
    next columns in order beside the key columns. suffix: printed after the first table's heading (a unit)."""
    best: tuple[int, int, list[list[Column]], str] | None = None
    for i, sep in enumerate(seps):
        groups = _groups(key, columns, limit, indent, sep, suffix)
        if best is None or (len(groups), i) < best[:2]:
            best = (len(groups), i, groups, sep)
    assert best is not None
    _, _, groups, sep = best
    lines: list[str] = []
    for n, group in enumerate(groups):
        lines += table_lines([*key, *group], indent=indent, sep=sep, suffix=suffix if n == 0 else "")
    return lines


def fit_line(line: str, limit: int | None, indent: str = "  ") -> list[str]:
    """The line as it is, or, when it is longer than `limit` (a narrow terminal's columns; None: no limit),
    its words broken to `limit` columns with the lines after the first indented by `indent` (a file name or a
    figure is never broken, so such a word alone can still be longer)."""
    if limit is None or len(line) <= limit:
        return [line]
    return textwrap.wrap(line, limit, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)


NBSP = "\N{NO-BREAK SPACE}"  # glues a command's words while a line is wrapped (textwrap breaks at ASCII space)


def fit_text(text: str, limit: int | None, indent: str = "  ", whole: tuple[str, ...] = ()) -> str:
    """`text` (lines split at newlines) with each line longer than `limit` wrapped by fit_line, each text of
    `whole` (a command to copy) kept on one row; as it is when `limit` is None (a file or a pipe)."""
    if limit is None:
        return text
    lines: list[str] = []
    for line in text.split("\n"):
        if not line:
            lines.append(line)
            continue
        for keep in whole:
            line = line.replace(keep, keep.replace(" ", NBSP))
        lines += [part.replace(NBSP, " ") for part in fit_line(line, limit, indent)]
    return "\n".join(lines)


def say(text: str, indent: str = "  ", whole: tuple[str, ...] = ()) -> None:
    """Print a note, a warning or a progress line on stderr: on a terminal narrower than a line, its words
    wrapped at the terminal's width (fit_text: the lines after the first indented by `indent`, each text of
    `whole`, a command to copy, kept on one row, a path never broken); into a file or a pipe as it is, byte for
    byte. For the commands (lorplan.cli._common takes it from here) and the training engine's notes alike."""
    import sys

    from lorplan.core.units import stderr_limit

    print(fit_text(text, stderr_limit(), indent, whole), file=sys.stderr, flush=True)


__all__ = ["Column", "fit_line", "fit_tables", "fit_text", "say", "table_lines"]
