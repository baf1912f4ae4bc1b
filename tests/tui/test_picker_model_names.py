"""The model picker reads a typed name as every command does (lorplan.core.model.resolve_model)."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import model_settled, type_into, wait_until

from lorplan.core.model import catalog
from lorplan.tui import bridge
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


def test_the_pickers_search_reads_a_size_word_as_a_whole_size():
    """The picker's list (bridge.search_catalog, catalog and cached ids alike) reads words as `lorplan models
    --search` does (catalog.matches): 'qwen 7b' listed Qwen3-1.7B and -Base ('7b' the end of '1.7b'), and an id
    typed whole without its owner came after the -Instruct model beginning with it (Enter picks the first listed)."""
    ids = bridge.catalog_ids() + ("acme/qwen3-1.7b-chat", "acme/qwen-7b-chat", "bigscience/bloom-7b1",
                                  "internlm/internlm2-chat-1_8b")
    assert bridge.search_catalog("qwen 7b", ids) == ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B", "acme/qwen-7b-chat")
    assert bridge.search_catalog("qwen2.5-7b", ids) == ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct")
    assert bridge.search_catalog("qwen 1.7b", ids)[-1] == "acme/qwen3-1.7b-chat"
    # Mixtral-8x7B (8 experts of 7B) and a cached bloom-7b1 (7.1B) are 7B models too; a cached 1_8b (1.8B) no 8B
    assert bridge.search_catalog("7b", ids) == tuple(e.id for e in catalog.search("7b")) + (
        "acme/qwen-7b-chat", "bigscience/bloom-7b1")
    assert "mistralai/Mixtral-8x7B-v0.1" in bridge.search_catalog("mixtral 7b", ids)
    assert "internlm/internlm2-chat-1_8b" not in bridge.search_catalog("8b", ids)
    assert bridge.search_catalog("1.8b", ids) == ("internlm/internlm2-chat-1_8b",)


def test_the_pickers_search_reads_a_catalog_entry_s_aliases_and_family_as_lorplan_models_does():
    """The picker matched the id alone: 'qwen3 moe' (Qwen3-30B-A3B's family) listed nothing in the planner while
    `lorplan models --search` found it, and an alias typed whole was not listed first."""
    ids = bridge.catalog_ids() + ("acme/qwen3-moe-chat",)
    for query in ("qwen3 moe", "meta-llama/Llama-3.1-70B", "llama 3.1 8b", "smollm", "mixtral 7b", "8x7b",
                  "7b-instruct"):
        listed = bridge.search_catalog(query, ids)
        assert [i for i in listed if i in bridge.catalog_ids()] == [e.id for e in catalog.search(query)], query
    assert bridge.search_catalog("qwen3 moe", ids)[-1] == "acme/qwen3-moe-chat"  # a cached id: by its id alone
    seventy = next(e for e in catalog.ENTRIES if "meta-llama/Llama-3.1-70B" in e.aliases)
    assert bridge.search_catalog("meta-llama/Llama-3.1-70B", ids)[0] == seventy.id
