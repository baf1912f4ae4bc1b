"""The dimmed summary's free memory and recommendation (review of 7a59cbf, which made them the table's).

- The free memory is the detected GPU's *now* while the form still names the GPU the table is for: NVML's 3-second
  poll moves it, and a dimmed summary kept saying "⚠ but only 8.00 GiB is free now" after the other process had
  let 38 GiB go (46 GiB free, more than the 33.86 GiB peak). Once the form names another budget (the GPU
  unpicked), the figure stays the one the table was priced with.
- A recommendation applied while a field is red is not the one the dimmed table was priced with: the summary does
  not put its alpha, learning rate and rank_pattern under that table; they show once the field is fixed.

NVML is faked at its boundary (the app's gpu_source), as tests/tui/test_flows.py does; driven with the pilot on
the real app, the text read off the summary as shown."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import type_into, wait_until

pytestmark = pytest.mark.anyio

QWEN = "Qwen/Qwen2.5-7B-Instruct"
GIB = 1024**3


def summary(app) -> str:
    return str(app.screen.query_one("#plan-summary", Static).render())


def plan_view(app):
    from lorplan.tui.panels.plan_view import PlanView

    return app.screen.query_one(PlanView)


def a6000(free_gib: int):
    from lorplan.tui.bridge import GpuReport, GpuView

    return GpuReport((GpuView(0, "NVIDIA RTX A6000", 48 * GIB, (48 - free_gib) * GIB, free_gib * GIB),))


async def test_a_dimmed_summary_says_the_detected_gpu_s_free_memory_now(make_app):
    report = [a6000(8)]
    app = make_app(model=QWEN, gpu_source=lambda: report[0])
    async with app.run_test(size=(120, 40)) as pilot:
        view = plan_view(app)
        await wait_until(pilot, lambda: app.main.plan is not None)
        assert "fits in 48.00 GiB (NVIDIA RTX A6000) · ⚠ but only 8.00 GiB is free now" in summary(app)
        await type_into(pilot, "#f-seq_len", "abc")
        await pilot.pause()
        assert view.state.stale
        report[0] = a6000(46)  # the other process ends: the next poll sees 46 GiB free
        app.screen.query_one("#gpu-panel").refresh_gpus()
        await wait_until(pilot, lambda: view.state.free_bytes == 46 * GIB)
        await pilot.pause()
        text = summary(app)
        assert view.state.stale and "fits in 48.00 GiB (NVIDIA RTX A6000)" in text, text
        assert "is free now" not in text, text  # was "⚠ but only 8.00 GiB is free now"
        assert "still for" not in text  # the form names the table's GPU still
        report[0] = a6000(8)
        app.screen.query_one("#gpu-panel").refresh_gpus()
        await wait_until(pilot, lambda: view.state.free_bytes == 8 * GIB)
        await pilot.pause()
        assert "⚠ but only 8.00 GiB is free now" in summary(app)
        app.screen.query_one("#gpu-list").deselect(0)  # no GPU picked: no budget, no free memory on the form
        await pilot.pause()
        text = summary(app)
        assert view.state.budget_bytes is None and view.state.free_bytes is None
        assert "fits in 48.00 GiB (NVIDIA RTX A6000) · ⚠ but only 8.00 GiB was free on it when last read" in text, text
        assert "the table is still for Qwen/Qwen2.5-7B-Instruct at 48.00 GiB (NVIDIA RTX A6000)" in text, text


async def test_a_recommendation_applied_while_a_field_is_red_waits_for_its_table(make_app):
    from lorplan.tui.state import Tuning

    app = make_app(model=QWEN)
    async with app.run_test(size=(120, 40)) as pilot:
        view = plan_view(app)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, "#f-seq_len", "abc")
        await pilot.pause()
        view.apply_tuning(16, Tuning(alpha=32, learning_rate=1e-4, rank_pattern={"q_proj": 4}, source="capacity prior"))
        await pilot.pause()
        text = summary(app)
        assert view.state.stale and view.state.tuning is not None
        assert "alpha 32" not in text and "rank_pattern" not in text, text  # not what the dimmed table priced
        await type_into(pilot, "#f-seq_len", "512")
        await pilot.pause()
        text = summary(app)
        assert not view.state.stale
        assert "alpha 32, lr 0.0001, rank_pattern" in text and "from the capacity prior" in text, text
