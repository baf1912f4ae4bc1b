"""The plan's model's spec as an export reads it: one reading for `lorplan export` and the planner's export dialog.

`lorplan export` checks the plan against it (seq_len, targets, the class's settings), and both price the notes on a
quantized base's fp32 up-cast on it (core.export.kbit, which re-heads a classifier for the plan: priced_spec). Pure
Python: a model outside lorplan's fast path is built in the fallback's child process, whose report is kept across
runs (core.model.buildcache), so the planner, which built it when the model was chosen, reads it back; its export
dialog, on the UI thread, reads only that (build=False), and never starts the child.
"""

from __future__ import annotations

NOT_RUN = ", which lorplan export does not run"


def read_model_spec(plan, source: str, *, build: bool = True):
    """The ModelSpec of the plan's model at `source` (model.path where lorplan finds it, else model.id): the catalog
    and the fast path offline (no child, no model code), else transformers' own class built on the meta device by
    the fallback's child, never the model's own code (trust_remote_code is not passed), as lorplan train judges it.
    build=False: that build only as kept (core.model.buildcache; the planner's worker kept it when it loaded the
    model), else NotKept: no child is started (the planner's export dialog reads it on the UI thread).

    BadInput, one line naming the input: a model this machine cannot read; a plan whose model.trust_remote_code
    asks for the code its config.json names (auto_map), which an export does not build; a model whose type only
    that code knows; with build=False, a build not kept (fallback.NotKept)."""
    from contextlib import nullcontext

    from lorplan.core.errors import BadInput
    from lorplan.core.model import load_spec, resolve_model
    from lorplan.core.model.fallback import NeedsOwnCode, kept_only, own_code_line
    from lorplan.core.model.sources import NeedsBuild, read_config

    src = resolve_model(source)
    try:
        return load_spec(src, allow_fallback=False)
    except NeedsBuild:
        if plan.model.trust_remote_code and "auto_map" in read_config(src.config_path):
            raise BadInput(f"config.json at {src.config_path}: the plan's model.trust_remote_code = true builds the "
                           f"model with its own Python code (auto_map in config.json){NOT_RUN}") from None
    try:
        with nullcontext() if build else kept_only():
            return load_spec(src, trust_remote_code=False)
    except NeedsOwnCode as exc:  # its line names lorplan plan's flag, which export has not (nor runs it)
        raise BadInput(own_code_line(exc.config_path, NOT_RUN)) from None
