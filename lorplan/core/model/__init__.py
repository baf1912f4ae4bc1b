"""Models: what a model is made of (spec), where its config.json comes from (sources, catalog, hfcache), and
how each architecture's modules are laid out (archs, or a meta-device build in a child for unknown ones).

Pure Python: nothing here imports torch at module level.
"""

from lorplan.core.model.sources import load_spec
from lorplan.core.model.spec import Linear, ModelSpec, Tensor

__all__ = ["Linear", "ModelSpec", "Tensor", "load_spec"]
