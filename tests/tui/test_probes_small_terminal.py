"""The Probes tab in an 80x24 terminal (an SSH window), and at 120x40.

Found in a walkthrough at 80x24: the tab was 26 rows tall in the 20 it has, so the loss plot's x axis was cut off
below the screen; plotext's legend, drawn over the plot's top left corner, covered the label at the end of a
short line (a probe a few steps in); the comparison plot ran past the screen's right edge (its right axis's
figures and its "accuracy" label cut off), and with several seeds the comparison table wrapped each rank over two
lines, its note losing "[95% interval]" to markup. These tests read the screen as the user sees it."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static
from tui_helpers import wait_until

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.tui.panels import probe_plot
from lorplan.tui.panels.probes_panel import ProbesPanel
from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio

RANKS = (4, 8, 16, 32)


def _probe(run, pid, rank, steps, result):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    for s in range(1, steps + 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 0.95 - 0.01 * s - 0.002 * rank,
                                            "seconds": 0.1})
        if s % 20 == 0:
            append_event(run.events_path(pid), {"type": "eval", "step": s, "eval_loss": 0.6 - 0.001 * rank,
                                                "eval_accuracy": 0.7})
    atomic_write_json(run.result_path(pid), {"state": "finished", "step": steps, **result})


def finished_run(root, seeds=(0,), short=None, steps=40, lrs=(), model=None):
    """Ranks 4-32 trained `steps` steps (with `seeds`: each seed a probe; with learning rates `lrs`: each rate a
    probe too); `short`: that rank stopped at step 3 (its line ends at the plot's top left); `model`: the model
    the plan names (None: the demo's)."""
    plan = runner.make_plan(RANKS, lrs, seeds=seeds, steps=steps, device="cpu", run="20261201-100000-d00d",
                            model=model)
    run = create_run(plan, root)
    for i, p in enumerate(run.plan().probes):
        loss = 0.5 - 0.003 * p.rank + 0.01 * (i % 3)
        _probe(run, p.id, p.rank, 3 if p.rank == short else steps,
               {"eval_loss": loss, "eval_accuracy": 0.7 + 0.005 * p.rank, "peak_memory_bytes": p.rank * 100 * 2**20,
                "load_seconds": 10.0, "train_seconds": 75.0})
    return run


async def probes_tab(pilot, ranks: int):
    """Open the Probes tab and wait for the run's comparison (`ranks` rows) and plot to be drawn."""
    app = pilot.app
    await pilot.press("f7")
    panel = app.screen.query_one(ProbesPanel)
    await wait_until(pilot, lambda: len(panel.ranks) == ranks and panel.plotted)
    await pilot.pause()
    return panel


def rows_of(app, widget) -> list[str]:
    """The screen's text in a widget's region, row by row."""
    r = widget.region
    return [line[r.x:r.right].rstrip() for line in screen_text(app).splitlines()[r.y:r.bottom]]


def shown(widget) -> bool:
    return widget.display and all(a.display for a in widget.ancestors if hasattr(a, "display"))


def assert_fits(app, panel) -> None:
    """The panel and everything shown in it are inside the screen: no line runs past its right edge, and the
    panel ends above the footer."""
    screen = app.screen.region
    assert panel.region.right <= screen.right and panel.region.bottom <= screen.bottom - 1, panel.region
    for widget in panel.query("*"):
        if shown(widget) and widget.region:
            assert widget.region.right <= screen.right, (widget, widget.region)


async def test_the_loss_plot_has_its_x_axis_and_its_legend_beside_it_at_80x24(make_app, isolated_home):
    """Three seeds of four ranks: twelve probes, the probe table's twelve rows took the plot's room; rank 32 was
    stopped at step 3, so its lines end at the plot's top left, where plotext drew its legend."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2, 3), short=32)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        plot = panel.query_one("#probes-plot")
        assert_fits(app, panel)
        assert panel.region.contains_region(plot.region)  # the plot's last rows were below the screen
        rows = rows_of(app, plot)
        assert "train loss, smoothed" in rows[0]
        assert rows[-1].strip() == "step" and rows[-2].split()[0] == "0" and "└" in rows[-3]  # the x axis, whole
        assert len(rows) >= 12  # title, 8 rows of data at least, the axis
        drawn = "\n".join(rows)
        # no legend at the plot's left edge (the long lines' names there could only be the legend's)
        doubled = "|".join(re.escape(m * 2) for m in probe_plot.LINE_MARKERS)
        assert not re.search(rf"[┤│] ({doubled}) r(4|8|16) ", drawn)
        assert re.search(r"[┤│] +\S+ r32 s3", drawn)  # so the short lines' end label is there, not under it
        legend = "\n".join(rows_of(app, panel.query_one("#probes-legend")))
        for i, p in enumerate(panel.status.probes):  # every probe's marker and name, beside the plot
            assert f"{probe_plot.line_style(i)[0] * 2} r{p.rank} s{p.id[-1]}" in legend, legend
        assert not plot.region.overlaps(panel.query_one("#probes-legend").region)


async def test_at_60x20_and_69x20_the_loss_plot_is_as_wide_as_the_screen_allows(make_app, isolated_home):
    """60 columns: the loss plot was drawn 116 columns wide (its 40-column minimum and the side column's 28 did not
    fit the 58 it has), its right half and the legend beside it off the screen. The plot and the side column
    share the width the panel has, the plot drawn as wide as its widget. At 69x20 the run's rows brought the
    panel's scrollbar after it had measured its 69 columns: the 67 left were one short of both minimums, and the
    plot was laid out 134 wide."""
    finished_run(isolated_home / "state" / "lorplan" / "runs")
    app = make_app()
    async with app.run_test(size=(69, 20)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        plot, side = panel.query_one("#probes-plot"), panel.query_one("#probes-side")
        assert panel.scrollable_size.width == 67
        await wait_until(pilot, lambda: plot.plt.monitor.size[0] == plot.size.width)
        assert_fits(app, panel)
        await pilot.resize_terminal(60, 20)
        await wait_until(pilot, lambda: plot.size.width < 40 and plot.plt.monitor.size[0] == plot.size.width)
        assert_fits(app, panel)
        body = panel.query_one("#probes-body").region
        assert plot.region.x == body.x and plot.region.right == side.region.x and side.region.right == body.right
        assert plot.region.width > side.region.width >= 16
        assert plot.plt.monitor.size[0] == plot.size.width  # drawn to the widget's width, not wider
        rows = rows_of(app, plot)
        assert "train loss, smoothed" in rows[0] and any("└" in row for row in rows)
        legend = "\n".join(rows_of(app, panel.query_one("#probes-legend")))
        for i, p in enumerate(panel.status.probes):  # every probe's name in the legend, on the screen
            assert f"{probe_plot.line_style(i)[0] * 2} r{p.rank}" in legend, legend


async def test_twelve_probes_have_twelve_markers_and_no_line_looks_like_another(make_app, isolated_home):
    """Three seeds of four ranks: the ninth probe on took the first ones' marker and colour again ("oo r4 s1" and
    "oo r16 s3" alike, on the plot and in its legend). Each of the twelve has its own marker now, so the legend
    tells them apart without colour, and each line's marker and colour together are its own."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2, 3))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        plt = panel.query_one("#probes-plot").plt
        lines = [(marks[0], colours[0]) for xs, marks, colours
                 in zip(plt.monitor.x, plt.monitor.marker, plt.monitor.color, strict=True)
                 if len(xs) > 2 and marks[0] != "◆"]  # the loss lines, not the eval points
        assert len(lines) == 12 and len(set(lines)) == 12, lines
        assert len({marker for marker, _colour in lines}) == 12
        legend = "\n".join(rows_of(app, panel.query_one("#probes-legend")))
        entries = re.findall(r"(\S)\1 (r\d+ s\d)", legend)
        assert len(entries) == 12 and len({marker for marker, _name in entries}) == 12, legend
        # the legend's marker is the one drawn on that probe's line (the lines are drawn in the probes' order)
        drawn = dict(zip([probe_plot.rank_label(p) for p in panel.status.probes], lines, strict=True))
        assert {name: drawn[name][0] for _marker, name in entries} == {name: marker for marker, name in entries}


def test_line_styles_stay_apart_well_past_the_markers():
    """The marker comes round again after len(LINE_MARKERS) probes, then with another colour: a marker and a
    colour together name one probe of the first 96."""
    styles = [probe_plot.line_style(i) for i in range(96)]
    assert len(set(styles)) == 96
    assert [marker for marker, _colour in styles[:len(probe_plot.LINE_MARKERS)]] == list(probe_plot.LINE_MARKERS)
    assert all(colour in probe_plot.COLOURS for _marker, colour in styles)


@pytest.mark.parametrize("seeds", [(0,), (1, 2, 3)])
async def test_the_comparison_fits_80x24_with_every_row_on_one_line(make_app, isolated_home, seeds):
    """One seed: the table (what each rank measured, then what it cost) and the plot beside it. Several: the
    table's rows are as wide as the screen allows, and the plot is under it (the view scrolls to it)."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=seeds)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        panel.query_one("#probes-table").focus()
        await pilot.press("v")
        await pilot.pause()
        assert_fits(app, panel)
        table = panel.query_one("#probes-compare-table", Static)
        text = "\n".join(rows_of(app, table))
        for r in panel.ranks:  # each rank's figures on one line
            loss = f"{r.eval_loss:.4f}" + (f" [{r.eval_loss_interval[0]:.4f}, {r.eval_loss_interval[1]:.4f}]"
                                           if r.eval_loss_interval else "")
            acc = f"{r.eval_accuracy:.3f}" + (f" [{r.eval_accuracy_interval[0]:.3f}, "
                                              f"{r.eval_accuracy_interval[1]:.3f}]" if r.eval_accuracy_interval else "")
            assert re.search(rf"^ +{r.rank} .*{re.escape(loss)} +{re.escape(acc)}$", text, re.M), (loss, acc, text)
            assert re.search(rf"^ +{r.rank} +1m15s +10\.0s +{r.rank * 100 if r.rank < 16 else ''}", text, re.M)
        compare = panel.query_one("#probes-compare")
        if len(seeds) > 1:
            assert "mean [95% interval] over seeds" in screen_text(app)  # the note as written, not as markup
            compare.focus()
            await pilot.press("end")  # scrolled to the plot under the table
            await wait_until(pilot, lambda: compare.scroll_offset.y == compare.max_scroll_y > 0)
            await pilot.pause()
        plot = panel.query_one("#probes-compare-plot")
        assert compare.region.contains_region(plot.region)
        rows = rows_of(app, plot)
        assert rows[0].strip().startswith("final eval loss by rank")
        assert re.search(r"o eval loss +rank +x accuracy", rows[-1]), rows[-1]  # both axes' labels
        assert re.search(r"┤ .* ├0\.\d{3}$", "\n".join(rows), re.M)  # the right axis's figures, whole
        assert rows[-2].split() == ["4", "8", "16", "32"]


async def test_at_120x40_the_tab_stays_as_it_was(make_app, isolated_home):
    """One seed per rank: a probe table of every row, the loss plot 80 columns wide, the whole comparison table
    beside its plot."""
    finished_run(isolated_home / "state" / "lorplan" / "runs")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        plot = panel.query_one("#probes-plot")
        assert panel.query_one("#probes-table").region.height == 1 + len(RANKS)
        assert plot.region.width == 80 and plot.region.height >= 22 and rows_of(app, plot)[-1].strip() == "step"
        panel.query_one("#probes-table").focus()
        await pilot.press("v")
        await pilot.pause()
        assert_fits(app, panel)
        table = "\n".join(rows_of(app, panel.query_one("#probes-compare-table")))
        assert re.search(r"rank +eval loss +accuracy +train +load +peak mem", table)  # one table
        compare_plot = panel.query_one("#probes-compare-plot")
        assert compare_plot.region.width >= 60 and "accuracy" in rows_of(app, compare_plot)[-1]


async def test_at_120x40_several_seeds_no_longer_wrap_the_comparison(make_app, isolated_home):
    """Three seeds per rank: the whole table is 86 columns, it had 84 and wrapped each rank over two lines. It
    is what each rank measured, then what it cost, with the plot beside it."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2, 3))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        panel.query_one("#probes-table").focus()
        await pilot.press("v")
        await pilot.pause()
        assert_fits(app, panel)
        table = "\n".join(rows_of(app, panel.query_one("#probes-compare-table")))
        for r in panel.ranks:
            assert re.search(rf"^ +{r.rank} +3 +{r.eval_loss:.4f} \[.*\] +{r.eval_accuracy:.3f} \[.*\]$", table, re.M)
            mem = f"{r.rank * 100} MiB" if r.rank < 16 else f"{r.rank * 100 / 1024:.2f} GiB"  # as the probe table
            assert re.search(rf"^ +{r.rank} +1m15s +10\.0s +{re.escape(mem)}$", table, re.M)
        assert "mean [95% interval] over seeds" in table
        compare_plot = panel.query_one("#probes-compare-plot")
        assert compare_plot.region.x >= 60 and compare_plot.region.width >= 40  # beside the table
        assert "accuracy" in rows_of(app, compare_plot)[-1]


def test_the_comparison_table_is_laid_out_for_the_width_it_has():
    from lorplan.probe.compare import RankRow
    from lorplan.tui.panels.probe_plot import COMPARE_PLOT_MIN_WIDTH, compare_layout, text_width

    def rows(seeds):
        interval = (0.46, 0.52) if seeds > 1 else None
        return tuple(RankRow(r, None, seeds, (f"r{r}",), 0.5, interval, 0.72, interval and (0.7, 0.74), 75.0, 10.0,
                             r * 100 * 2**20) for r in RANKS)

    whole, beside = compare_layout(rows(3), 140)
    assert beside and text_width(whole) > 78 and whole.splitlines()[0].endswith("peak mem")  # one table
    split, beside = compare_layout(rows(3), 120)  # what was measured, then what it cost: the plot keeps 60
    assert beside and text_width(split) <= 120 - 2 - COMPARE_PLOT_MIN_WIDTH
    assert [line.split()[0] for line in split.splitlines() if line.strip().startswith("rank")] == ["rank", "rank"]
    assert all(figure in split for figure in ("0.5000 [0.4600, 0.5200]", "0.720 [0.700, 0.740]", "3.12 GiB"))
    under, beside = compare_layout(rows(3), 80)
    assert not beside and under == split and text_width(under) <= 78
    one, beside = compare_layout(rows(1), 80)  # one seed: narrow enough for the plot beside it
    assert beside and text_width(one) <= 80 - 2 - COMPARE_PLOT_MIN_WIDTH and "no interval" in one


@pytest.mark.parametrize(("ranks", "text"), [
    ((4, 8, 16, 32), "r4,8,16,32"),
    ((4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32), "r4,8,16,32 ×3"),  # was r4,4,4,8,8,8,16,16,16,32,32,32
    ((4, 8, 4, 8), "r4,8 ×2"),  # in rank order, whatever the plan's order
    ((4, 4, 4, 8), "r4×3,8"),
    ((0, 16, 16, 16, 1, 4), "base, r1,4,16×3"),  # a ladder: its base probe, then two passes
    ((0,), "base"),
])
def test_the_run_list_names_each_rank_once_with_its_count(ranks, text):
    from lorplan.tui.probe_bridge import ranks_text

    assert ranks_text(ranks) == text


@pytest.mark.parametrize(("model", "shown_as"), [(None, "demo"), ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen")])
async def test_the_run_selector_says_the_ranks_and_seeds_at_80x24(make_app, isolated_home, model, shown_as):
    """Three seeds of four ranks: the run's line in the list read "r4,4,4,8,8,8,16,…", cut off by the list's
    width before it named rank 32, and said the seeds only by repeating the ranks. With a real model,
    "20261201-100000-d00d · Qwen2.5-0.5B-Instruct · r4,8,16,32 ×3" was wider than the selector at 80 columns, and
    the ranks at its end, what tells this run's probes apart, were cut off: the ranks now come before the model,
    which is named by the last part of its id (it may be cut, not the ranks)."""
    run = finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2, 3), model=model)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        select = panel.query_one("#probes-run")
        assert_fits(app, panel)
        shown = " ".join(rows_of(app, select))
        assert f"{run.id} · r4,8,16,32 ×3 · {shown_as}" in shown, shown
        assert "Qwen/" not in shown


# -- the probe table: every figure whole, every probe named -------------------------------------------------
# Found at 80x24: the table was 85 columns wide, so its right edge cut the peak memory column mid-figure
# ("400."), and with several seeds its rank column read "r4", "r4", "r4" without saying which seed each row was.

HEADINGS = ["probe", "state", "step", "loss", "eval", "acc", "tok/s", "train", "load", "peak mem"]


def expected_cells(p, name: str) -> list[str]:
    """What the table's row for probe `p` says (the fixture's probes report no tokens per second)."""
    mem = f"{p.rank * 100} MiB" if p.rank < 16 else f"{p.rank * 100 / 1024:.2f} GiB"  # as the comparison writes it
    return [name, "finished", str(p.step), f"{p.loss:.4f}", f"{p.eval_loss:.4f}", f"{p.eval_accuracy:.3f}",
            "-", "1m15s", "10.0s", mem]


def table_lines(app, panel) -> tuple[list[str], list[list[str]]]:
    """The probe table as seen: its heading's words and each shown row's cells (runs of 2+ spaces apart)."""
    table = panel.query_one("#probes-table")
    r = table.region  # less its scrollbars
    right = r.right - (table.scrollbar_size_vertical if table.show_vertical_scrollbar else 0)
    bottom = r.bottom - (table.scrollbar_size_horizontal if table.show_horizontal_scrollbar else 0)
    lines = [line[r.x:right].strip() for line in screen_text(app).splitlines()[r.y:bottom]]
    cells = [re.split(r"\s{2,}", line) for line in lines if line]
    return cells[0], cells[1:]


def by_name(panel, names) -> dict:
    return {names[p.id]: p for p in panel.status.probes}


@pytest.mark.parametrize(("size", "steps"), [((80, 24), 40), ((80, 24), 100), ((120, 40), 40)])
async def test_the_probe_table_names_each_seed_and_shows_every_figure_whole(make_app, isolated_home, size, steps):
    """Three seeds of four ranks: each row says its rank and seed, as the plot's legend does, and the whole row,
    the peak memory too, is on screen without scrolling sideways. At 100 steps the table was 81 columns at 80x24
    ("100/100" in the step column) and the peak memory went out of view."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2, 3), steps=steps)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        panel = await probes_tab(pilot, len(RANKS))
        table = panel.query_one("#probes-table")
        assert_fits(app, panel)
        names = {p.id: f"r{p.rank} s{p.id[-1]}" for p in panel.status.probes}
        probes = by_name(panel, names)
        seen = set()
        for _ in range(3):  # the rows on screen, then the later ones (a short terminal shows five)
            heading, rows = table_lines(app, panel)
            assert heading == HEADINGS
            assert rows
            for cells in rows:
                assert cells[0] in probes, cells  # "r4 s2", not "r4"
                assert cells == expected_cells(probes[cells[0]], cells[0])
                seen.add(cells[0])
            table.focus()
            await pilot.press("pagedown")
            await pilot.pause()
        assert table.max_scroll_x == 0  # nothing is left to the right of the screen
        if size[1] >= 40:
            assert len(rows) >= 11
        assert seen == set(names.values()) or size[1] < 40 and len(seen) >= 10


async def test_a_table_wider_than_the_screen_scrolls_by_whole_columns(make_app, isolated_home):
    """Two learning rates and two seeds: a probe is named "r16 lr0.0002 s2", and the table is wider than 80
    columns. The name stays at the left; the other columns scroll sideways a whole column at a time, and no
    column shows cut at either edge."""
    finished_run(isolated_home / "state" / "lorplan" / "runs", seeds=(1, 2), lrs=(2e-4, 1e-3))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await probes_tab(pilot, 2 * len(RANKS))  # a rank at each rate
        table = panel.query_one("#probes-table")
        assert_fits(app, panel)
        names = {p.id: p.id.replace("-", " ") for p in panel.status.probes}  # "r4 lr0.0002 s1"
        probes = by_name(panel, names)
        table.focus()
        shown: set[str] = set()
        for _ in range(len(HEADINGS)):
            heading, rows = table_lines(app, panel)
            assert heading[0] == "probe" and " ".join(heading[1:]) in " ".join(HEADINGS[1:]), heading
            for cells in rows:
                expected = expected_cells(probes[cells[0]], cells[0])
                assert " ".join(cells[1:]) in " ".join(expected[1:]), (cells, expected)  # whole cells, in a run
                assert len(cells) > 1 and all(c in expected for c in cells), (cells, expected)
            shown.update(heading)
            if table.scroll_offset.x == table.max_scroll_x:
                break
            await pilot.press("right")
            await pilot.pause()
        assert table.max_scroll_x > 0 and table.scroll_offset.x == table.max_scroll_x
        assert shown == set(HEADINGS)  # every column was reached, each whole
