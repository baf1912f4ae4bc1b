"""The summary under the table: the peak moment and what is alive then, notes, and priced hints that never repeat
a change already made (the same core functions as `lorplan plan`, through the bridge)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import Static
from tui_helpers import choose, type_into

from lorplan.core.memory import TrainingSetup, estimate, rank_table
from lorplan.core.units import format_bytes
from lorplan.tui import bridge

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
GiB = 1024**3


def test_hints_are_priced_and_skip_what_is_set():
    spec = bridge.load_spec(LLAMA)
    setup = TrainingSetup(quant="nf4", seq_len=8192)
    row = rank_table(spec, setup, (16,), 24 * GiB).rows[0]
    hints = bridge.fit_hints(spec, setup, row, 24 * GiB)
    assert hints and not any("4-bit" in h for h in hints)  # nf4 is already chosen
    gc = estimate(spec, replace(setup, grad_checkpointing=True), 16)
    assert any(h.startswith(f"gradient checkpointing: {format_bytes(gc.total)} (") for h in hints)
    done = replace(setup, grad_checkpointing=True)
    row = rank_table(spec, done, (16,), 8 * GiB).rows[0]
    assert not any("checkpointing" in h.split(":")[0] for h in bridge.fit_hints(spec, done, row, 8 * GiB))


def test_peak_view_adds_up_and_names_the_moment():
    spec = bridge.load_spec("Qwen/Qwen2.5-7B")
    setup = TrainingSetup(quant="nf4", seq_len=4096, grad_checkpointing=True)
    view = bridge.peak_view(spec, setup, 16)
    m = estimate(spec, setup, 16)
    assert sum(v for _, v in view.terms) == m.total and view.short == "loss"
    assert all(v < m.total / 2 for k, v in view.terms)  # no term summed over layers that are not alive


@pytest.mark.anyio
async def test_summary_shows_peak_terms_notes_and_hints(make_app):
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await type_into(pilot, "#gpu-budget", "12GiB")
        await choose(pilot, "#f-quant", "nf4")
        await type_into(pilot, "#f-seq_len", "4096")
        text = str(app.screen.query_one("#plan-summary", Static).render())
        assert "peak at the loss" in text and "largest then:" in text
        assert "note: nf4: peft's prepare_model_for_kbit_training" in text
        assert "to fit:" in text and "gradient checkpointing:" in text and "4-bit" not in text.split("to fit:")[1]


@pytest.mark.anyio
@pytest.mark.parametrize(("typed", "said"), [("80GB", " in 80 GB = 74.51 GiB ·"),
                                             ("80 gb", " in 80 GB = 74.51 GiB ·"),
                                             ("24GiB", " in 24.00 GiB ·"), ("24", " in 24.00 GiB ·")])
async def test_a_typed_budget_says_how_its_units_relate_to_the_tables(make_app, typed, said):
    """A budget typed as 80GB (decimal, as GPU vendors write it) was summed up as "74.51 GiB (75 GiB)": two
    figures and no 80. It now says what was typed and what that is in the table's binary units; a budget typed
    in GiB is said once."""
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await type_into(pilot, "#gpu-budget", typed)
        text = str(app.screen.query_one("#plan-summary", Static).render()).replace("\n", " ")
        assert said in text
        assert "(75 GiB)" not in text and "(24 GiB)" not in text
