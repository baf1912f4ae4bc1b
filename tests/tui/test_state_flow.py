"""State flows one way: a frozen plan snapshot goes down from the screen, messages come up, no widget writes
another's fields, and the app talks to the screen, never to a widget by id."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from tui_helpers import type_into, wait_until

import lorplan.tui.app
from lorplan.tui.bridge import GpuReport, GpuView
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.state import PlanSnapshot

pytestmark = pytest.mark.anyio
SIZE = (120, 40)
GIB = 1024**3


def test_the_app_queries_no_widget():
    tree = ast.parse(Path(lorplan.tui.app.__file__).read_text(encoding="utf-8"))
    queries = [node.lineno for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr in ("query", "query_one", "query_exactly_one")]
    assert queries == []


async def test_the_screen_hands_the_same_frozen_snapshot_to_the_probes_tab(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.main.query("ProbesPanel"))
        panel = app.main.query_one("ProbesPanel")
        snapshot = app.main.plan
        assert isinstance(snapshot, PlanSnapshot) and panel.plan is snapshot
        with pytest.raises(dataclasses.FrozenInstanceError):
            snapshot.rank = 8
        await pilot.press("f5")
        await type_into(pilot, "#f-seq_len", "512")
        assert app.main.plan is not snapshot and app.main.plan.setup.seq_len == 512
        assert panel.plan is app.main.plan  # handed down again
        assert snapshot.setup.seq_len == 2048  # the old one did not change under anyone's feet


async def test_picking_gpus_updates_the_form_and_recomputes_once(make_app):
    report = GpuReport((GpuView(0, "NVIDIA RTX A6000", 48 * GIB, 2 * GIB, 46 * GIB),
                        GpuView(1, "NVIDIA RTX A6000", 48 * GIB, 2 * GIB, 46 * GIB)))
    app = make_app(gpu_source=lambda: report)
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        recomputes = []
        original = view.recompute
        view.recompute = lambda: (recomputes.append(1), original())[1]
        app.screen.query_one("#gpu-list").select(1)
        await pilot.pause()
        await pilot.pause(0.1)
        assert app.screen.query_one("#f-gpus").value == "2" and app.screen.query_one("#f-sharding").value == "ddp"
        assert view.state.form.gpus == "2" and app.main.plan.setup.gpus == 2
        assert len(recomputes) == 1  # not once for the budget and again for each field the form changed
