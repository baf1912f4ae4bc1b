"""What the TUI says to a user, checked at 80x24: the Recommend tab's evidence names a model given as a folder
by its short name (as `lorplan recommend` does), not by the folder's whole path."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from tui_helpers import type_into, wait_until

from lorplan.core.model.resolve import SHIPPED_ID, shipped_folder

pytestmark = pytest.mark.anyio

DATA = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"


async def test_recommend_evidence_names_a_folder_model_by_its_short_name(make_app):
    folder = str(shipped_folder())
    app = make_app(model=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f6")
        await type_into(pilot, "#data-path", str(DATA), submit=True)
        await wait_until(pilot, lambda: app.main.data is not None, timeout=60)
        await pilot.press("f8")
        await pilot.pause()
        evidence = " ".join(str(app.screen.query_one("#rec-evidence", Static).render()).split())
        assert f"all-linear on {SHIPPED_ID} holds 42,240 LoRA parameters per rank unit" in evidence, evidence
        assert folder not in evidence  # was in the token rule's and the bits rule's sentences, over three rows


# What each whole-number field of the Plan tab says of a value beyond its range, typed as a user would type it:
# the input echoed as typed ("1e9", not "1,000,000,000"), and 1e999 is too large, not "not a whole number".
BEYOND = [
    ("#f-seq_len", "1e9", "Sequence length: 1e9 is too large (at most 16,777,216)"),
    ("#f-seq_len", "1e999", "Sequence length: 1e999 is too large (at most 16,777,216)"),
    ("#f-micro_batch", "2e6", "Micro-batch: 2e6 is too large (at most 1,048,576)"),
    ("#f-gpus", "1_000_000", "GPUs: 1_000_000 is too large (at most"),
    ("#f-custom_rank", "1e5", "Custom rank: 1e5 is too large (at most 65,536)"),
    ("#f-custom_rank", "-1e999", "Custom rank: -1e999 is too small (at least 1)"),
]


async def test_a_number_beyond_a_fields_range_is_echoed_as_typed(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        for selector, typed, said in BEYOND:
            await type_into(pilot, selector, typed)
            errors = str(app.screen.query_one("#setup-errors", Static).render())
            assert said in " ".join(errors.split()), (selector, typed, errors)
            await type_into(pilot, selector, {"#f-custom_rank": "8"}.get(selector, "1"))
            assert not str(app.screen.query_one("#setup-errors", Static).render()).strip(), selector


def test_nan_is_not_a_number_and_a_fraction_not_a_whole_number():
    from lorplan.core.errors import BadInput
    from lorplan.tui.panels.setup_form import parse_int

    for typed, said in (("nan", "Sequence length: 'nan' is not a number"),
                        ("0.5", "Sequence length: '0.5' must be a whole number"),
                        ("2048.5", "Sequence length: '2048.5' must be a whole number")):
        with pytest.raises(BadInput) as exc:
            parse_int(typed, "Sequence length", 1, 16_777_216)
        assert str(exc.value) == said
    assert parse_int("1e3", "Sequence length", 1, 16_777_216) == 1000
