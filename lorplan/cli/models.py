"""`lorplan models [--json] [--search TEXT]`: the built-in catalog (and models found in the local HF cache), with
the models whose weights are on this machine (what probes and lorplan train can run) marked."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the built-in model catalog (and models in your HF cache)",
                       description="List the built-in catalog of models lorplan knows exactly, with their size, "
                       "and the models found in the local Hugging Face cache. Any of these ids (or a folder "
                       "holding a config.json) works as --model.")
    p.add_argument("--search", metavar="TEXT", default="", help="only models whose id, alias or family has TEXT")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    from lorplan.cli._common import print_json
    from lorplan.core.columns import fit_line
    from lorplan.core.model import catalog, hfcache, load_spec, resolve_model
    from lorplan.core.units import format_count, terminal_limit

    rows = []
    for e in catalog.search(args.search):
        s = load_spec(e.id)
        rows.append({
            "id": e.id,
            "aliases": list(e.aliases),
            "family": e.family,
            "architecture": s.architecture,
            "total_params": s.total_params,
            "num_layers": s.num_layers,
            "hidden_size": s.hidden_size,
            "max_position_embeddings": s.max_position_embeddings,
            "tie_word_embeddings": s.tie_word_embeddings,
            "num_experts": s.num_experts,
            "note": e.note,
            "local_folder": str(folder) if (folder := resolve_model(e.id).folder) is not None else None,
        })
    cached = [m for m in hfcache.cached_models() if catalog.matches(args.search, m)]
    if args.json:
        print_json({"models": rows, "cached": cached, "cache_dir": str(hfcache.hub_cache_dir())})
        return 0
    if not rows and not cached:
        print(f"no model matches {args.search!r}")
        return 0
    lines = []
    if rows:  # a search only the cache matches prints no catalog header over no rows
        width = max(len(r["id"]) for r in rows)
        lines.append(f"{'model':{width}}  {'family':11} {'params':>8} {'layers':>6} {'hidden':>6} {'context':>7}")
    for r in rows:
        moe = f"  ({r['num_experts']} experts)" if r["num_experts"] else ""
        local = "  (on disk)" if r["local_folder"] else ""
        lines.append(f"{r['id']:{width}}  {r['family']:11} {format_count(r['total_params']):>8} {r['num_layers']:>6} "
                     f"{r['hidden_size']:>6} {r['max_position_embeddings']:>7}{moe}{local}")
    limit = terminal_limit()
    if limit is not None and lines and max(map(len, lines)) > limit:
        lines = _narrow(rows, limit)
    for line in lines:
        print(line)
    if cached:
        gap = "\n" if rows else ""
        for line in fit_line(f"{gap}in your Hugging Face cache ({hfcache.hub_cache_dir()}):", limit):
            print(line)
        for m in cached:
            print(f"  {m}")
    return 0


def _narrow(rows: list[dict], limit: int) -> list[str]:
    """The catalog's table for a terminal `limit` columns wide (core.columns): each column as wide as its widest
    cell, a MoE's experts and a model on disk in a column of their own, and what still does not fit in a second
    table led by the model's id (in an 80-column window each row of the 97-column table wrapped in two)."""
    from lorplan.core.columns import Column, fit_tables
    from lorplan.core.units import format_count

    notes = [", ".join(([f"{r['num_experts']} experts"] if r["num_experts"] else [])
                       + (["on disk"] if r["local_folder"] else [])) for r in rows]
    columns = [Column("family", tuple(r["family"] for r in rows), right=False),
               Column("params", tuple(format_count(r["total_params"]) for r in rows)),
               *(Column(head, tuple(str(r[key]) for r in rows)) for head, key in (
                   ("layers", "num_layers"), ("hidden", "hidden_size"), ("context", "max_position_embeddings"))),
               *([Column("", tuple(notes), right=False)] if any(notes) else [])]
    return fit_tables([Column("model", tuple(r["id"] for r in rows), right=False)], columns, limit)
