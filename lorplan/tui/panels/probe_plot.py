"""What the Probes tab draws with plotext: the loss curves of a run's ranks, and its ranks side by side.

Each rank's line has its own marker and a label at its end, so the lines can be told apart without colour;
the train loss is its moving average (probe_bridge.ema), which the title says; eval losses are points. The
comparison is a text table (final eval loss and accuracy, with their 95% intervals when several seeds ran,
training and loading time, peak memory) and a plot of eval loss against rank on a log2 axis with the intervals
as error bars. Pure drawing: the values come frozen from the feed's read.
"""

from __future__ import annotations

import math

from lorplan.core.units import format_bytes
from lorplan.tui import numbers, probe_bridge
from lorplan.tui.plot_ticks import nice_ticks, tick_label

LINE_MARKERS = ("o", "x", "+", "*", "%", "#", "=", "~")  # one per rank, in rank order (ASCII: any terminal)
EVAL_MARKER = "◆"
COLOURS = ("cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white")
LABEL_ROOM = 0.12  # of the x range, kept right of the last step for the labels at the lines' ends


def curves_title(weight: float = probe_bridge.EMA_WEIGHT) -> str:
    return f"train loss, smoothed (EMA {weight:g}) · {EVAL_MARKER} eval loss"


def rank_name(rank: int) -> str:
    """A probe's rank as tables and plots name it: `r8`, or `base` for a ladder's rank 0 (no adapter: a causal
    LM before training, a classifier's head alone)."""
    return "base" if rank == 0 else f"r{rank}"


def rank_label(p) -> str:
    """A probe's name on the plot: its rank, and its learning rate and seed when the run varies them."""
    suffix = p.id.split("-", 1)[1] if "-" in p.id else ""
    return rank_name(p.rank) + (f" {suffix}" if suffix else "")


def draw_curves(plt, probes, curves) -> None:
    """The loss plot of a run: per probe the smoothed train loss (its own marker, a label at its end) and its
    eval losses as points, in the probe's colour."""
    plt.clear_data()
    plt.title(curves_title())
    plt.xlabel("step")
    last = 0
    for i, p in enumerate(probes):
        c = curves.get(p.id)
        if c is None:
            continue
        marker, colour = LINE_MARKERS[i % len(LINE_MARKERS)], COLOURS[i % len(COLOURS)]
        line = [(s, y) for s, y in zip(c.steps, c.smoothed or c.loss, strict=False) if y == y]
        if line:
            xs, ys = zip(*line, strict=True)
            plt.plot(list(xs), list(ys), marker=marker, color=colour, label=rank_label(p))
            plt.text(f" {rank_label(p)}", x=xs[-1], y=ys[-1], color=colour, alignment="left")
            last = max(last, xs[-1])
        if c.eval_steps:
            plt.scatter(list(c.eval_steps), list(c.eval_loss), marker=EVAL_MARKER, color=colour)
            last = max(last, c.eval_steps[-1])
    if last:
        plt.xlim(0, last * (1 + LABEL_ROOM) + 1)  # room for the end labels
        ticks = nice_ticks(last)
        plt.xticks(ticks, [tick_label(t) for t in ticks])


def seconds_text(v: float | None) -> str:
    """A duration for a table cell: 9.5s, 1m02s."""
    if v is None:
        return "-"
    m, s = divmod(int(round(v)), 60)
    return f"{m}m{s:02d}s" if m else f"{v:.1f}s"


def comparison_text(rows: tuple[probe_bridge.RankRow, ...]) -> str:
    """The finished ranks as an aligned text table (the `lorplan probe status` comparison)."""
    if not rows:
        return "No probe has finished yet: the ranks are compared here once they do."
    several_lrs = len({r.lr for r in rows}) > 1
    seeds = max(r.seeds for r in rows) > 1
    cells = [["rank"] + (["lr"] if several_lrs else []) + (["seeds"] if seeds else [])
             + ["eval loss", "accuracy", "train", "load", "peak mem"]]
    for r in rows:
        lr = [numbers.lr_text(r.lr) if r.lr is not None else "-"] if several_lrs else []  # as lorplan recommend
        cells.append([probe_bridge.rank_text(r.rank)] + lr + ([str(r.seeds)] if seeds else [])
                     + [probe_bridge.interval_text(r.eval_loss, r.eval_loss_interval, ".4f"),
                        probe_bridge.interval_text(r.eval_accuracy, r.eval_accuracy_interval, ".3f"),
                        seconds_text(r.train_seconds), seconds_text(r.load_seconds),
                        format_bytes(r.peak_memory_bytes) if r.peak_memory_bytes else "-"])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    note = ("mean [95% interval] over seeds" if seeds
            # two short lines: the table's widest line sets how much room the plot beside it keeps
            else "one seed per rank: no interval\n(Recommend tab: seeds/probe 2 or more gives one)")
    return "\n".join([*lines, "", note])


def draw_comparison(plt, rows: tuple[probe_bridge.RankRow, ...]) -> None:
    """Final eval loss against rank (log2 axis) with the 95% intervals as error bars; accuracy on the right
    axis when the probes measured it. A ladder's base (rank 0: no adapter) has no place on a log2 axis: its
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
    plt.scatter(xs, [r.eval_loss for r in rows], marker=LINE_MARKERS[0], color=COLOURS[0], label="eval loss")
    accuracy = [(x, r.eval_accuracy) for x, r in zip(xs, rows, strict=True) if r.eval_accuracy is not None]
    if accuracy:
        ax, ay = zip(*accuracy, strict=True)
        plt.scatter(list(ax), list(ay), marker=LINE_MARKERS[1], color=COLOURS[1], yside="right",
                    label="accuracy")
    ticks = sorted(set(xs))
    plt.xticks(ticks, [str(2 ** round(x)) if float(2 ** x).is_integer() else f"{2 ** x:g}" for x in ticks])
    plt.xlabel("rank")
    plt.ylabel("eval loss", yside="left")
    if accuracy:
        plt.ylabel("accuracy", yside="right")
    pad = 0.5
    plt.xlim(min(xs) - pad, max(xs) + pad)
