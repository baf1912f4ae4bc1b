"""The TUI's only door to the core: catalog search, GPU facts, spec loading and the rank table.

Everything here is plain Python (no Textual), cheap to import (the core modules are imported on first use), and
returns values or raises BadInput; the widgets never call the core directly. GPU queries never raise: no driver
or no GPU is an empty list and a reason, like `lorplan gpus`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lorplan.core.errors import BadInput

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@dataclass(frozen=True)
class GpuView:
    """One GPU as the planner shows it (bytes)."""

    index: int
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class GpuReport:
    """What NVML said: the devices, or none and the reason in one line."""

    gpus: tuple[GpuView, ...]
    reason: str = ""


GpuSource = Callable[[], GpuReport]


def query_gpus() -> GpuReport:
    """The GPUs NVML sees now (honouring CUDA_VISIBLE_DEVICES), or none and why. Never raises."""
    from lorplan.core.gpu import list_gpus

    devices, reason = list_gpus()
    views = tuple(
        GpuView(d.cuda_index, d.name, d.total_bytes, d.used_bytes, d.free_bytes) for d in devices
    )
    return GpuReport(views, reason or ("" if views else "NVML sees no GPU"))


def no_gpu(reason: str = "no GPU on this machine") -> GpuSource:
    """A GPU source that always reports no GPU (tests, snapshots, `--no-gpu`)."""
    return lambda: GpuReport((), reason)


def gpu_presets() -> tuple[tuple[str, int], ...]:
    """(name, total bytes as NVML reports it) of common GPUs, for planning on a machine without one."""
    from lorplan.core.gpu import PRESETS

    return tuple(PRESETS.items())


def catalog_ids() -> tuple[str, ...]:
    """Every model id in the built-in catalog, in catalog order."""
    from lorplan.core.model.catalog import ENTRIES

    return tuple(entry.id for entry in ENTRIES)


def cached_ids(exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Hub ids with a config.json in the local Hugging Face cache (not already in `exclude`). Never raises."""
    from lorplan.core.model.hfcache import cached_models

    try:
        return tuple(i for i in cached_models() if i not in exclude)
    except OSError:  # an unreadable cache folder is the same as an empty one here
        return ()


def search_catalog(query: str, ids: tuple[str, ...], limit: int = 50) -> tuple[str, ...]:
    """Catalog ids matching every word of the query (case-insensitive), prefix matches first."""
    words = query.lower().split()
    if not words:
        return ids[:limit]
    hits = [i for i in ids if all(w in i.lower() for w in words)]
    hits.sort(key=lambda i: (not i.lower().split("/")[-1].startswith(words[0]), ids.index(i)))
    return tuple(hits[:limit])


def default_model(ids: tuple[str, ...]) -> str | None:
    if DEFAULT_MODEL in ids:
        return DEFAULT_MODEL
    return ids[0] if ids else None


def load_spec(source: str):
    """Load a model spec (catalog id, folder, config.json or cached hub id). Raises BadInput."""
    from lorplan.core.model import load_spec as core_load_spec

    source = source.strip()
    if not source:
        raise BadInput("Model: type a catalog id, a folder with config.json, or a cached hub id")
    return core_load_spec(source)


def model_choice(text: str, listed: tuple[str, ...] = ()) -> str:
    """The model to load for what was typed in the model picker. A name is read as every command reads it:
    the published id of a catalog, cached or shipped model (a short or misspelled name resolved when
    unambiguous), or the folder as typed. Several words ("qwen 0.5b"), or a name like no model, pick the first
    of `listed` (the matches on screen), if any. Raises BadInput: an ambiguous name (listing the candidates),
    a missing path, or nothing like the name."""
    from lorplan.core.model import resolve_model
    from lorplan.core.model.names import UnknownModel

    if len(text.split()) > 1 and listed:  # a search, not a name
        return listed[0]
    try:
        source = resolve_model(text)
    except UnknownModel:
        if listed:
            return listed[0]
        raise
    return text.strip() if source.kind == "folder" else source.id


def rank_table(spec, setup, ranks: tuple[int, ...], budget_bytes: int | None):
    """The core rank table (fast: a few milliseconds). Raises BadInput for a setup the core rejects."""
    from lorplan.core import memory

    return memory.rank_table(spec, setup, ranks, budget_bytes)


def plan_from_setup(spec, setup, rank: int, source: str, budget_bytes: int | None, data=None):
    """The plan (lorplan.core.plan.Plan) for one rank, for the export dialog. Raises BadInput.

    `data` (a data_panel.PlanData: the dataset profiled in the Data tab) fills the [data] table; without it the
    plan names data/train.jsonl for the user to replace."""
    from lorplan.core.plan import plan_from_setup as core_plan_from_setup

    kw = {}
    if data is not None:
        kw = dict(data_path=data.path, data_schema=data.schema, train_on=data.train_on, eval_split=data.eval_split)
    return core_plan_from_setup(spec, setup, rank, source=source, budget_bytes=budget_bytes, **kw)
