"""What the Probes tab draws with plotext: the loss curves of a run's ranks, and its ranks side by side.

Each probe's line has its own marker (line_style) and a label at its end, so the lines can be told apart
without colour; the train loss is its moving average (probe_bridge.ema), which the title says; eval losses are points. Its
legend (marker: rank) is text for beside the plot: plotext draws one over the plot's top left corner, where a
short line (a probe a few steps in) ends and its label is. The comparison is a text table (final eval loss and
accuracy, with their 95% intervals when several seeds ran, training and loading time, peak memory) and a plot
of eval loss against rank on a log2 axis with the intervals as error bars; a table too wide to leave the plot
its room is two tables led by the rank (compare_layout). Pure drawing: the values come frozen from the feed's
read; the widths are the widgets' own.
"""

from __future__ import annotations

import math
import re
import textwrap

from rich.text import Text

from lorplan.core.units import memory_text
from lorplan.tui import numbers, probe_bridge
from lorplan.tui.plot_ticks import nice_ticks, tick_label

# one per probe, in the run's order (ASCII: any terminal); twelve, for 3 seeds of 4 ranks (line_style)
LINE_MARKERS = ("o", "x", "+", "*", "%", "#", "=", "~", "@", "&", "$", "^")
EVAL_MARKER = "◆"
# plotext's colour names (it has no "yellow": "orange+" is its bright yellow) and the same colours for the legend
COLOURS = ("cyan", "orange", "green", "magenta", "orange+", "blue", "red", "white")
_ANSI = {"cyan": 6, "orange": 3, "green": 2, "magenta": 5, "orange+": 11, "blue": 4, "red": 1, "white": 15}
LABEL_ROOM = 0.12  # of the x range, kept right of the last step for the labels at the lines' ends (at least)
Y_TICKS_WIDTH = 8  # what plotext's left axis (ticks like 0.882 and the ┤) and the borders take of a plot's width
COMPARE_PLOT_MIN_WIDTH = 40  # below this the comparison plot's two axes leave its points no room
TABLE_PADDING = 2  # the comparison table's padding, left and right (probes_panel.tcss)
NOTE_WIDTH = 30  # the split table's notes wrap at its width, or this when it is narrower


def curves_title(weight: float = probe_bridge.EMA_WEIGHT, width: int | None = None) -> str:
    """The loss plot's title, shorter for a plot `width` columns wide (None: unknown) than it needs: plotext
    leaves out a title wider than the plot's data columns, and at 60x20 (a 38-column plot) the plot had none."""
    titles = (f"train loss, smoothed (EMA {weight:g}) · {EVAL_MARKER} eval loss",
              f"train loss, smoothed · {EVAL_MARKER} eval", "train loss, smoothed")
    return next((t for t in titles if width is None or len(t) <= width - Y_TICKS_WIDTH), titles[-1])


def rank_name(rank: int) -> str:
    """A probe's rank as tables and plots name it: `r8`, or `base` for a ladder's rank 0 (no adapter: a causal
    LM before training, a classifier's head alone)."""
    return "base" if rank == 0 else f"r{rank}"


def rank_label(p) -> str:
    """A probe's name in its table row and on the plot: its rank, then what its id adds, a word each (its
    learning rate and seed when the run varies them, a ladder's pattern probe): `r8`, `r8 s1`,
    `r8 lr0.0002 s1`, `r32 pattern s2`."""
    suffix = p.id.split("-", 1)[1] if "-" in p.id else ""
    return " ".join([rank_name(p.rank), *re.findall(r"lr[\d.]+(?:e[+-]?\d+)?|[^-]+", suffix)])


def label_room(probes, width: int | None, labels: list[str] | None = None) -> float:
    """The share of the x range kept right of the last step for the lines' end labels: LABEL_ROOM, or more when
    a plot `width` columns wide would cut the longest label (`labels`, else the probes' names) at its right
    border."""
    names = labels if labels is not None else [rank_label(p) for p in probes]
    if not width or not names:
        return LABEL_ROOM
    columns = max(width - Y_TICKS_WIDTH, 10)  # the data's columns
    longest = max(len(name) for name in names) + 2  # its leading space, and the marker it starts on
    share = longest / columns  # of the whole axis, which is the steps' range times (1 + room)
    return max(LABEL_ROOM, min(share / (1 - share), 1.0) if share < 1 else 1.0)


PLOT_FRAME_ROWS = 5  # what a loss plot's title, borders, x ticks and x label take of its height (rows of data: the rest)
MERGED_LABEL_NAMES = 2  # an end label names at most this many lines ending together; more: the top one and a count


def end_labels(ends, width: int | None, height: int | None,
               y_range: tuple[float, float] | None = None) -> list[tuple[int, str]]:
    """The end labels of lines ending at `ends` ((x, y, name) in drawing order: a later line is drawn over an
    earlier one), for a plot `width` x `height` cells (None: unknown), as (index of the line it is drawn at, its
    text). Labels that would land on the same row and overlap are one label, drawn at the end of the top line
    (the one whose marker shows) and naming every line under it: `r16, r4` (two lines that end together, the
    first hidden under the second), `r4 s3 & 2 more` beyond MERGED_LABEL_NAMES. Each label drawn on its own, two
    that ended at one point overwrote each other (`r46`: r4 over r16), a name no probe has. `y_range`: the
    lowest and highest y the plot shows (its eval points too), else the ends' own."""
    if not ends:
        return []
    ys = [y for _x, y, _n in ends]
    low, high = y_range if y_range is not None else (min(ys), max(ys))
    rows = max((height or 24) - PLOT_FRAME_ROWS, 2)
    last = max(x for x, _y, _n in ends) or 1
    columns = max((width or 80) - Y_TICKS_WIDTH, 10)
    groups = [[i] for i in range(len(ends))]

    def text(group: list[int]) -> str:
        names = [ends[i][2] for i in group]
        if len(names) <= MERGED_LABEL_NAMES:
            return ", ".join(names)
        return f"{names[-1]} & {len(names) - 1} more"

    def place(group: list[int], room: float) -> tuple[float, float, float]:
        x, y, _name = ends[group[-1]]  # the top line's end
        row = (high - y) / (high - low) * (rows - 1) if high > low else 0.0
        column = x / (last * (1 + room) + 1) * columns
        return row, column, column + len(text(group)) + 2  # its leading space, and one column of slack

    merged = True
    while merged:  # merge a colliding pair at a time: a merged label is longer, and may reach a third
        merged = False
        room = label_room((), width, [text(g) for g in groups])
        spans = [place(g, room) for g in groups]
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                (ra, ca, ea), (rb, cb, eb) = spans[a], spans[b]
                if abs(ra - rb) <= 1.0 and ca < eb and cb < ea:  # a row apart: they may round onto one row
                    groups[a] = sorted(groups[a] + groups[b])
                    del groups[b]
                    merged = True
                    break
            if merged:
                break
    return sorted((g[-1], text(g)) for g in groups)


def line_style(index: int) -> tuple[str, str]:
    """The marker and colour of the run's `index`-th probe: its own marker for the first len(LINE_MARKERS), and
    after that a marker again with another colour than its first time (the colour steps on one more each round),
    so no two of the first 96 probes look alike. With 8 markers the ninth took the first's marker and colour."""
    rounds, i = divmod(index, len(LINE_MARKERS))
    return LINE_MARKERS[i], COLOURS[(index + rounds) % len(COLOURS)]


def draw_curves(plt, probes, curves, width: int | None = None, height: int | None = None) -> None:
    """The loss plot of a run, `width` x `height` cells (None: unknown): per probe the smoothed train loss (its
    own marker, a label at its end: end_labels, which never lets two labels overwrite each other) and its eval
    losses as points, in the probe's colour. No legend inside the plot (legend_text is drawn beside it)."""
    plt.clear_data()
    plt.title(curves_title(width=width))
    plt.xlabel("step")
    last = 0
    ends = []  # (x, y, name, colour) of each line's last point, in drawing order
    drawn: list[float] = []  # every y drawn: plotext's y axis spans them, which sets the rows the labels land on
    for i, p in enumerate(probes):
        c = curves.get(p.id)
        if c is None:
            continue
        marker, colour = line_style(i)
        line = [(s, y) for s, y in zip(c.steps, c.smoothed or c.loss, strict=False) if y == y]
        if line:
            xs, ys = zip(*line, strict=True)
            plt.plot(list(xs), list(ys), marker=marker, color=colour)
            ends.append((xs[-1], ys[-1], rank_label(p), colour))
            drawn.extend(ys)
            last = max(last, xs[-1])
        if c.eval_steps:
            plt.scatter(list(c.eval_steps), list(c.eval_loss), marker=EVAL_MARKER, color=colour)
            drawn.extend(y for y in c.eval_loss if y == y)
            last = max(last, c.eval_steps[-1])
    labels = end_labels([(x, y, name) for x, y, name, _c in ends], width, height,
                        (min(drawn), max(drawn)) if drawn else None)
    for i, text in labels:
        x, y, _name, colour = ends[i]
        plt.text(f" {text}", x=x, y=y, color=colour, alignment="left")
    if last:
        room = label_room((), width, [text for _i, text in labels])
        plt.xlim(0, last * (1 + room) + 1)  # room for the end labels
        ticks = nice_ticks(last)
        plt.xticks(ticks, [tick_label(t) for t in ticks])


def legend_text(probes, curves, width: int) -> Text:
    """The loss plot's legend, for beside it: each plotted probe's marker in its colour and its name, as many to
    a line as fit in `width` columns (an entry is never split)."""
    entries = []
    for i, p in enumerate(probes):
        if curves.get(p.id) is None:
            continue
        marker, colour = line_style(i)
        entries.append(Text.assemble((marker * 2, f"color({_ANSI[colour]})"), f" {rank_label(p)}"))
    lines: list[Text] = []
    for entry in entries:
        if lines and len(lines[-1]) + 2 + len(entry) <= width:
            lines[-1].append("  ")
            lines[-1].append_text(entry)
        else:
            lines.append(entry)
    return Text("\n").join(lines)


def seconds_text(v: float | None) -> str:
    """A duration for a table cell: 9.5s, 1m02s."""
    if v is None:
        return "-"
    m, s = divmod(int(round(v)), 60)
    return f"{m}m{s:02d}s" if m else f"{v:.1f}s"


def comparison_text(rows: tuple[probe_bridge.RankRow, ...], split: bool = False) -> str:
    """The finished ranks as an aligned text table (the `lorplan probe status` comparison). `split`: as two
    tables led by the rank, what each rank measured (eval loss, accuracy) and what it cost (train and load time,
    peak memory), with the notes wrapped to their width: about half as wide, for a narrow terminal."""
    empty = "No probe has finished yet: the ranks are compared here once they do."
    if not rows:
        return textwrap.fill(empty, NOTE_WIDTH) if split else empty
    several_lrs = len({r.lr for r in rows}) > 1
    seeds = max(r.seeds for r in rows) > 1
    lead = [["rank"] + (["lr"] if several_lrs else [])]
    measured = [["eval loss", "accuracy"]]
    cost = [["train", "load", "peak mem"]]
    for r in rows:
        lr = [numbers.lr_text(r.lr) if r.lr is not None else "-"] if several_lrs else []  # as lorplan recommend
        lead.append([probe_bridge.rank_text(r.rank)] + lr)
        measured.append([probe_bridge.interval_text(r.eval_loss, r.eval_loss_interval, ".4f"),
                         probe_bridge.interval_text(r.eval_accuracy, r.eval_accuracy_interval, ".3f")])
        cost.append([seconds_text(r.train_seconds), seconds_text(r.load_seconds),
                     memory_text(r.peak_memory_bytes) if r.peak_memory_bytes else "-"])
    counts = [["seeds"]] + [[str(r.seeds)] for r in rows] if seeds else [[] for _ in lead]
    if split:
        tables = [_aligned([a + b + c for a, b, c in zip(lead, counts, measured, strict=True)]),
                  _aligned([a + c for a, c in zip(lead, cost, strict=True)])]
        width = max(NOTE_WIDTH, *(len(line) for table in tables for line in table))
        note = textwrap.fill("mean [95% interval] over seeds" if seeds else
                             "one seed per rank: no interval (Recommend tab: seeds/probe 2 or more gives one)", width)
        return "\n".join([*tables[0], "", *tables[1], "", note])
    lines = _aligned([a + b + c + d for a, b, c, d in zip(lead, counts, measured, cost, strict=True)])
    note = ("mean [95% interval] over seeds" if seeds
            # two short lines: the table's widest line sets how much room the plot beside it keeps
            else "one seed per rank: no interval\n(Recommend tab: seeds/probe 2 or more gives one)")
    return "\n".join([*lines, "", note])


def _aligned(cells: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column right-aligned to its widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]


def compare_layout(rows: tuple[probe_bridge.RankRow, ...], width: int) -> tuple[str, bool]:
    """The comparison table for a view `width` columns wide, and whether the plot fits beside it (else it goes
    under it): the whole table when it leaves the plot COMPARE_PLOT_MIN_WIDTH columns, else the split one; under
    the plot, the whole table when it fits the width."""
    room = width - TABLE_PADDING - COMPARE_PLOT_MIN_WIDTH
    whole, split = comparison_text(rows), comparison_text(rows, split=True)
    for text in (whole, split):
        if text_width(text) <= room:
            return text, True
    return (whole if text_width(whole) <= width - TABLE_PADDING else split), False


def text_width(text: str) -> int:
    """The widest line of a text, in columns."""
    return max((len(line) for line in text.splitlines()), default=0)


def draw_comparison(plt, rows: tuple[probe_bridge.RankRow, ...]) -> None:
    """Final eval loss against rank (log2 axis) with the 95% intervals as error bars; accuracy on the right
    axis when the probes measured it, each axis's label led by its points' marker. A ladder's base (rank 0: no adapter) has no place on a log2 axis: its
    eval loss is a gray line across the ranks, labelled."""
    plt.clear_data()
    rows = tuple(r for r in rows if r.eval_loss is not None)
    base = next((r for r in rows if r.rank == 0), None)
    rows = tuple(r for r in rows if r.rank > 0)
    plt.title("final eval loss by rank" + (" (bars: 95% interval)" if any(r.eval_loss_interval for r in rows)
                                           else "")
              + (f" · gray line: the base {base.eval_loss:.4g}" if base is not None else ""))
    if not rows:
        return
    xs = [math.log2(r.rank) for r in rows]
    if base is not None:  # named in the title: a label inside the plot lands on the legend or the points
        plt.horizontal_line(base.eval_loss, color="gray")
    # each interval as a vertical bar from its low to its high end: plotext's error() centres a bar on the point,
    # and an interval clipped at loss 0 (lorplan.probe.compare) is not centred on its mean
    for x, r in zip(xs, rows, strict=True):
        if r.eval_loss_interval:
            plt.plot([x, x], list(r.eval_loss_interval), marker="│", color=COLOURS[0])
    plt.scatter(xs, [r.eval_loss for r in rows], marker=LINE_MARKERS[0], color=COLOURS[0])
    accuracy = [(x, r.eval_accuracy) for x, r in zip(xs, rows, strict=True) if r.eval_accuracy is not None]
    if accuracy:
        ax, ay = zip(*accuracy, strict=True)
        plt.scatter(list(ax), list(ay), marker=LINE_MARKERS[1], color=COLOURS[1], yside="right")
    ticks = sorted(set(xs))
    plt.xticks(ticks, [str(2 ** round(x)) if float(2 ** x).is_integer() else f"{2 ** x:g}" for x in ticks])
    plt.xlabel("rank")
    # the axes' labels name the markers: a legend inside the plot covers its top left point (the smallest rank,
    # whose loss is the highest)
    plt.ylabel(f"{LINE_MARKERS[0]} eval loss", yside="left")
    if accuracy:
        plt.ylabel(f"{LINE_MARKERS[1]} accuracy", yside="right")
    pad = 0.5
    plt.xlim(min(xs) - pad, max(xs) + pad)
