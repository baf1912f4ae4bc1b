"""LoRA targets and exact trainable-parameter counts, as peft computes them.

INTERFACE CONTRACT. Implementation in the foundation work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from lorplan.core.spec import Linear, ModelSpec

PRESETS = ("all-linear", "attention", "mlp")


@dataclass(frozen=True)
class LoraTargets:
    """Which modules get adapters, in peft's terms.

    modules: a preset ("all-linear" as peft resolves it, "attention", "mlp") or explicit leaf names
             ("q_proj", "v_proj").
    layers_to_transform: only these block indices (None = all).
    rank_pattern / alpha_pattern: peft semantics (key matched against the module path suffix / regex).
    use_dora: adds DoRA's magnitude vector (out_features per adapted module).
    modules_to_save: fully trained extra modules ("embed_tokens", "lm_head", "score", "classifier").
    """

    modules: tuple[str, ...] = ("all-linear",)
    layers_to_transform: tuple[int, ...] | None = None
    rank_pattern: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    alpha_pattern: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    use_dora: bool = False
    modules_to_save: tuple[str, ...] = ()


def resolve_targets(spec: ModelSpec, targets: LoraTargets) -> tuple[Linear, ...]:
    """The linear modules peft would wrap. Raises BadInput naming any target that matches nothing."""
    raise NotImplementedError


def rank_of(module: Linear, targets: LoraTargets, rank: int) -> int:
    """The rank peft gives this module (rank_pattern override or the global rank)."""
    raise NotImplementedError


def trainable_params(spec: ModelSpec, targets: LoraTargets, rank: int) -> int:
    """Exactly what peft's get_nb_trainable_parameters reports as trainable for this rank and targets.

    r·(in+out) per adapted module (with rank_pattern overrides), + out_features per module for DoRA,
    + the parameters of modules_to_save (and a task head for sequence classification). Raises BadInput for
    rank < 1.
    """
    raise NotImplementedError
