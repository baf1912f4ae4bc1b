"""Full fine-tuning as a reference row: what training every weight would cost with the same setup, so that the
saving of LoRA and QLoRA is visible beside the rank table.

The reference trains every parameter the way the setup trains: under 16-bit autocast (the default) it is
mixed-precision full fine-tuning as transformers' Trainer runs it (docs/source/en/model_memory_anatomy.md,
"18 bytes per parameter"): fp32 master weights, fp32 gradients and the optimizer's states; without autocast
("pure" training, as peft's method comparison runs it) weights, gradients and states take the base dtype.
A quantized setup is priced on its unquantized model (bitsandbytes' 4/8-bit weights cannot be trained).
The activations are those of the base model (activations.py) with every linear saving its input, as autograd
does once the weight needs a gradient; the phases are phases.py's. Checked against traced CPU steps
(tests/core/test_memory_trace.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lorplan.core.memory.activations import activation_model, is_encoder
from lorplan.core.memory.lora_saved import LoraSaved
from lorplan.core.memory.optimizer import optimizer_states
from lorplan.core.memory.overhead import (
    allocator_reserve_bytes,
    cublas_workspace_bytes,
    cuda_context_bytes,
    reserve_base_bytes,
    shard,
)
from lorplan.core.memory.phases import GRADIENTS, phase_pieces, step_phases
from lorplan.core.memory.precision import activation_bytes, autocast_on
from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup
from lorplan.core.model.spec import ModelSpec

_ATTN_OUTPUT = frozenset({"o_proj", "out_proj", "c_proj", "dense", "wo", "proj", "dense_proj"})
MASTER_BYTES = 4  # fp32 master weights and gradients under autocast


@dataclass(frozen=True)
class FullFinetune:
    """Bytes per GPU of full fine-tuning with the setup's batch, sequence, optimizer, attention and GPUs.

    gradients and activations split the in-step peak at its moment (peak_phase), as the rank table does: the
    gradients alive then (none at the loss, all at the optimizer step) and everything else alive then.
    all_gradients is the size of every gradient (fp32 under autocast), alive together at the optimizer step."""

    trainable_params: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int
    peak_phase: str
    all_gradients: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead


def reference_setup(setup: TrainingSetup) -> TrainingSetup:
    """The setup full fine-tuning is priced with: unquantized, no LoRA dropout, the setup's autocast dtype."""
    return replace(setup, quant="none", double_quant=False, lora_dropout=0.0, prepare_kbit=False)


def reference_words(setup: TrainingSetup) -> str:
    """What the reference row assumes, in a few words (the JSON's "assumes", the text line)."""
    ref = reference_setup(setup)
    unquantized = ", unquantized" if setup.quant != "none" else ""
    if autocast_on(ref):
        return (f"every parameter trained: fp32 master weights, fp32 gradients and {ref.optimizer} states, "
                f"under {ref.base_dtype} autocast{unquantized}")
    return (f"every parameter trained: {ref.base_dtype} weights, gradients and {ref.optimizer} states, "
            f"no autocast{unquantized}")


def linear_inputs_saved(spec: ModelSpec, setup: TrainingSetup, a: int) -> float:
    """Bytes per token the trained linears save for their weight gradients (their inputs)."""
    amp = autocast_on(setup)
    total = 0.0
    shared: set[tuple] = set()
    for m in spec.linears:
        if m.layer is None:
            # an output head reads the final norm's output per token (an encoder's classifier reads one vector
            # per sequence: below one token's worth, left out as activations.pooled_head_saved is; a decoder
            # classifier's score head is priced by activation_model: ActivationModel.head_input)
            total += a * m.in_features if (m.role == "head" and spec.task == "causal-lm") else 0
            continue
        if m.role == "attention" and m.name in _ATTN_OUTPUT and setup.attention != "eager":
            continue  # SDPA's own output (a transposed view of its saved buffer): nothing new
        if m.role == "mlp" and m.in_features != spec.hidden_size or m.role == "attention" and m.name in _ATTN_OUTPUT:
            total += a * m.in_features  # a new 16-bit tensor (the MLP's product, eager attention's output)
            continue
        # torch autocast casts a non-leaf fp32 input for each matmul separately (only leaf weights are cached):
        # q, k and v (gate and up) each save their own 16-bit copy of the norm's fp32 output. Without
        # autocast the modules reading one input save that tensor once
        key = (m.layer, m.role, m.in_features)
        if amp or key not in shared:
            shared.add(key)
            total += a * m.in_features
    return total


def first_block_share(spec: ModelSpec) -> float:
    """The share of the gradients alive when the first block back-propagates: every parameter's but the first
    block's and those that back-propagate after it (the input embeddings, positions and, for a post-LayerNorm
    encoder, the embeddings' norm). A tied head's weight is the input embedding's: its gradient exists since the
    head back-propagated."""
    params = spec.total_params
    if not params:
        return 0.0
    first = min((m.layer for m in spec.linears if m.layer is not None), default=None)
    late = sum(m.params for m in spec.linears if m.layer is not None and m.layer == first)
    tied = any(m.role == "head" for m in spec.tied_linears)
    encoder = is_encoder(spec)
    for t in spec.tensors:
        if t.layer is not None:
            late += t.numel if t.layer == first else 0
        elif t.kind == "position" or t.kind == "embedding" and not tied or t.kind == "norm" and encoder:
            late += t.numel
    return (params - late) / params


def full_finetune(spec: ModelSpec, setup: TrainingSetup) -> FullFinetune:
    """Price full fine-tuning of every parameter with this setup (see the module docstring)."""
    ref = reference_setup(setup)
    a = activation_bytes(ref)
    amp = autocast_on(ref)
    master = MASTER_BYTES if amp else DTYPE_BYTES[ref.base_dtype]
    am = activation_model(spec, ref, stream_bytes=master, train_norms=True)
    if am.forward_tokens:  # an encoder's MLP output projection now saves its input (the activation's output)
        am = replace(am, forward_tokens=am.forward_tokens - a * spec.intermediate_size)
    if amp and spec.task == "causal-lm":  # the output head's 16-bit weight copy (checkpointing leaves the blocks'
        # copies uncached: measured, tests/core/test_memory_trace.py), saved until the head's backward
        head = [m for m in (*spec.linears, *spec.tied_linears) if m.role == "head"]
        am = replace(am, head_cast=a * sum(m.in_features * m.out_features for m in head) if ref.grad_checkpointing
                     else 0)
    params = spec.total_params
    tensors = [(m.in_features * m.out_features, 1, master) for m in spec.linears]
    tensors += [(m.out_features, 1, master) for m in spec.linears if m.bias]
    tensors += [(t.numel, 1, master) for t in spec.tensors]
    opt = optimizer_states(ref.optimizer, tensors, counters_on_device=ref.kernels == "cpu")
    weights, grads = master * params, master * params
    linear_weights = sum(m.in_features * m.out_features for m in (*spec.linears, *spec.tied_linears))
    # aten/src/ATen/autocast_mode.cpp (cached_cast): every weight's 16-bit copy, cached and saved for backward
    casts = a * linear_weights if amp else 0
    widest = max((m.in_features for m in spec.linears if m.layer is not None), default=0)
    inputs = linear_inputs_saved(spec, ref, a)
    # the MLP output projection (the widest MLP input, wider than the hidden size): once it back-propagates, its
    # saved input and 16-bit weight copy are freed and its weight gradient made, before the MLP's own gradients
    # peak (phases.phase_pieces' mlp_top / mlp_bottom)
    out_proj = max((m for m in spec.linears if m.layer is not None and m.role == "mlp"
                    and m.in_features > spec.hidden_size), key=lambda m: m.in_features, default=None)
    widest_saved = a * out_proj.in_features if out_proj else 0.0
    out_cast = a * out_proj.in_features * out_proj.out_features if out_proj and amp else 0
    out_grad = master * out_proj.params if out_proj else 0
    # attn_input: what eager attention's backward still holds of these; all of them, an upper bound
    ls = LoraSaved(copies=inputs, masks=0.0, mids=0.0, weight_casts=casts, stream_skip=0.0, chain=a * widest,
                   input_grad=True, cast_cache=casts, attn_input=inputs, widest_saved=widest_saved,
                   out_proj_cast=out_cast, out_proj_grad=out_grad)
    block = {"layer_weights": 0}
    if ref.sharding != "none":
        largest = max((sum(m.params for m in spec.linears if m.layer == i) for i in range(spec.num_layers)), default=0)
        block["layer_weights"] = master * largest
    opt_alloc, opt_paged = opt.allocated, opt.paged
    extra = 0
    if ref.sharding != "none":
        sh = shard(ref, weights, 0, grads, opt_alloc, opt_paged, block["layer_weights"])
        weights, grads, opt_alloc, opt_paged = sh.weights, sh.gradients, sh.optimizer_allocated, sh.optimizer_paged
        extra = sh.gathered_weights + sh.ddp_buckets
    if ref.sharding != "none":  # the projection's gradient, sharded as every gradient is
        ls = ls._replace(out_proj_grad=int(out_grad * grads / (master * params)) if params else 0)
    below = first_block_share(spec)
    phases = step_phases(am, ls, ref, grads, below)
    at = [p.at(ref.micro_batch, ref.seq_len) + extra for p in phases]
    best = max(range(len(at)), key=lambda i: (at[i], -i))  # the first of equal phases, as sweep.peak_moment
    name, peak = phases[best].name, at[best]
    # the gradients alive at that moment (the pieces phases[best] sums), the rest of the peak is activations
    alive = int(round(sum(p.const for p in phase_pieces(am, ls, ref, grads, below)[best][1] if p.label == GRADIENTS)))
    workspace = cublas_workspace_bytes(setup)
    static = weights + opt_alloc + opt_paged + workspace
    overhead = (cuda_context_bytes(setup) + workspace
                + allocator_reserve_bytes(static + peak, float(setup.reserve_fraction), reserve_base_bytes(setup)))
    return FullFinetune(params, weights, alive, opt_alloc + opt_paged, peak - alive, overhead, name, grads)
