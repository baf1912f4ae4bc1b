"""Pilot tests of the Probes panel against a run folder written by the test (no probe process runs)."""

from __future__ import annotations

import re

import pytest
from model_builders import tiny_llama as tiny_llama_folder
from textual.widgets import DataTable, Select, Static
from tui_helpers import NoSpawnBackend, PanelApp, wait_until

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.tui.messages import ProbeRunUpdated
from lorplan.tui.panels.probe_work import rank_ladder
from lorplan.tui.panels.probes_panel import ProbesPanel

pytestmark = pytest.mark.anyio

TRACEBACK = "Traceback (most recent call last):\n  File \"worker.py\", line 9, in run\nRuntimeError: injected failure at step 2"


def _launched(run, pid, steps, evals=()):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path(pid), {"type": "loading", "pid": 999999})
    append_event(run.events_path(pid), {"type": "started", "lr": 0.002, "device": "cpu", "trainable_params": 169730,
                                        "load_seconds": 9.5})
    for s in range(1, steps + 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 0.7 - 0.01 * s, "tokens_per_second": 400.0,
                                            "seconds": 3.1})
        if s in evals:
            append_event(run.events_path(pid), {"type": "eval", "step": s, "eval_loss": 0.6 - 0.01 * s, "eval_accuracy": 0.8})


def make_run(root):
    run = create_run(runner.make_plan((4, 8, 16, 32), steps=20, device="cpu", run="20261128-100000-abcd"), root)
    _launched(run, "r4", 20, evals=(10, 20))
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 20, "eval_loss": 0.41, "eval_accuracy": 0.875,
                                              "tokens_per_second": 412.0, "peak_memory_bytes": 600 * 2**20,
                                              "wall_seconds": 75.0, "lr": 0.002, "load_seconds": 9.5,
                                              "train_seconds": 62.0})
    _launched(run, "r8", 2)
    atomic_write_json(run.result_path("r8"), {"state": "failed", "step": 2, "message": "RuntimeError: injected failure",
                                              "traceback": TRACEBACK, "wall_seconds": 6.0})
    _launched(run, "r16", 1)
    atomic_write_json(run.result_path("r16"), {"state": "oom", "step": 1, "message": "does not fit at micro-batch 16",
                                               "traceback": "torch.OutOfMemoryError: CUDA out of memory."})
    return run  # r32 stays queued


def _row(table, key):
    return [str(c) for c in table.get_row(key)]


async def test_panel_shows_states_table_curves_and_traceback(tmp_path):
    run = make_run(tmp_path)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(ProbesPanel)
        table = app.query_one("#probes-table", DataTable)
        assert app.query_one("#probes-run", Select).value == run.id
        assert table.row_count == 4
        # training and model loading apart (the wall time, 75 s, counted both and the waiting)
        assert _row(table, "r4") == ["r4", "finished", "20", "0.5000", "0.4100", "0.875", "412", "1m02s", "9.5s",
                                     "600 MiB"]  # the step of the summary's 20; peak memory as the comparison
        assert "20 steps" in str(app.query_one("#probes-summary", Static).render())
        assert _row(table, "r8")[1:3] == ["failed", "2"]
        assert _row(table, "r16")[1] == "oom"
        assert _row(table, "r32")[1:3] == ["queued", "0"]
        assert panel.plotted["r4"] == 22  # 20 train points and 2 eval points on the plot
        table.move_cursor(row=1)
        await pilot.pause()
        detail = str(app.query_one("#probes-detail", Static).render())
        assert "r8: failed" in detail and "injected failure at step 2" in detail
        assert "wall 6.0s: loading 9.5s, training 6.2s" in detail
        assert app.query_one("#probes-detail").has_class("-error")


async def test_cancel_a_queued_probe_and_retry_a_failed_one(tmp_path):
    run = make_run(tmp_path)
    backend = NoSpawnBackend()
    app = PanelApp(tmp_path, backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#probes-table", DataTable)
        table.focus()
        table.move_cursor(row=3)  # r32, queued
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        assert _row(table, "r32")[1] == "cancelled"
        table.move_cursor(row=1)  # r8, failed
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        assert _row(table, "r8")[1:3] == ["queued", "0"]
        assert backend.submitted == [run.id]
        assert (run.probe_dir("r8") / "attempt-1" / "result.json").exists()


async def test_empty_state_explains_how_to_start(tmp_path):
    app = PanelApp(tmp_path / "nothing", NoSpawnBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        panel = app.query_one(ProbesPanel)
        assert panel.has_class("-empty")
        assert "lorplan probe start" in str(app.query_one("#probes-empty", Static).render())


async def test_live_probe_updates_row_and_curve(tmp_path):
    import fcntl
    import os

    run = make_run(tmp_path)
    _launched(run, "r32", 3)
    fd = os.open(run.alive_lock("r32"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # r32's process "lives" while this test holds its lock
    try:
        app = PanelApp(tmp_path, NoSpawnBackend())
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            panel = app.query_one(ProbesPanel)
            table = app.query_one("#probes-table", DataTable)
            assert _row(table, "r32")[1:3] == ["running", "3"]
            assert _row(table, "r32")[7:9] == ["9.3s", "9.5s"]  # 3 steps of 3.1 s; loaded in 9.5 s
            assert panel.plotted["r32"] == 3
            for s in range(4, 9):
                append_event(run.events_path("r32"), {"type": "step", "step": s, "loss": 0.5, "tokens_per_second": 300.0})
            append_event(run.events_path("r32"), {"type": "eval", "step": 8, "eval_loss": 0.45, "eval_accuracy": 0.7})
            await pilot.pause(0.6)
            assert _row(table, "r32")[1:6] == ["running", "8", "0.5000", "0.4500", "0.700"]
            assert panel.plotted["r32"] == 9
    finally:
        os.close(fd)


def tiny_llama(folder, hidden=64):
    """A real model folder (tests/model_builders.py). Its widest module is hidden x hidden (min(in, out): the
    largest rank a module can use)."""
    return tiny_llama_folder(folder, hidden=hidden, special_ids=False)


def prompt_data(path):
    """30 prompt-completion rows of 1-4 completion words."""
    import json

    path.write_text("".join(json.dumps({"prompt": f"q{i} ", "completion": "a " * (1 + i % 4)}) + "\n"
                            for i in range(30)))
    return path


async def _profiled_probes_tab(pilot, data):
    """Profile `data` in the Data tab, then open the Probes tab; its panel, with a backend that starts nothing."""
    from lorplan.tui.panels.data_panel import DataPanel

    app = pilot.app
    await pilot.press("f6")
    await pilot.pause()
    data_panel = app.screen.query_one(DataPanel)
    data_panel.query_one("#data-path").value = str(data)
    data_panel.start_profile()
    await wait_until(pilot, lambda: app.main.data is not None and not data_panel.has_class("-running"))
    await pilot.press("f7")
    await pilot.pause()
    panel = app.screen.query_one(ProbesPanel)
    panel.backend = NoSpawnBackend()
    return panel


async def _press_p(pilot, panel) -> list[str]:
    """Press `p` on the Probes tab's table with no notification on screen; the messages it posts (waited for)."""
    app = pilot.app
    app.clear_notifications()
    panel.query_one("#probes-table").focus()
    await pilot.press("p")
    await wait_until(pilot, lambda: list(app._notifications))
    return [n.message for n in app._notifications]


def test_rank_ladder_and_model_path(tmp_path):
    from lorplan.core.errors import BadInput
    from lorplan.tui import probe_bridge

    assert rank_ladder(16) == (4, 8, 16, 32) and rank_ladder(1) == (1, 2) and rank_ladder(6) == (1, 3, 6, 12)
    model = tiny_llama(tmp_path / "tiny")
    assert probe_bridge.probe_model(str(model)) == str(model.resolve())
    assert probe_bridge.probe_model(str(model / "config.json")) == str(model.resolve())
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "config.json").write_text("{}")
    with pytest.raises(BadInput, match="no weights"):
        probe_bridge.probe_model(str(tmp_path / "config-only"))
    with pytest.raises(BadInput, match="hf download meta-llama/Llama-3.1-8B"):
        probe_bridge.probe_model("meta-llama/Llama-3.1-8B")  # a catalog entry: a config, no weights


async def test_p_probes_the_plan_on_the_profiled_data(make_app, tmp_path, isolated_home):
    """The plan the export would write (the Plan tab's model, setup and applied rank_pattern, the Data tab's
    dataset) becomes a probe run (submitted, not spawned), and the tab follows it from the run it showed."""

    from lorplan.probe.plans import base_plan, plan_settings
    from lorplan.probe.runs import list_runs
    from lorplan.tui import bridge
    from lorplan.tui.panels.data_panel import DataPanel
    from lorplan.tui.panels.plan_view import PlanView
    from lorplan.tui.state import Tuning

    model = tiny_llama(tmp_path / "tiny-llama")
    data = prompt_data(tmp_path / "pc.jsonl")
    old = make_run(isolated_home / "state" / "lorplan" / "runs")  # the run the Probes tab shows first
    app = make_app(model=str(model))
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        for _ in range(200):
            await pilot.pause(0.05)
            if app.main.plan is not None and view.state.source == str(model):
                break
        assert app.main.plan is not None
        view.apply_tuning(16, Tuning(alpha=32, learning_rate=1e-4, rank_pattern={"q_proj": 4}))
        await pilot.pause()
        await pilot.press("f7")
        await pilot.pause()
        panel = app.screen.query_one(ProbesPanel)  # its runs: $XDG_STATE_HOME/lorplan/runs (a temp folder here)
        panel.backend = NoSpawnBackend()
        await wait_until(pilot, lambda: panel.query_one("#probes-run", Select).value == old.id)
        panel.query_one("#probes-table").focus()
        await pilot.press("p")  # nothing profiled yet: the panel says what is missing and starts nothing
        await pilot.pause()
        assert [r.id for r in list_runs(panel.runs_dir)] == [old.id]
        assert any("Profile your dataset" in n.message for n in app._notifications)
        await pilot.press("f6")
        await pilot.pause()
        data_panel = app.screen.query_one(DataPanel)
        data_panel.query_one("#data-path").value = str(data)
        data_panel.start_profile()
        for _ in range(400):
            await pilot.pause(0.05)
            if data_panel.plan_data() is not None and not data_panel.has_class("-running"):
                break
        await pilot.press("f7")
        await pilot.pause()
        panel.query_one("#probes-table").focus()
        await pilot.press("p")
        for _ in range(200):
            await pilot.pause(0.05)
            if panel.backend.submitted:
                break
        (run,) = [r for r in list_runs(panel.runs_dir) if r.id != old.id]
        assert panel.backend.submitted == [run.id]
        table = panel.query_one("#probes-table", DataTable)
        # the tab follows the new run (it stayed on the one it showed)
        await wait_until(pilot, lambda: panel.query_one("#probes-run", Select).value == run.id)
        await wait_until(pilot, lambda: set(table.rows) == {f"r{r}" for r in rank_ladder(16)})
        plan = run.plan()
        exported = bridge.plan_from_setup(app.main.plan, app.main.data)  # what ctrl+e would write
        assert plan.base == plan_settings(exported)["base"]  # probed exactly: every section of the plan
        assert dict(base_plan(plan).lora.rank_pattern) == {"q_proj": 4}
        assert base_plan(plan).training.learning_rate == 1e-4 and base_plan(plan).lora.alpha == 32
        assert plan.model == str(model.resolve()) and plan.data == str(data)
        assert [p.rank for p in plan.probes] == list(rank_ladder(app.main.plan.rank))
        setup = app.main.plan.setup
        assert (plan.seq_len, plan.micro_batch, plan.train_on) == (setup.seq_len, setup.micro_batch, "completion")


async def test_p_leaves_out_ranks_no_module_can_use_and_refuses_a_selected_one(make_app, tmp_path, isolated_home):
    """`p` at the largest rank of a narrow model probed double it (32 on 16-wide modules): `lorplan probe start
    --ranks` refuses that rank (bounds.check_ranks). The derived rank is left out, saying so; a selected rank
    above the limit is refused in the app, through the same check."""
    from dataclasses import replace

    from lorplan.probe.runs import list_runs
    from lorplan.tui.panels.plan_view import PlanView

    model = tiny_llama(tmp_path / "narrow-llama", hidden=16)
    data = prompt_data(tmp_path / "pc.jsonl")
    app = make_app(model=str(model))
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None and view.state.source == str(model))
        assert max(app.main.plan.ranks) == 16  # the table stops at the widest module
        view.table.action_move_to(-1)
        await wait_until(pilot, lambda: app.main.plan.rank == 16)
        panel = await _profiled_probes_tab(pilot, data)
        panel.query_one("#probes-table").focus()
        await pilot.press("p")
        await wait_until(pilot, lambda: panel.backend.submitted)
        (run,) = list_runs(panel.runs_dir)
        assert [p.rank for p in run.plan().probes] == [4, 8, 16]
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"started run {run.id}: ranks 4, 8, 16\n") and m.endswith(
            "rank 32 not probed: above 16, the largest rank a module the plan adapts can use (min(in, out) of its "
            "widest adapted module)") for m in messages), messages

        panel.plan = replace(app.main.plan, rank=32)  # a rank the Plan tab never offers here
        assert await _press_p(pilot, panel) == [
            "Cannot probe this plan: selected rank: rank 32 is above 16, the largest rank a module it adapts can "
            f"use (min(in, out) of {model}'s widest adapted module)"]
        assert [r.id for r in list_runs(panel.runs_dir)] == [run.id] and panel.backend.submitted == [run.id]


async def test_p_refuses_a_plan_whose_seq_len_is_beyond_the_models_context(make_app, tmp_path, isolated_home):
    """`p` checks the plan's training.seq_len against the context of the model on disk (runner.check_start,
    core.memory.bounds.check_context, as `lorplan probe start --seq-len`): it passed no seq len, so a plan
    beyond the context started a run whose probes then cut their rows to the model's positions."""
    from dataclasses import replace

    from lorplan.probe.runs import list_runs
    from lorplan.tui.panels.plan_view import PlanView

    model = tiny_llama(tmp_path / "tiny-llama")  # context 256
    data = prompt_data(tmp_path / "pc.jsonl")
    app = make_app(model=str(model))
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: app.main.plan is not None and view.state.source == str(model))
        panel = await _profiled_probes_tab(pilot, data)
        plan = app.main.plan
        assert plan.setup.seq_len == 256  # the Plan tab's own default stops at the context
        panel.plan = replace(plan, setup=replace(plan.setup, seq_len=512))  # a plan beyond it
        assert await _press_p(pilot, panel) == [
            f"Cannot probe this plan: training.seq_len = 512 is beyond {model}'s context of 256 tokens "
            "(max_position_embeddings); shorten the sequences, or extend RoPE with model.rope_scaling = 2 (linear "
            "position interpolation, which the plan and its exports carry)"]
        assert panel.backend.submitted == [] and list_runs(panel.runs_dir) == []

        panel.plan = plan  # within the context: the same key starts the run
        await pilot.press("p")
        await wait_until(pilot, lambda: panel.backend.submitted)
        (run,) = list_runs(panel.runs_dir)
        assert run.plan().seq_len == 256


async def test_run_folders_are_read_in_a_worker_thread_and_the_handler_only_draws(tmp_path, monkeypatch):
    """Listing runs, reading event logs and taking liveness locks happen off the UI thread; the message handler
    that draws the read opens no file, lists no folder and takes no lock (audit events prove it)."""
    import sys
    import threading

    from lorplan.tui import probe_bridge

    make_run(tmp_path)
    readers: list[int] = []
    original_read = probe_bridge.ProbeFeed.read

    def read(self, run_id):
        readers.append(threading.get_ident())
        return original_read(self, run_id)

    monkeypatch.setattr(probe_bridge.ProbeFeed, "read", read)

    drawing = {"thread": None}  # the thread inside the handler, while it runs
    io_while_drawing: list[tuple] = []
    watched = {"open", "os.listdir", "os.scandir", "fcntl.flock", "fcntl.lockf"}

    def audit(event, args):  # an audit hook stays for the whole process: it records only while drawing
        if event in watched and drawing["thread"] == threading.get_ident():
            io_while_drawing.append((event, args[:1]))

    sys.addaudithook(audit)
    handled: list[int] = []
    original_handler = ProbesPanel.on_probe_run_updated

    def handler(self, message):
        drawing["thread"] = threading.get_ident()
        try:
            original_handler(self, message)
        finally:
            drawing["thread"] = None
        handled.append(threading.get_ident())

    monkeypatch.setattr(ProbesPanel, "on_probe_run_updated", handler)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 4 and len(handled) >= 3)  # a few polls
    ui_thread = threading.get_ident()
    assert readers and ui_thread not in readers
    assert set(handled) == {ui_thread}
    assert io_while_drawing == []
    # the check can fail: the same hook sees a file opened on the UI thread
    drawing["thread"] = ui_thread
    (tmp_path / "probe.txt").write_text("x")
    drawing["thread"] = None
    assert io_while_drawing and io_while_drawing[0][0] == "open"


async def test_a_stale_read_never_undoes_the_users_choice(tmp_path):
    """Reads asked for before the user picked another run are dropped, not drawn."""
    first = make_run(tmp_path)
    second = create_run(runner.make_plan((2, 4), steps=10, device="cpu", run="20261129-100000-beef"), tmp_path)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        select = app.query_one("#probes-run", Select)
        table = app.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: select.value == second.id and table.row_count == 2)  # the newest first
        panel = app.query_one(ProbesPanel)
        stale = panel._feed.read(None)  # what a read started before the choice would post
        select.value = first.id
        await wait_until(pilot, lambda: table.row_count == 4)
        panel.on_probe_run_updated(ProbeRunUpdated(stale))  # handled now (queued, a newer read would replace it)
        assert select.value == first.id and table.row_count == 4
        await pilot.pause(0.3)
        assert select.value == first.id and table.row_count == 4


async def test_starting_a_run_shows_it_instead_of_the_run_on_screen(tmp_path):
    """`s` (and `p`) start a run: the tab follows it (it kept showing the run it had shown before)."""
    from lorplan.probe.runs import list_runs

    old = make_run(tmp_path)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        select = app.query_one("#probes-run", Select)
        table = app.query_one("#probes-table", DataTable)
        await wait_until(pilot, lambda: select.value == old.id and table.row_count == 4)
        table.focus()
        await pilot.press("s")
        await wait_until(pilot, lambda: len(list_runs(tmp_path)) == 2)
        new = list_runs(tmp_path)[-1]
        await wait_until(pilot, lambda: select.value == new.id)
        await wait_until(pilot, lambda: set(table.rows) == {"r4", "r8", "r16", "r32"} and
                         all(str(table.get_row(k)[1]) == "queued" for k in table.rows))
        # the demo as `lorplan recommend` runs it: its own learning rate and row length (lorplan.probe.demo)
        from lorplan.probe.demo import DEMO_LEARNING_RATE, DEMO_SEQ_LEN

        assert {p.lr for p in new.plan().probes} == {DEMO_LEARNING_RATE} and new.plan().seq_len == DEMO_SEQ_LEN


def test_ema_is_debiased_and_skips_nan():
    from lorplan.tui.probe_bridge import ema

    assert ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0 at the start
    assert ema([1.0, 3.0], 0.5) == pytest.approx([1.0, (0.25 * 1 + 0.5 * 3) / 0.75])
    out = ema([1.0, float("nan"), 3.0], 0.5)
    assert out[1] == pytest.approx(1.0) and out[2] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)


async def test_the_loss_plot_is_smoothed_and_each_rank_has_its_marker_and_label(tmp_path):
    """At micro-batch 1 the raw loss is noise: the plot draws its EMA (and says so), each rank with its own
    marker and a label at its line's end, and the eval points, all readable without colour."""
    import random

    from lorplan.tui.panels import probe_plot
    from lorplan.tui.probe_bridge import ema

    run = create_run(runner.make_plan((4, 8), steps=40, device="cpu", run="20261130-100000-cafe"), tmp_path)
    rng = random.Random(0)
    noisy = {}
    for pid in ("r4", "r8"):
        atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        noisy[pid] = [0.7 - 0.005 * s + rng.gauss(0, 0.08) for s in range(1, 41)]
        for s, loss in enumerate(noisy[pid], start=1):
            append_event(run.events_path(pid), {"type": "step", "step": s, "loss": loss, "seconds": 0.1})
            if s % 20 == 0:
                append_event(run.events_path(pid), {"type": "eval", "step": s, "eval_loss": 0.55, "eval_accuracy": 0.7})
        atomic_write_json(run.result_path(pid), {"state": "finished", "step": 40, "eval_loss": 0.55})
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        await wait_until(pilot, lambda: panel.plotted.get("r8") == 42)
        plt = panel.query_one("#probes-plot").plt
        plotted = [(list(x), list(y)) for x, y in zip(plt.monitor.x, plt.monitor.y, strict=True)]  # plotext data
        lines = [xy for xy in plotted if len(xy[0]) == 40]
        assert [y for _x, y in lines] == [pytest.approx(ema(noisy["r4"])), pytest.approx(ema(noisy["r8"]))]
        text = re.sub(r"\x1b\[[0-9;]*m", "", plt.build())  # no colour at all
        assert "smoothed (EMA 0.9)" in text
        assert " r4" in text and " r8" in text  # the labels at the lines' ends
        first, second = probe_plot.LINE_MARKERS[:2]
        assert text.count(first) >= 10 and text.count(second) >= 10  # two markers, one per rank
        assert text.count(probe_plot.EVAL_MARKER) >= 3  # eval points (two per rank; some may overlap)


async def test_v_compares_the_ranks_with_intervals_over_seeds(tmp_path):
    """Final eval loss and accuracy per rank (mean and 95% t interval over three seeds), training and loading
    time and peak memory, as a table and a plot with error bars (lorplan.probe.compare's rows)."""
    from lorplan.probe.compare import compare_ranks, t_interval

    run = create_run(runner.make_plan((4, 8), seeds=(1, 2, 3), steps=10, device="cpu",
                                      run="20261201-100000-d00d"), tmp_path)
    losses = {4: (0.50, 0.52, 0.55), 8: (0.44, 0.45, 0.47)}
    for rank, values in losses.items():
        for seed, loss in zip((1, 2, 3), values, strict=True):
            pid = f"r{rank}-s{seed}"
            atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
            atomic_write_json(run.result_path(pid), {
                "state": "finished", "step": 10, "eval_loss": loss, "eval_accuracy": 0.9 - loss,
                "peak_memory_bytes": rank * 2**20, "wall_seconds": 30.0, "load_seconds": 10.0 + seed,
                "train_seconds": 15.0 + rank})
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        await wait_until(pilot, lambda: len(panel.ranks) == 2)
        assert not panel.query_one("#probes-compare").display  # the curves first
        panel.query_one("#probes-table").focus()
        await pilot.press("v")
        await pilot.pause()
        assert panel.query_one("#probes-compare").display and not panel.query_one("#probes-body").display
        text = str(panel.query_one("#probes-compare-table", Static).content)
        lo, hi = t_interval(list(losses[4]))
        assert f"{sum(losses[4]) / 3:.4f} [{lo:.4f}, {hi:.4f}]" in text  # mean [95% interval] over 3 seeds
        assert "mean [95% interval] over seeds" in text and "seeds" in text.splitlines()[0]
        assert "19.0s" in text and "12.0s" in text and "8.00 MiB" in text  # train 15+4, load 10+2, 8 MiB
        assert re.search(r"peak mem\n.*  4\.00 MiB$", text, re.M)  # as the probe table writes it
        assert panel.ranks == tuple(compare_ranks(panel.status.probes))
        plot = re.sub(r"\x1b\[[0-9;]*m", "", panel.query_one("#probes-compare-plot").plt.build())
        assert "final eval loss by rank (bars: 95% interval)" in plot
        plt = panel.query_one("#probes-compare-plot").plt
        bars = [y for y, marks in zip(plt.monitor.y, plt.monitor.marker, strict=True) if marks == ["│", "│"]]
        assert bars[0] == pytest.approx([lo, hi])  # rank 4's error bar spans its interval
        await pilot.press("v")
        await pilot.pause()
        assert panel.query_one("#probes-body").display


async def test_a_ladder_run_with_its_base_probe_is_shown_not_a_crash(tmp_path):
    """A probe ladder (lorplan recommend, the Recommend tab's l) has a base probe at rank 0: no adapter, the
    classifier's head alone. The Probes tab names it `base` and compares the ranks against it as a line: a
    log2 rank axis has no place for rank 0 (it used to end the app with a math domain error)."""
    from dataclasses import replace

    from lorplan.probe.runs import ProbeSpec

    plan = runner.make_plan((4, 16), steps=12, device="cpu", run="20261204-100000-ba5e")
    run = create_run(replace(plan, probes=(ProbeSpec("base", 0), *plan.probes)), tmp_path)
    for pid, loss in (("base", 1.37), ("r4", 0.29), ("r16", 0.16)):
        atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        for s in range(1, 13):
            append_event(run.events_path(pid), {"type": "step", "step": s, "loss": loss + 0.1, "seconds": 0.1})
        atomic_write_json(run.result_path(pid), {"state": "finished", "step": 12, "eval_loss": loss,
                                                 "eval_accuracy": 0.5 if pid == "base" else 1.0,
                                                 "train_seconds": 5.0, "load_seconds": 10.0})
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        await wait_until(pilot, lambda: len(panel.ranks) == 3)
        await pilot.pause()
        table = panel.query_one("#probes-table", DataTable)
        assert str(_row(table, "base")[0]) == "base"
        curves = re.sub(r"\x1b\[[0-9;]*m", "", panel.query_one("#probes-plot").plt.build())
        assert " base" in curves and " r0" not in curves
        panel.query_one("#probes-table").focus()
        await pilot.press("v")
        await pilot.pause()
        text = str(panel.query_one("#probes-compare-table", Static).content)
        assert [line.split()[0] for line in text.splitlines()[1:4]] == ["base", "4", "16"]
        plt = panel.query_one("#probes-compare-plot").plt
        plot = re.sub(r"\x1b\[[0-9;]*m", "", plt.build())
        assert "gray line: the base 1.37" in plot  # its eval loss, drawn as a line across the ranks
        xs = sorted(x for xs in plt.monitor.x for x in xs)
        assert min(xs) <= 2 and max(xs) >= 4  # the ranks' points at log2(4) and log2(16)
    assert app.return_code in (None, 0)


async def test_a_lost_focus_comes_back_to_the_panel_on_screen(tmp_path):
    """The focus the Probes tab gives could be lost under load (Widget.focus is deferred, and the first read
    hid the table it was meant for): the panel's keys then did nothing. Focus is set at once now, and a panel on
    screen with nothing focused takes the focus back at its next read: the table with a run, itself without."""
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        for has_run in (False, True):
            if has_run:
                make_run(tmp_path)
            await wait_until(pilot, lambda has_run=has_run: panel.has_class("-empty") != has_run)
            app.screen.set_focus(None)
            want = app.query_one("#probes-table", DataTable) if has_run else panel
            await wait_until(pilot, lambda want=want: app.focused is want)
        app.screen.set_focus(None)
        panel.focus_default()  # at once, not at a later message
        assert app.focused is app.query_one("#probes-table", DataTable)


async def test_a_run_of_one_step_is_counted_in_the_singular(tmp_path):
    run = create_run(runner.make_plan((4,), steps=1, device="cpu", run="20261206-100000-0001"), tmp_path)
    _launched(run, "r4", 1)
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        summary = str(app.query_one("#probes-summary", Static).render())
        assert summary.endswith(" · 1 step"), summary  # was "1 steps"


async def test_t_pressed_twice_quickly_retries_once(tmp_path):
    """t pressed twice before a read shows the retried probe queued: one retry, and the second press says it is
    queued already (it said "r8 queued again" twice and gave the run to the backend twice)."""
    run = make_run(tmp_path)
    backend = NoSpawnBackend()
    app = PanelApp(tmp_path, backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#probes-table", DataTable)
        table.focus()
        table.move_cursor(row=1)  # r8, failed
        panel = app.query_one(ProbesPanel)
        # t twice before the retry's worker has ended (a real backend starts a scheduler process meanwhile): the
        # action as the key runs it, twice in one go, so that no worker or read comes between them
        panel.action_retry_probe()
        panel.action_retry_probe()
        await wait_until(pilot, lambda: _row(table, "r8")[1] == "queued"
                         and "r8 queued again" in [n.message for n in app._notifications])
        notes = [n.message for n in app._notifications]
        assert notes.count("r8 queued again") == 1, notes
        assert "r8 is already queued again" in notes, notes
        assert backend.submitted == [run.id]
        assert (run.probe_dir("r8") / "attempt-1").is_dir() and not (run.probe_dir("r8") / "attempt-2").exists()
        await pilot.press("t")  # the table shows it queued now: what t says of a queued probe
        await pilot.pause()
        assert [n.message for n in app._notifications][-1] == "r8 is queued; cancel it before retrying"


async def test_a_run_that_appears_in_the_empty_panel_is_plotted_at_the_plot_s_size(tmp_path):
    """The first run shown in an empty panel (its plot hidden until then, 0x0) was drawn for a 0-column plot:
    its title the shortest form ("train loss, smoothed") at 140 columns, its end labels placed for 80x24, and
    nothing drew it again (the panel's own size had not changed) until the curves did. A plot not laid out is
    drawn for an unknown size, and again whenever its own size changes."""
    app = PanelApp(tmp_path, NoSpawnBackend())
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(ProbesPanel)
        await wait_until(pilot, lambda: panel.has_class("-empty"))
        make_run(tmp_path)  # ended probes: the curves do not change after the first read
        await wait_until(pilot, lambda: panel.plotted.get("r4") == 22)
        plot = panel.query_one("#probes-plot")
        await wait_until(pilot, lambda: plot.size.width > 0)
        await pilot.pause()
        assert panel._plot_size == tuple(plot.size), (panel._plot_size, plot.size)  # drawn at the size shown
        text = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build())
        assert "smoothed (EMA 0.9)" in text, text


async def test_a_retry_that_raised_leaves_another_probe_s_retry_on_its_way(tmp_path):
    """A probe-actions worker that raised dropped every retry on its way, not only its own: t on r8, whose retry
    had not ended, queued it a second time after r16's retry raised (e762556 dropped them all)."""
    import threading

    from textual.worker import WorkerState

    class GateBackend(NoSpawnBackend):
        """Holds each retry where it first asks for consent, before it moves a file, until `gate` is set (the
        table still shows the probe ended); raises there while `broken` (a bug, not a LorplanError)."""

        def __init__(self):
            super().__init__()
            self.gate, self.entered, self.broken = threading.Event(), threading.Event(), False

        @property
        def trust_remote_code(self):
            if self.broken:
                raise RuntimeError("backend broke")
            self.entered.set()
            self.gate.wait(20)
            return False

    run = make_run(tmp_path)
    backend = GateBackend()
    app = PanelApp(tmp_path, backend)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            table = app.query_one("#probes-table", DataTable)
            await wait_until(pilot, lambda: table.row_count == 4)
            panel = app.query_one(ProbesPanel)
            table.focus()
            table.move_cursor(row=1)  # r8, failed
            await pilot.pause()
            assert panel.selected().id == "r8"
            panel.action_retry_probe()
            await wait_until(pilot, backend.entered.is_set)  # r8's retry is on its way, held
            backend.broken = True
            table.move_cursor(row=2)  # r16, oom
            await pilot.pause()
            assert panel.selected().id == "r16"
            held = {w for w in app.workers if w.group == "probe-actions"}  # r8's
            panel.action_retry_probe()
            (raised,) = {w for w in app.workers if w.group == "probe-actions"} - held
            await wait_until(pilot, lambda: raised.state == WorkerState.ERROR)
            await pilot.pause()  # its Worker.StateChanged handled
            table.move_cursor(row=1)
            await pilot.pause()
            assert panel.selected().id == "r8"
            backend.broken = False
            panel.action_retry_probe()
            await pilot.pause()
            notes = [n.message for n in app._notifications]
            assert notes == ["r8 is already queued again"], notes  # not a second retry of r8 (HEAD: [])
            backend.gate.set()
            await wait_until(pilot, lambda: "r8 queued again" in [n.message for n in app._notifications])
            assert backend.submitted == [run.id]
    finally:
        backend.gate.set()
