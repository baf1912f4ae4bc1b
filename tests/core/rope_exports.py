"""Shared parts of the RoPE export tests: the sample plan pointed at a model folder with linear RoPE scaling, and
transformers' configs loaded and its rotary embeddings built with its logging and warnings kept quiet."""

from __future__ import annotations

import importlib
import warnings
from dataclasses import replace
from pathlib import Path

from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
FACTOR = 2.0


def quiet() -> None:
    """transformers' logging down to errors, and warnings ignored (inside a warnings.catch_warnings() to keep it
    there)."""
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.simplefilter("ignore")


def scaled_plan(folder: Path):
    """The sample plan (smollm2-135m-cpu.toml) for the model in `folder`, RoPE scaled by FACTOR."""
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, model=replace(plan.model, id=None, path=str(folder), rope_scaling=FACTOR))


def load_config(folder: Path):
    """The config transformers loads from `folder` (warnings kept inside)."""
    import transformers

    with warnings.catch_warnings():
        quiet()
        return transformers.AutoConfig.from_pretrained(folder)


def rotary_frequencies(config) -> dict:
    """inv_freq per layer type of the model class's rotary embedding built from `config`."""
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    module = model_type_to_module_name(config.model_type)
    modeling = importlib.import_module(f"transformers.models.{module}.modeling_{module}")
    found = {getattr(modeling, n) for n in dir(modeling)
             if n.endswith("RotaryEmbedding") and getattr(getattr(modeling, n), "__module__", "") == modeling.__name__}
    if len(found) > 1:  # dots3 Note's text, vision and audio ones: the config's own (Dots3NoteTextRotaryEmbedding)
        found = {c for c in found if c.__name__ == type(config).__name__.removesuffix("Config") + "RotaryEmbedding"}
    (cls,) = found
    rotary = cls(config)
    return {name: buf.clone() for name, buf in rotary.named_buffers() if name.endswith("_inv_freq")
            and "original" not in name}
