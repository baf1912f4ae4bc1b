"""While a setup field is red the table is dimmed and stays the last valid setup's: its summary said that table's
figures under the budget and model on the form instead. With Seq length 'abc' and the T4 preset picked, the summary
of the 24 GiB RTX-3090 table read "does NOT fit in 24.00 GiB (T4)" (a T4 has 15 GiB); with a budget typed, "24.00 GiB
(80 GB = 74.51 GiB)"; an emptied budget put "RTX-3090" on the 74.51 GiB table. A model chosen meanwhile named
nowhere that the table was still the previous model's, and a custom rank too large for the model on screen went
unmarked until the other field was fixed. Driven through the real app with the pilot; the texts are read off the
summary as shown."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static
from tui_helpers import choose, model_settled, paste_into, type_into, wait_until

pytestmark = pytest.mark.anyio

QWEN = "Qwen/Qwen2.5-7B-Instruct"
LLAMA_1B = "meta-llama/Llama-3.2-1B-Instruct"


def summary(app) -> str:
    return str(app.screen.query_one("#plan-summary", Static).render())


def verdict(app) -> str:
    """The summary's "fits in …" / "does NOT fit in …" part, up to the next " · "."""
    found = re.search(r"(?:does NOT fit|fits) in ([^·\n]*?)\s*(?:·|\n|$)", summary(app))
    assert found, summary(app)
    return found[1]


def plan_view(app):
    from lorplan.tui.panels.plan_view import PlanView

    return app.screen.query_one(PlanView)


async def pick_preset(pilot, name: str) -> None:
    presets = pilot.app.screen.query_one("#gpu-panel").presets
    await choose(pilot, "#gpu-preset", [label for label, _size in presets].index(name))
    await pilot.pause()


async def test_a_dimmed_summary_names_the_budget_its_table_was_priced_at(make_app):
    app = make_app(model=QWEN)
    async with app.run_test(size=(120, 40)) as pilot:
        assert verdict(app) == "24.00 GiB (RTX-3090)"
        await type_into(pilot, "#f-seq_len", "abc")
        await pick_preset(pilot, "T4")
        assert plan_view(app).state.stale
        assert verdict(app) == "24.00 GiB (RTX-3090)"  # was "24.00 GiB (T4)"
        assert "T4" not in summary(app).split("\n", 1)[1]
        first = summary(app).splitlines()[0]
        assert first.startswith("⚠ showing the last valid table: Sequence length: 'abc' is not a number"), first
        assert f"the table is still for {QWEN} at 24.00 GiB (RTX-3090)" in first, first
        await type_into(pilot, "#gpu-budget", "80GB")
        assert verdict(app) == "24.00 GiB (RTX-3090)"  # was "24.00 GiB (80 GB = 74.51 GiB)"
        await type_into(pilot, "#f-seq_len", "512")  # valid again: the form's budget is applied
        await pilot.pause()
        assert not plan_view(app).state.stale
        assert verdict(app) == "80 GB = 74.51 GiB"
        assert "still for" not in summary(app)


async def test_an_emptied_or_refused_budget_leaves_the_dimmed_table_its_own_name(make_app):
    app = make_app(model=QWEN)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "#gpu-budget", "80GB")
        await pilot.pause()
        assert verdict(app) == "80 GB = 74.51 GiB"
        await type_into(pilot, "#f-micro_batch", "x")
        await type_into(pilot, "#gpu-budget", "")
        await pilot.pause()
        assert verdict(app) == "80 GB = 74.51 GiB"  # was "74.51 GiB (RTX-3090)"
        assert "the table is still for" in summary(app).splitlines()[0]
        await type_into(pilot, "#gpu-budget", "65TiB")  # refused; "65" on the way was a valid 65 GiB
        await pilot.pause()
        assert verdict(app) == "80 GB = 74.51 GiB"  # was "74.51 GiB (65.00 GiB)"
        await type_into(pilot, "#gpu-budget", "")
        await type_into(pilot, "#f-micro_batch", "1")
        await pilot.pause()
        assert not plan_view(app).state.stale
        assert verdict(app) == "24.00 GiB (RTX-3090)"


async def test_a_model_chosen_while_a_field_is_red_is_named_and_checks_the_custom_rank(make_app):
    app = make_app(model=QWEN)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "#f-seq_len", "abc")
        await paste_into(pilot, "#model-input", LLAMA_1B, submit=True)  # typed: ~80 ms a key
        await pilot.pause()
        await wait_until(pilot, lambda: model_settled(app) and plan_view(app).state.spec.id == LLAMA_1B)
        await pilot.pause()
        view = plan_view(app)
        assert view.state.stale and view.state.priced.id == QWEN
        first = summary(app).splitlines()[0]
        assert f"the table is still for {QWEN} at 24.00 GiB (RTX-3090)" in first, first
        await type_into(pilot, "#f-custom_rank", "5000")  # above Llama-3.2-1B's 2,048
        await pilot.pause()
        assert "custom rank" in view.bad_fields(), view.state.errors
        assert "rank 5,000 is above 2,048" in view.state.errors["custom_rank"]
        assert "rank 5,000 is above 2,048" in str(app.screen.query_one("#setup-errors").render())
        await type_into(pilot, "#f-seq_len", "512")  # the custom rank stays red, on the model on screen
        await pilot.pause()
        assert view.bad_fields() == ("custom rank",), view.state.errors
        await type_into(pilot, "#f-custom_rank", "64")
        await pilot.pause()
        assert not view.state.stale and view.state.priced.id == LLAMA_1B
        assert "still for" not in summary(app)


async def test_is_free_now_is_said_only_of_the_free_memory_now(make_app):
    """"is free now" named a figure that was not the GPU's now: a change of free memory under 1 GiB never reached
    the summary (the GPU panel said 8.9 GiB free, the summary "only 8.00 GiB is free now"), and while a field was
    red with another GPU picked, the table's GPU's free memory when it was priced was said free now. NVML is faked
    at its boundary (the app's gpu_source), as tests/tui/test_flows.py does."""
    from lorplan.tui.bridge import GpuReport, GpuView

    gib = 1024**3

    def report(free_gib: float) -> GpuReport:
        free = int(free_gib * gib)
        return GpuReport((GpuView(0, "NVIDIA RTX A6000", 48 * gib, 48 * gib - free, free),
                          GpuView(1, "NVIDIA RTX A4000", 16 * gib, 0, 16 * gib)))

    reports = [report(8)]
    app = make_app(model=QWEN, gpu_source=lambda: reports[0])
    async with app.run_test(size=(120, 40)) as pilot:
        view = plan_view(app)
        await wait_until(pilot, lambda: app.main.plan is not None)
        assert "fits in 48.00 GiB (NVIDIA RTX A6000) · ⚠ but only 8.00 GiB is free now" in summary(app)
        reports[0] = report(8.5)  # less than 1 GiB more free: the panel shows it, the summary must too
        app.screen.query_one("#gpu-panel").refresh_gpus()
        await wait_until(pilot, lambda: "⚠ but only 8.50 GiB is free now" in summary(app))
        await type_into(pilot, "#f-seq_len", "abc")
        gpus = app.screen.query_one("#gpu-list")
        gpus.select(1)
        gpus.deselect(0)  # the A4000 alone: the dimmed table is still the A6000's
        await wait_until(pilot, lambda: view.state.budget_label == "NVIDIA RTX A4000")
        await pilot.pause()
        text = summary(app)
        assert view.state.stale and "fits in 48.00 GiB (NVIDIA RTX A6000)" in text, text
        assert "is free now" not in text, text  # the A6000's 8.50 GiB, its last reading
        assert "⚠ but only 8.50 GiB was free on it when last read (other processes used it)" in text, text
