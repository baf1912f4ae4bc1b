"""Saved probe adapters: the recommender marks the few probes whose trained adapters it compares (the per-module
pattern, lorplan.recommend.pattern), and such a probe saves its adapter (peft save_pretrained) into its folder
when it finishes. Stdlib only at import (the driver and the TUI's side never import torch).

    RUN/PROBE/save-adapter   the mark (an empty file), written before the probe ends
    RUN/PROBE/adapter/       adapter_config.json + adapter_model.safetensors, renamed into place when complete
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SAVE_ADAPTER_MARKER = "save-adapter"
ADAPTER_DIR = "adapter"


def adapter_dir(run, probe_id: str) -> Path:
    """Where probe `probe_id` of `run` (a lorplan.probe.runs.RunDir) saves its adapter when marked."""
    return run.probe_dir(probe_id) / ADAPTER_DIR


def wants_adapter(run, probe_id: str) -> bool:
    return (run.probe_dir(probe_id) / SAVE_ADAPTER_MARKER).exists()


def has_adapter(run, probe_id: str) -> bool:
    return (adapter_dir(run, probe_id) / "adapter_config.json").is_file()


def mark_save_adapter(run, probe_id: str) -> None:
    """Ask probe `probe_id` to save its adapter when it finishes (harmless when asked twice)."""
    folder = run.probe_dir(probe_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SAVE_ADAPTER_MARKER).touch()


def save_adapter(run, probe_id: str, model) -> Path:
    """peft save_pretrained of `model`'s adapter into adapter_dir, all at once (written beside it, then
    renamed), so a reader never sees half an adapter."""
    final = adapter_dir(run, probe_id)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final
