"""The loss plot's end labels never overwrite each other.

Found in a pilot walk: a probe ladder's r4 and r16 trained 4 steps to about the same loss (10.2410 and 10.2414),
their lines ended at one point and each line's label was drawn there, " r4" over " r16": the plot showed `r46`,
a name no probe has, and r16's markers lay under r4's with nothing on the plot naming r16. Labels that would
land on one row over each other are one label now, naming every line under it (`r16, r4`)."""

from __future__ import annotations

import re

import pytest
from test_probes_small_terminal import rows_of
from tui_helpers import wait_until

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.tui.panels import probe_plot
from lorplan.tui.panels.probes_panel import ProbesPanel

pytestmark = pytest.mark.anyio


def _finished(run, pid, losses):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    for s, loss in enumerate(losses, 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": loss, "seconds": 0.1})
    append_event(run.events_path(pid), {"type": "eval", "step": len(losses), "eval_loss": losses[-1] + 0.05})
    atomic_write_json(run.result_path(pid), {"state": "finished", "step": len(losses), "eval_loss": losses[-1],
                                             "load_seconds": 1.0, "train_seconds": 1.0})


def _run(root, ranks, losses_of):
    plan = runner.make_plan(ranks, steps=4, device="cpu", run="20261201-100000-e11d")
    run = create_run(plan, root)
    for p in run.plan().probes:
        _finished(run, p.id, losses_of(p.rank))
    return run


def _labels_on(rows: list[str]) -> list[str]:
    """The rank names written on the plot's rows (r4, r16, ...), each as a whole word."""
    return re.findall(r"(?<![\w.])r\d+(?![\w.])", "\n".join(rows))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_two_lines_ending_at_one_point_have_both_names_readable(make_app, isolated_home, size):
    # r16 first, r4 drawn over it: as the walk's ladder ordered them
    losses = (10.30, 10.29, 10.26, 10.241)
    _run(isolated_home / "state" / "lorplan" / "runs", (16, 4), lambda rank: losses)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f7")
        panel = app.screen.query_one(ProbesPanel)
        await wait_until(pilot, lambda: panel.plotted and len(panel.ranks) == 2)
        await pilot.pause()
        rows = rows_of(app, panel.query_one("#probes-plot"))
        drawn = "\n".join(rows)
        assert "r46" not in drawn and "r164" not in drawn, drawn
        names = _labels_on(rows)
        assert sorted(names) == ["r16", "r4"], drawn  # each once, and no name made of two
        assert re.search(r" r16, r4\b", drawn), drawn  # one label, at the top line's end, naming both


def test_labels_apart_stay_apart_and_close_ones_merge():
    """Pure: two ends far apart on the y axis keep their own labels; two a row apart at one step are one; more
    than MERGED_LABEL_NAMES at one point name the top line and how many more lie under it."""
    apart = probe_plot.end_labels([(40, 1.0, "r4"), (40, 0.5, "r16")], 80, 24, (0.5, 1.0))
    assert apart == [(0, "r4"), (1, "r16")]
    close = probe_plot.end_labels([(40, 0.751, "r4"), (40, 0.75, "r16")], 80, 24, (0.5, 1.0))
    assert close == [(1, "r4, r16")]
    many = probe_plot.end_labels([(40, 0.75, f"r{r}") for r in (4, 8, 16)], 80, 24, (0.5, 1.0))
    assert many == [(2, "r16 & 2 more")]
    # at different steps, far enough apart in x for both labels on one row
    far = probe_plot.end_labels([(3, 0.75, "r4"), (40, 0.75, "r16")], 120, 40, (0.5, 1.0))
    assert far == [(0, "r4"), (1, "r16")]


async def test_c_on_a_finished_run_says_why_nothing_was_cancelled(make_app, isolated_home):
    """Found in the same walk: c (cancel the highlighted probe) on a run whose probes had all finished did
    nothing, no message at all (the key is off the footer there: nothing can be cancelled); C said "nothing
    left to cancel". c now says so of the highlighted probe, and is still not offered in the footer."""
    _run(isolated_home / "state" / "lorplan" / "runs", (16, 4), lambda rank: (0.9, 0.8, 0.7, 0.6 - rank / 1000))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f7")
        panel = app.screen.query_one(ProbesPanel)
        await wait_until(pilot, lambda: panel.plotted and len(panel.ranks) == 2)
        app.screen.query_one("#probes-table").focus()
        await pilot.pause()
        highlighted = panel.selected()
        assert highlighted is not None and highlighted.state == "finished"
        shown = {a.binding.action for a in app.screen.active_bindings.values() if a.binding.show and a.enabled}
        assert "cancel_probe" not in shown
        before = len(app._notifications)
        await pilot.press("c")
        await pilot.pause()
        said = [n.message for n in list(app._notifications)[before:]]
        assert said == [f"probe {highlighted.id} has already ended (finished); nothing to cancel"], said
