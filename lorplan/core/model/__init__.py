"""Models: which model a name means and where its config.json, weights and tokenizer are (resolve, names,
catalog, hfcache), what a model is made of (spec, sources), and how each architecture's modules are laid out
(archs, or a meta-device build in a child for unknown ones).

Pure Python: nothing here imports torch at module level.
"""

from lorplan.core.model.resolve import ModelSource, model_folder, resolve_model
from lorplan.core.model.sources import load_spec
from lorplan.core.model.spec import Linear, ModelSpec, Tensor

__all__ = ["Linear", "ModelSource", "ModelSpec", "Tensor", "load_spec", "model_folder", "resolve_model"]
