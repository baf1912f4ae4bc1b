"""The model picker reads a typed name as every command does (lorplan.core.model.resolve_model)."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import model_settled, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


async def _submit(app, pilot, text: str) -> None:
    await type_into(pilot, "#model-input", text, submit=True)
    await wait_until(pilot, lambda: model_settled(app))
    await pilot.pause()


async def test_short_misspelled_shipped_and_ambiguous_names(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        picker = app.screen.query_one("#model-picker")
        for typed, expected in (("qwen2.5-7b", "Qwen/Qwen2.5-7B"),  # as `lorplan plan --model qwen2.5-7b`
                                ("Qwen/Qwen2.5-7B-Instrukt", "Qwen/Qwen2.5-7B-Instruct"),
                                ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")):
            await _submit(app, pilot, typed)
            assert view.state.source == expected and not picker.has_class("-error"), typed
        await _submit(app, pilot, "gemma-3-4b")
        status = str(app.screen.query_one("#model-status", Static).render())
        assert picker.has_class("-error") and "ambiguous: google/gemma-3-4b-it, google/gemma-3-4b-pt" in status
        assert view.state.source == "sentence-transformers/all-MiniLM-L6-v2"  # the last model stays
