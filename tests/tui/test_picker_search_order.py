"""The picker's search (bridge.search_catalog) orders its hits by a dict of first positions, not ids.index per hit
(quadratic in the hits): the order is the one ids.index gave."""

from __future__ import annotations

from lorplan.core.model.catalog import ENTRIES, exact, matches
from lorplan.tui import bridge

# Ids as a picker holds them: the catalog's, then cached hub ids, one listed twice (its first place counts).
IDS = bridge.catalog_ids() + ("acme/qwen-7b-chat", "internlm/internlm2-chat-1_8b", "bigscience/bloom-7b1",
                              "acme/qwen-7b-chat", "acme/Qwen2.5-7B-merge")


def _ordered_by_index(query: str, ids: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """search_catalog's order as it was computed before, with ids.index(i) for each hit."""
    words = query.lower().split()
    aliases = {e.id: e.aliases for e in ENTRIES}
    family = {e.id: (e.family,) for e in ENTRIES}
    hits = [i for i in ids if matches(query, i, *aliases.get(i, ()), *family.get(i, ()))]
    hits.sort(key=lambda i: (not exact(query, i, *aliases.get(i, ())),
                             not i.lower().split("/")[-1].startswith(words[0]), ids.index(i)))
    return tuple(hits[:limit])


def test_the_pickers_order_is_the_one_ids_index_gave():
    for query in ("b", "qwen", "7b", "qwen2.5-7b", "instruct", "gemma it", "meta-llama/Llama-3.1-70B", "1.8b"):
        for limit in (50, 5, 1000):
            expected = _ordered_by_index(query, IDS, limit)
            assert expected and bridge.search_catalog(query, IDS, limit) == expected, (query, limit)
    # not the catalog order alone: an exact id first, prefix matches next, a repeated id in its first place
    assert bridge.search_catalog("qwen2.5-7b", IDS)[:2] == ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct")
    listed = bridge.search_catalog("7b", IDS, 1000)
    assert listed.count("acme/qwen-7b-chat") == 2 and listed.index("acme/qwen-7b-chat") + 1 == listed.index(
        "acme/qwen-7b-chat", listed.index("acme/qwen-7b-chat") + 1)
