"""The phases of one step: the moments when live memory above the static state can peak.

A step's live memory rises through the forward pass (saved tensors), peaks around the loss (fp32 logits,
log-probabilities and their gradient), falls through backward while adapter gradients grow, and has a last
bump in optimizer.step(). Each moment is a *phase* ``const + per_token * (b*s) + per_bs2 * (b*s*s)`` and the
in-step peak is the largest phase. Every phase is affine in the micro-batch at a fixed sequence length, so the
fit solver can invert it exactly. The terms come from activations.py (base model), lora_saved.py (LoRA) and
optimizer.py (the step's temporaries).
"""

from __future__ import annotations

from typing import NamedTuple

from lorplan.core.memory.activations import ActivationModel
from lorplan.core.memory.lora_saved import LoraSaved
from lorplan.core.memory.optimizer import foreach_step_temp_bytes
from lorplan.core.memory.types import TrainingSetup


class Phase(NamedTuple):
    """Bytes live above the static state at one moment of the step: const + per_token*T + per_bs2*b*s*s."""

    name: str
    const: int
    per_token: float
    per_bs2: float = 0.0

    def at(self, micro_batch: int, seq_len: int) -> int:
        t = micro_batch * seq_len
        return int(self.const + self.per_token * t + self.per_bs2 * t * seq_len)


def step_phases(am: ActivationModel, ls: LoraSaved, setup: TrainingSetup, grad_bytes: int) -> list[Phase]:
    """The phases of one step for this rank (bytes above the static state).

    loss: everything saved + the logits buffers. top / bottom: the backward of the last and of the first block
    (the widest adapted input's gradient chain and the hidden-state gradient in flight; at the bottom the other
    blocks' adapter gradients exist and their saved tensors are gone). With checkpointing the block being
    back-propagated is recomputed first. optimizer: gradients + the foreach step's one intermediate.
    """
    layers = max(am.layers, 1)
    lora_tok = ls.copies + ls.masks + ls.mids
    opt_temp = foreach_step_temp_bytes(setup.optimizer, setup.foreach, grad_bytes)
    per_layer = am.layer_tokens + lora_tok / layers
    # torch autograd's engine runs a block's backward holding the incoming hidden-state gradient and the one it
    # produces (summed over the residual branches), both in the activation dtype
    flight = ls.chain + 2 * am.act_bytes * am.hidden
    below = grad_bytes * (layers - 1) / layers  # true divisions keep every phase affine in (rank, gradients)
    layer_casts = ls.weight_casts / layers
    merged_back = ls.merged_layer + ls.merged_grad  # MoE LoRA: one layer's merged weights and their gradient
    if not setup.grad_checkpointing:
        # Frozen embeddings: the first norm's input needs no grad, so it saves nothing (transformers turns on
        # enable_input_require_grads only together with gradient checkpointing; embedding LoRA also does).
        first_norm = 0 if ls.input_grad else am.first_norm
        saved_tok = layers * am.layer_tokens + lora_tok - ls.stream_skip + am.model_tokens - first_norm
        phases = [
            Phase("loss", ls.weight_casts + ls.merged + am.head_cast, saved_tok + am.loss_tokens,
                  layers * am.layer_bs2),
            Phase("backward_top", ls.weight_casts + ls.merged + ls.merged_grad + am.dequant,
                  saved_tok + flight, layers * am.layer_bs2),
            Phase("backward_bottom", below + layer_casts + merged_back + am.dequant,
                  per_layer + am.model_tokens + flight, am.layer_bs2),
        ]
    else:
        saved_tok = layers * am.layer_input + am.model_tokens
        phases = [
            Phase("loss", am.head_cast, saved_tok + am.loss_tokens, 0.0),
            Phase("recompute_top", layer_casts + merged_back + am.dequant, saved_tok + per_layer + flight,
                  am.layer_bs2),
            Phase("recompute_bottom", below + layer_casts + merged_back + am.dequant,
                  am.layer_input + am.model_tokens + per_layer + flight, am.layer_bs2),
        ]
    phases.append(Phase("optimizer", grad_bytes + opt_temp, 0.0))
    return phases


class PhaseCoeffs(NamedTuple):
    """One phase as an affine function of the swept rank r and the per-GPU gradient bytes g:
    const = c0 + r*dc + g*dg, per_token = t0 + r*dt, per_bs2 = q."""

    name: str
    c0: float
    dc: float
    dg: float
    t0: float
    dt: float
    q: float


def phase_coeffs(am: ActivationModel, ls0: LoraSaved, ls1: LoraSaved, setup: TrainingSetup) -> list[PhaseCoeffs]:
    """step_phases is affine in the rank (LoraSaved is) and in the gradient bytes: read its coefficients off
    three evaluations, so a sweep prices a rank with a few multiplications."""
    g = 1 << 30
    base = step_phases(am, ls0, setup, 0)
    at_r = step_phases(am, ls1, setup, 0)
    at_g = step_phases(am, ls0, setup, g)
    return [
        PhaseCoeffs(p.name, p.const, r.const - p.const, (q.const - p.const) / g, p.per_token, r.per_token - p.per_token,
                    p.per_bs2)
        for p, r, q in zip(base, at_r, at_g, strict=True)
    ]


def phase_details(am: ActivationModel, ls: LoraSaved) -> dict[str, float]:
    """Named terms for the UI: keys ending in _per_token are bytes per token, the others bytes."""
    layers = max(am.layers, 1)
    return {
        "saved_base_per_token": layers * am.layer_tokens + am.model_tokens,
        "lora_input_copies_per_token": ls.copies,
        "lora_dropout_masks_per_token": ls.masks,
        "lora_mid_per_token": ls.mids,
        "logits_per_token": am.loss_tokens,
        "adapter_weight_casts": ls.weight_casts,
        "lora_merged_expert_weights": ls.merged,
    }
