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
from lorplan.core.memory.precision import autocast_on
from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup


class Phase(NamedTuple):
    """Bytes live above the static state at one moment of the step: const + per_token*T + per_bs2*b*s*s."""

    name: str
    const: int
    per_token: float
    per_bs2: float = 0.0

    def at(self, micro_batch: int, seq_len: int) -> int:
        t = micro_batch * seq_len
        return int(self.const + self.per_token * t + self.per_bs2 * t * seq_len)


class Piece(NamedTuple):
    """One named part of a phase: `label` says what it is (several pieces may share a label)."""

    label: str
    const: float = 0.0
    per_token: float = 0.0
    per_bs2: float = 0.0


# The phases in words, for the planner and `lorplan plan` ("peak at ...").
PHASE_WORDS = {
    "loss": "the loss (end of the forward pass: every saved activation and the logits are alive)",
    "final_norm": "backward through the final norm (saved activations and its fp32 gradient temporaries)",
    "backward_top": "backward through the last block (saved activations and the first gradients)",
    "backward_bottom": "backward through the first block (most adapter gradients exist)",
    "mlp_top": "backward through the last block's MLP (its gradients in flight)",
    "mlp_bottom": "backward through the first block's MLP (most adapter gradients exist)",
    "recompute_top": "recomputing the last block (checkpoints, its recomputed activations and gradients)",
    "recompute_bottom": "recomputing the first block (most adapter gradients exist)",
    "optimizer": "the optimizer step (every adapter gradient and the step's temporaries)",
    "forward": "the end of the forward pass (every saved activation and the last block's temporaries)",
    "recompute_forward": "recomputing the last block (checkpoints, its recomputed activations and temporaries)",
    "attention_top": "backward through the last block's attention (its softmax's score-sized gradients)",
    "attention_bottom": "backward through the first block's attention (most adapter gradients exist)",
    "attention_forward": "the last block's forward softmax (its scores, the masked scores and their fp32 softmax)",
}
PHASE_SHORT = {"loss": "loss", "final_norm": "final norm", "backward_top": "bwd top", "backward_bottom": "bwd bottom",
               "mlp_top": "mlp bwd top", "mlp_bottom": "mlp bwd bottom",
               "recompute_top": "recomp top", "recompute_bottom": "recomp bottom", "optimizer": "optim step",
               "forward": "forward", "recompute_forward": "recomp fwd", "attention_top": "attn bwd top",
               "attention_bottom": "attn bwd bottom",
               "attention_forward": "attn fwd"}

# The labels of the pieces, as the planner and `lorplan plan --json` ("peak") name them.
SAVED = "saved activations"
LORA_SAVED = "LoRA saved inputs"
CHECKPOINTS = "checkpointed layer inputs"
RECOMPUTED = "recomputed block"
LOGITS = "logits and loss buffers"
FLIGHT = "activation gradients in flight"
GRADIENTS = "adapter gradients"
CASTS = "adapter weight casts"
MERGED = "merged expert weights"
DEQUANT = "dequantized weight"
HEAD_CAST = "output head cast"
OPT_TEMP = "optimizer step temporaries"
FORWARD = "last block's forward temporaries"
ATTN_BACKWARD = "attention backward (softmax gradients)"
MASKS = "attention masks"
ATTN_FORWARD = "attention forward (scores and softmax)"
NORM_BACKWARD = "final norm backward"


def phase_pieces(am: ActivationModel, ls: LoraSaved, setup: TrainingSetup, grad_bytes: int,
                 below_share: float | None = None) -> list[tuple[str, list[Piece]]]:
    """The phases of one step for this rank (bytes above the static state), each as its named pieces: see
    _block_phases; and, where a decoder's MLP's own gradients outweigh what backward_top's flight prices,
    mlp_top and mlp_bottom after the phases they copy. below_share: the share of grad_bytes alive when the first
    block back-propagates (None: every block's but the first's, (layers - 1) / layers)."""
    phases = _block_phases(am, ls, setup, grad_bytes, below_share)
    # the MLP back-propagating (activations.mlp_backward_flight: unadapted, or its intermediates fp32 after kbit
    # preparation): its gradients beside the incoming hidden-state gradient alone (the residual stream's dtype:
    # am.layer_input's bytes); the output projection's LoRA input (LoraSaved.widest_saved) and a quantized
    # base's dequantized weight are freed by then, and with full fine-tuning that projection's 16-bit weight copy,
    # its weight gradient made (LoraSaved.out_proj_cast, out_proj_grad). Whether it is priced depends on neither
    # the rank nor the tokens, so every phase stays affine in both
    mlp_grads = am.mlp_backward - ls.widest_saved + am.layer_input
    flight = ls.chain + am.stream_grads * am.layer_input
    if not am.mlp_backward or mlp_grads <= flight:
        return phases
    out = []
    for name, pieces in phases:
        out.append((name, pieces))
        mlp = {"backward_top": "mlp_top", "recompute_top": "mlp_top", "backward_bottom": "mlp_bottom",
               "recompute_bottom": "mlp_bottom"}.get(name)
        if mlp:
            # (the widest adapted module's LoRA gradients, LoraSaved.chain_grads, are made by then only when it is
            # the MLP output projection, LoraSaved.mlp_chain_grads: attention projections back-propagate after the
            # MLP)
            out.append((mlp, [*(p._replace(per_token=mlp_grads) if p.label == FLIGHT else p
                                for p in pieces if p.label != DEQUANT),
                              Piece(CASTS, -ls.out_proj_cast), Piece(GRADIENTS, ls.out_proj_grad),
                              Piece(GRADIENTS, ls.mlp_chain_grads - ls.chain_grads)]))
    return out


def _encoder_lora_moment(am: ActivationModel, ls: LoraSaved, lora_out: int) -> float:
    """Bytes per token beyond the end of a post-LayerNorm encoder block's forward (am.forward_tokens) while its
    MLP output projection's LoRA runs, in the forward or its recomputation (0: that moment is lower, or no LoRA
    there). The block's last LayerNorm, its output and saved tensors are not yet made (am.block_tail_saved); the
    input's cast and the base output are alive (ls.forward_extra), and either lora_A runs beside the LoRA
    dropout's own output under autocast (ls.forward_dropped), or, that output freed, lora_B's output and its
    scaled copy are made (lora_out bytes each; peft/tuners/lora/layer.py: lora_B(lora_A(dropout(x))) * scaling).
    Traced: tests/core/test_memory_trace.py (bert, bert-dropout), the recomputation peaks at either."""
    if not ls.forward_extra:
        return 0.0
    at_a = ls.forward_extra - 2 * am.act_bytes * am.hidden - am.block_tail_saved
    at_b = at_a - ls.forward_dropped + 2 * lora_out * am.hidden
    return max(0.0, at_a, at_b)


def _block_phases(am: ActivationModel, ls: LoraSaved, setup: TrainingSetup, grad_bytes: int,
                  below_share: float | None = None) -> list[tuple[str, list[Piece]]]:
    """The phases of one step for this rank (bytes above the static state), each as its named pieces.

    loss: everything saved + the logits buffers. top / bottom: the backward of the last and of the first block
    (the widest adapted input's gradient chain and the hidden-state gradient in flight; at the bottom the other
    blocks' adapter gradients exist and their saved tensors are gone). With checkpointing the block being
    back-propagated is recomputed first. optimizer: gradients + the foreach step's one intermediate.
    A phase is the sum of its pieces in list order (step_phases), so the pieces are exactly what the phase holds.
    """
    layers = max(am.layers, 1)
    lora_tok = ls.copies + ls.masks + ls.mids
    opt_temp = foreach_step_temp_bytes(setup.optimizer, setup.foreach, grad_bytes)
    per_layer = am.layer_tokens + lora_tok / layers
    # torch autograd's engine runs a block's backward holding the incoming hidden-state gradient and the one it
    # produces (summed over the residual branches; a post-LayerNorm block, one: am.stream_grads), in the residual
    # stream's dtype (am.layer_input's bytes: fp32 after kbit preparation and for full fine-tuning's fp32
    # weights), and the widest adapted input's gradient chain (with a quantized base the dequantized weight is
    # alive then)
    flight = ls.chain + am.stream_grads * am.layer_input
    made = Piece(GRADIENTS, ls.chain_grads)  # the widest adapted module's LoRA weight gradients, made by then
    # true divisions keep every phase affine in (rank, gradients)
    below = grad_bytes * ((layers - 1) / layers if below_share is None else below_share)
    layer_casts = ls.weight_casts / layers
    merged_back = ls.merged_layer + ls.merged_grad  # MoE LoRA: one layer's merged weights and their gradient
    # once the blocks back-propagate, the final norm's saved tensors, the head's saved input and the loss's labels
    # are freed: of model_tokens only model_backward_tokens (RoPE's cos and sin) is left
    model_freed = Piece(SAVED, per_token=am.model_backward_tokens - am.model_tokens)
    lora_out = am.act_bytes if autocast_on(setup) else DTYPE_BYTES[setup.adapter_dtype]
    if not setup.grad_checkpointing:
        # Frozen embeddings: the first norm's input needs no grad, so it saves nothing (transformers turns on
        # enable_input_require_grads only together with gradient checkpointing; embedding LoRA also does).
        first_norm = 0 if ls.input_grad else am.first_norm
        saved = [Piece(SAVED, per_token=layers * am.layer_tokens), Piece(LORA_SAVED, per_token=lora_tok),
                 Piece(LORA_SAVED, per_token=-ls.stream_skip), Piece(SAVED, per_token=am.model_tokens),
                 Piece(SAVED, per_token=-first_norm),
                 Piece(SAVED, per_token=am.embed_saved if ls.input_grad else 0.0)]
        all_layers = Piece(SAVED, per_bs2=layers * am.layer_bs2)
        casts = [Piece(CASTS, ls.weight_casts), Piece(MERGED, ls.merged)]
        # aten/src/ATen/autocast_mode.cpp (cached_cast): inside the autocast region (forward and loss) every
        # adapter weight cast stays cached, saved for backward or not; the cache empties when the region ends
        cached = [Piece(CASTS, ls.cast_cache), Piece(MERGED, ls.merged)]
        forward = []
        if am.forward_tokens:  # an encoder has no logits: the end of its last block's forward can be the peak
            # BertModel.forward keeps embedding_output and BertEncoder the block's input (Python locals). With LoRA
            # on the MLP output projection its peak can be while that LoRA runs (_encoder_lora_moment)
            live = am.forward_tokens + 2 * am.embed_out + _encoder_lora_moment(am, ls, lora_out)
            forward = [("forward", [*cached, *saved, Piece(FORWARD, per_token=live), all_layers])]
        attention = []
        if am.attn_backward_bs2:
            # eager attention: the moment its softmax back-propagates. The head, the final norm and the block's
            # MLP, its adapters after the attention core and their saved tensors are back-propagated and freed
            drop_top = Piece(SAVED, per_token=am.attn_backward_tokens - am.layer_tokens + am.model_backward_tokens
                             - am.model_tokens)
            attention = [
                ("attention_top", [*casts, Piece(MERGED, ls.merged_grad), Piece(DEQUANT, am.dequant), *saved,
                                   drop_top, Piece(LORA_SAVED, per_token=(ls.attn_input - lora_tok) / layers),
                                   Piece(FLIGHT, per_token=am.attn_backward_flight), all_layers,
                                   Piece(ATTN_BACKWARD, per_bs2=am.attn_backward_bs2 - am.layer_bs2)]),
                ("attention_bottom", [Piece(GRADIENTS, below), Piece(CASTS, layer_casts), Piece(MERGED, merged_back),
                                      Piece(DEQUANT, am.dequant),
                                      Piece(SAVED, per_token=am.attn_backward_tokens + am.model_backward_tokens),
                                      Piece(LORA_SAVED, per_token=ls.attn_input / layers),
                                      Piece(FLIGHT, per_token=am.attn_backward_flight),
                                      Piece(ATTN_BACKWARD, per_bs2=am.attn_backward_bs2)]),
            ]
        if am.attn_forward_bs2:
            # BLOOM's eager attention: the last block's forward softmax. The blocks before it have saved all they
            # save; this one its first norm, the q/k/v LoRA's inputs and what bloom_forward_softmax names; the
            # model's forward keeps the embeddings' output
            forward.append(("attention_forward", [
                *cached, *saved,
                Piece(SAVED, per_token=am.attn_forward_tokens - am.layer_tokens - am.model_tokens + am.embed_out),
                Piece(LORA_SAVED, per_token=(ls.attn_input - lora_tok) / layers), all_layers,
                Piece(ATTN_FORWARD, per_bs2=am.attn_forward_bs2 - am.layer_bs2)]))
        if am.block_live_bs2 or am.forward_mask_bs2:
            # kbit eager attention: the end of the last block, before the final norm and the head (above the loss
            # when the vocabulary is small). Its MLP's last LoRA layer holds its input (the activation's fp32
            # output: LoRA saved a 16-bit cast), peft's clone of the base output, the LoRA output's cast and their
            # sum; with attention dropout the block its dropped fp32 probabilities; the model's forward its
            # embeddings' output and the fp32 masks (activations.kbit_eager_live: gone once it returns, before
            # the loss)
            mlp_flight = am.block_input * am.intermediate + 3 * am.block_input * am.hidden
            forward.append(("forward", [*cached, *saved, Piece(SAVED, per_token=am.embed_out - am.model_tokens),
                                        all_layers, Piece(MASKS, per_bs2=am.forward_mask_bs2),
                                        Piece(FLIGHT, per_token=mlp_flight),
                                        Piece(FORWARD, per_bs2=am.block_live_bs2)]))
        final_norm = []
        if am.final_norm_backward:
            # the final RMSNorm back-propagates: the head's saved input (a classifier's score) and the loss's
            # labels are gone, every block's saved tensors are not
            final_norm = [("final_norm", [*casts, *saved, model_freed,
                                          Piece(NORM_BACKWARD, per_token=am.final_norm_backward), all_layers])]
        if am.block_forward_tokens and not forward:
            # a decoder's last block at its MLP output projection (above the loss when the head is narrow: a
            # classifier's score, a small vocabulary): every block's saved tensors, RoPE's tables, the
            # embeddings' output the model's forward keeps (the stream's dtype: am.layer_input's bytes), the
            # block's own live tensors (activations.decoder_block_live), and the projection's output or, with
            # LoRA on it, its input's cast and output (forward_extra) and three more of the hidden size: peft's
            # lora_B output, its scaled copy and one the trace shows alive beside them (the adapter dtype
            # without autocast; traced with autocast: tests/core/test_memory_trace.py)
            down = ls.forward_extra + 3 * lora_out * am.hidden if ls.forward_extra else am.act_bytes * am.hidden
            forward = [("forward", [*cached, *saved, model_freed, Piece(SAVED, per_token=am.layer_input),
                                    Piece(FORWARD, per_token=am.block_forward_tokens + down), all_layers])]
        return [*forward,
            ("loss", [*cached, Piece(HEAD_CAST, am.head_cast), *saved, Piece(LOGITS, per_token=am.loss_tokens),
                      all_layers]),
            *final_norm,
            ("backward_top", [made, *casts, Piece(MERGED, ls.merged_grad), Piece(DEQUANT, am.dequant), *saved,
                              model_freed, Piece(FLIGHT, per_token=flight), all_layers]),
            ("backward_bottom", [Piece(GRADIENTS, below), made, Piece(CASTS, layer_casts), Piece(MERGED, merged_back),
                                 Piece(DEQUANT, am.dequant), Piece(SAVED, per_token=per_layer),
                                 Piece(SAVED, per_token=am.model_backward_tokens), Piece(FLIGHT, per_token=flight),
                                 Piece(SAVED, per_bs2=am.layer_bs2)]),
            *attention,
            ("optimizer", [Piece(GRADIENTS, grad_bytes), Piece(OPT_TEMP, opt_temp)]),
        ]
    # enable_input_require_grads (transformers turns it on with checkpointing) makes the embeddings' output
    # need grad, so what the embeddings save (am.embed_saved) is kept
    # (enable_input_require_grads' requires_grad_() makes the embeddings' output a leaf the graph keeps)
    # eager attention's masks: every block's checkpoint holds them to recompute it
    masks = Piece(MASKS, per_bs2=am.mask_bs2)
    saved = [Piece(CHECKPOINTS, per_token=layers * am.layer_input), Piece(SAVED, per_token=am.model_tokens),
             Piece(SAVED, per_token=am.embed_saved + am.embed_out), masks]
    # a first norm that saves the block's input itself (activations.norm_saves_stream) saves the checkpoint,
    # already held: the recomputed block adds the rest
    per_layer = per_layer - am.first_norm_stream
    # kbit eager attention with dropout: the recomputed block also holds its dropped fp32 probabilities
    block = [Piece(RECOMPUTED, per_token=per_layer), Piece(FLIGHT, per_token=flight),
             Piece(RECOMPUTED, per_bs2=am.layer_bs2 + am.block_live_bs2)]
    layer_state = [Piece(CASTS, layer_casts), Piece(MERGED, merged_back), Piece(DEQUANT, am.dequant)]
    forward = []
    if am.forward_tokens:  # an encoder: the end of the recomputed last block (its output gradient waiting), or,
        # with LoRA on its MLP output projection, while that LoRA runs (_encoder_lora_moment)
        live = am.forward_tokens + _encoder_lora_moment(am, ls, lora_out)
        forward = [("recompute_forward", [*layer_state, *saved, Piece(RECOMPUTED, per_token=per_layer),
                                          Piece(FLIGHT, per_token=am.act_bytes * am.hidden),
                                          Piece(FORWARD, per_token=live),
                                          Piece(RECOMPUTED, per_bs2=am.layer_bs2)])]
    elif am.block_forward_tokens:
        # a decoder: the last block recomputed up to its MLP output projection, whose LoRA's saved inputs are the
        # last the recomputation needs (torch.utils.checkpoint stops there): the final norm's gradient (the
        # stream's dtype: am.layer_input's bytes) waits, and the block's own live tensors, the projection's
        # output and its LoRA input's cast are alive. With LoRA on that projection, peft's `result +
        # lora_B(...) * scaling` back-propagates first (it saves nothing the recomputation makes): the scaled
        # branch's gradient (the LoRA output's dtype) waits beside it, and without autocast, where an adapter
        # dtype other than the base's makes the sum a cast of its own, the base output's gradient cast back too.
        # Traced: the recomputation peaks there (tests/core/test_memory_trace.py, gpt2-heads and llama-wide)
        down = ls.forward_extra or am.act_bytes * am.hidden
        lora_grads = 0
        if ls.forward_extra:
            lora_grads = lora_out * am.hidden + (am.act_bytes * am.hidden if lora_out != am.act_bytes else 0)
        forward = [("recompute_forward", [*layer_state, *saved, model_freed, Piece(RECOMPUTED, per_token=per_layer),
                                          Piece(FLIGHT, per_token=am.layer_input + lora_grads),
                                          Piece(FORWARD, per_token=am.block_forward_tokens + down),
                                          Piece(RECOMPUTED, per_bs2=am.layer_bs2)])]
    if am.attn_forward_bs2:
        # BLOOM's eager attention: the last block's forward softmax, every block's checkpoint held (no adapter
        # gradient exists yet; autocast caches every adapter weight cast)
        forward.append(("attention_forward", [
            Piece(CASTS, ls.cast_cache), Piece(MERGED, ls.merged), Piece(DEQUANT, am.dequant),
            Piece(CHECKPOINTS, per_token=layers * am.layer_input),
            Piece(SAVED, per_token=am.embed_saved + am.embed_out), masks,
            Piece(FORWARD, per_token=am.attn_forward_tokens), Piece(ATTN_FORWARD, per_bs2=am.attn_forward_bs2)]))
    attention = []
    if am.attn_backward_bs2:
        # eager attention: the recomputed block's softmax back-propagates. The head, the final norm, the block's
        # MLP, its adapters after the attention core and their saved tensors are back-propagated and freed
        attn_block = [Piece(RECOMPUTED, per_token=am.attn_backward_tokens + ls.attn_input / layers),
                      Piece(FLIGHT, per_token=am.attn_backward_flight),
                      Piece(ATTN_BACKWARD, per_bs2=am.attn_backward_bs2)]
        model = Piece(SAVED, per_token=am.model_backward_tokens + am.embed_saved + am.embed_out)
        attention = [("attention_top", [*layer_state, Piece(CHECKPOINTS, per_token=layers * am.layer_input), model,
                                        masks, *attn_block]),
                     ("attention_bottom", [Piece(GRADIENTS, below), *layer_state,
                                           Piece(CHECKPOINTS, per_token=am.layer_input), model, masks, *attn_block])]
    final_norm = []
    if am.final_norm_backward:  # before the last block is recomputed: its checkpoint and the others' are held
        final_norm = [("final_norm", [*saved, model_freed, Piece(NORM_BACKWARD, per_token=am.final_norm_backward)])]
    return [
        *forward,
        ("loss", [Piece(HEAD_CAST, am.head_cast), *saved, Piece(LOGITS, per_token=am.loss_tokens)]),
        *final_norm,
        ("recompute_top", [made, *layer_state, *saved, model_freed, *block]),
        # what the embeddings saved is alive until they back-propagate, after the first block; with frozen
        # embeddings their output is the leaf enable_input_require_grads made, which autograd's AccumulateGrad
        # keeps to the end (traced: gpt2-heads r64, the first block's gradient chain peaks)
        ("recompute_bottom", [Piece(GRADIENTS, below), made, *layer_state,
                              Piece(CHECKPOINTS, per_token=am.layer_input),
                              Piece(SAVED, per_token=am.model_backward_tokens + am.embed_saved
                                    + (0 if ls.input_grad else am.embed_out)), masks, *block]),
        *attention,
        ("optimizer", [Piece(GRADIENTS, grad_bytes), Piece(OPT_TEMP, opt_temp)]),
    ]


def _fold(values) -> float:
    """Left-to-right sum (the order the phase formulas have always added their terms in)."""
    total = 0
    for v in values:
        if v:
            total = total + v
    return total


def step_phases(am: ActivationModel, ls: LoraSaved, setup: TrainingSetup, grad_bytes: int,
                below_share: float | None = None) -> list[Phase]:
    """The phases of one step for this rank (bytes above the static state): the sums of phase_pieces."""
    return [Phase(name, _fold(p.const for p in pieces), _fold(p.per_token for p in pieces),
                  float(_fold(p.per_bs2 for p in pieces)))
            for name, pieces in phase_pieces(am, ls, setup, grad_bytes, below_share)]


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
