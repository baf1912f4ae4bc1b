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
