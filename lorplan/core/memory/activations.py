"""What the base model's forward saves for backward, per block part, and the buffers around the loss.

Bytes per token per layer unless a function says otherwise (b*s tokens; `a` = activation bytes, 2 under 16-bit
autocast, precision.activation_bytes). Frozen base linears save nothing of their own: autograd keeps a matmul's
input only when the weight needs a gradient. What LoRA adds is in lora_saved.py; how these add up over a step
(the phases) is in phases.py.

Checked part by part against real traced CPU steps (tests/core/test_memory_parts.py) and as a whole
(tests/core/test_memory_trace.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lorplan.core.memory.precision import (
    activation_bytes,
    autocast_on,
    block_input_bytes,
    kbit_upcast,
    unquantized_param_bytes,
)
from lorplan.core.memory.types import TrainingSetup
from lorplan.core.memory.weights import linear_shapes
from lorplan.core.model.spec import ModelSpec


@dataclass(frozen=True)
class ActivationModel:
    """Per-spec, per-setup coefficients of the base model (no LoRA terms). layer_tokens = norms + attention +
    mlp; the parts are kept so that the tracing tests can check each one."""

    layer_tokens: float  # saved bytes per token per layer, base model (no LoRA)
    layer_bs2: float  # saved bytes per b*s*s per layer (eager attention, the padding mask)
    layer_input: float  # bytes per token per layer kept by checkpointing
    model_tokens: float  # saved per token outside the layers (final norm, RoPE tables, labels)
    loss_tokens: float  # bytes per token at the loss peak (logits buffers)
    first_norm: float  # saved by the first block's first norm, only when the embeddings' output needs grad
    dequant: int  # bitsandbytes' transient dequantized weight (largest quantized linear, compute dtype)
    head_cast: int  # autocast's bf16 copy of an fp32 output head, saved until the head's backward
    layers: int
    act_bytes: int
    hidden: int
    vocab: int
    norms: int = 0  # the layer's two norms
    attention: int = 0  # the attention core (projections' own saves are LoRA's)
    mlp: int = 0  # the MLP's intermediates
    dropout: int = 0  # the model's own residual-branch dropout masks (attention dropout is in `attention`)
    embed_saved: float = 0.0  # saved at the embeddings only when their output needs grad (dropout mask, BERT's LN)
    forward_tokens: float = 0.0  # encoders: a block's forward temporaries beyond what is saved, per token
    # encoders: what a block saves after its MLP output projection (its last LayerNorm's input and statistics, the
    # MLP branch's dropout mask), per token: not yet made while that projection's LoRA runs
    block_tail_saved: float = 0.0
    embed_out: float = 0.0  # the embeddings' output, per token (kept by the model's forward, or as a leaf)
    # bytes per sequence (a sequence classifier's pooled head: pooler output, classifier input, dropout mask, the
    # fp32 log-probabilities): below one token's worth, so the phases leave it out; the parts test checks it
    per_sequence: float = 0.0
    # a decoder's sequence classifier: what its trained score head saves, per token (its input, the final norm's
    # output; part of model_tokens)
    head_input: float = 0.0  # (with what a head transform before it saves: head_transform_saved)
    head_softcap: float = 0.0  # the final-logit softcapping's saved tanh, per token (part of loss_tokens)
    # eager attention's backward (eager_backward_bs2): bytes per b*s*s of the one layer whose softmax
    # back-propagates (they replace its layer_bs2 then; 0 = no such moment is priced), and bytes per token of that
    # block's base-model tensors still saved then (its first norm, q and k), and the gradients in flight then
    attn_backward_bs2: float = 0.0
    attn_backward_tokens: float = 0.0
    attn_backward_flight: float = 0.0
    mask_bs2: float = 0.0  # the attention masks the model builds, bytes per b*s*s, kept by checkpointing
    model_backward_tokens: float = 0.0  # what model_tokens still holds while the blocks back-propagate (RoPE's)
    # the final RMSNorm's backward (rmsnorm_backward_live): bytes per token it holds at its peak, its saved input
    # and rsqrt included (0 = no such moment is priced); the head's saved input and the loss's labels are gone then
    final_norm_backward: float = 0.0
    # a decoder's last block at its MLP output projection (decoder_block_live): bytes per token alive beyond what
    # it saves and that projection's own output and LoRA (0 = no such moment is priced: encoders, MoE)
    block_forward_tokens: float = 0.0
    # what a pre-norm block's first norm saves that is the block's input itself, per token (norm_saves_stream):
    # under checkpointing that input is the block's checkpoint, already held (0: the norm saves a copy)
    first_norm_stream: float = 0.0
    # the residual stream's gradients a block's backward holds at once (layer_input's bytes each): a pre-norm
    # block keeps the incoming one for its residual beside the one it produces; a post-LayerNorm encoder block's
    # last norm consumes the incoming one
    stream_grads: int = 2
    # a decoder's MLP back-propagating (mlp_backward_flight): its gradients in flight, per token (0: not priced)
    mlp_backward: float = 0.0
    # BLOOM's eager attention (bloom_forward_softmax): bytes per b*s*s live in the last block while its forward
    # softmaxes (0 = no such moment is priced), and bytes per token of that block's tensors alive then
    attn_forward_bs2: float = 0.0
    attn_forward_tokens: float = 0.0
    # kbit eager attention (kbit_eager_live): bytes per b*s*s alive in a running block beyond what it saves (the
    # dropped fp32 probabilities), and, without checkpointing, the fp32 masks the model's forward keeps alive
    # until it returns without saving them
    block_live_bs2: float = 0.0
    forward_mask_bs2: float = 0.0
    block_input: int = 0  # block_input_bytes: what the norms and the MLP's linears hand on inside a block
    intermediate: int = 0  # the MLP's width


_ENCODERS = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra"})


def decoder_classifier(spec: ModelSpec) -> bool:
    """Whether `spec` is a decoder's sequence classifier (a reward model's LlamaForSequenceClassification,
    GPT2ForSequenceClassification, CTRLForSequenceClassification, ModernBertDecoderForSequenceClassification): the
    causal LM's blocks and final norm, and a head over every position in place of the lm_head, pooled at each row's
    last token that is not padding (ModelSpec.pools_last_token: the fallback's child read it from the class it
    built, core.model.pooling; the fast path's are those with a `score` head)."""
    # transformers modeling_layers.py (GenericForSequenceClassification) and models/{gpt2,gpt_neox,bloom,opt,
    # falcon,mpt,...}/modeling_*.py name the head `score`, but models/ctrl names it `classifier` and
    # models/modernbert_decoder `head` + `drop` + `classifier`: the pooling, not the head's name, makes a decoder's
    return spec.task == "sequence-classification" and bool(spec.pools_last_token)


def is_encoder(spec: ModelSpec) -> bool:
    """Whether `spec` is priced as a post-LayerNorm encoder (BERT-style: no final norm, a pooled head)."""
    return _family(spec) == "encoder"


def _family(spec: ModelSpec) -> str:
    if spec.model_type in ("gpt2",):
        return "gpt2"
    if spec.model_type in _ENCODERS or spec.task == "sequence-classification" and not decoder_classifier(spec):
        return "encoder"  # post-LayerNorm blocks, no final norm, a pooled head
    if spec.norm == "layernorm":
        return "layernorm"
    return "llama"


def dropout_mask_bytes(setup: TrainingSetup, x_bytes: int) -> int:
    """Bytes per element that one dropout of the model saves for backward (x of `x_bytes` per element)."""
    if setup.kernels == "cuda":
        # torch/nn/functional.py (dropout) -> aten native_dropout, CUDA's fused kernel: a bool mask, 1 byte each
        return 1
    # aten/src/ATen/native/Dropout.cpp (_dropout_impl, the CPU path): noise = empty_like(x).bernoulli_(1 - p),
    # then x * noise, which saves the noise in x's dtype
    return x_bytes


def residual_dropout_saved(h: int, attn_out_bytes: int, mlp_out_bytes: int, setup: TrainingSetup) -> int:
    """The masks of the dropout on each residual branch's output (attention and MLP), per layer."""
    # transformers models/gpt2/modeling_gpt2.py (GPT2Attention.resid_dropout, GPT2MLP.dropout),
    # models/bert/modeling_bert.py (BertSelfOutput.dropout, BertOutput.dropout), models/phi3/modeling_phi3.py
    # (resid_attn_dropout, resid_mlp_dropout): a dropout on the branch output before the residual add
    return h * (dropout_mask_bytes(setup, attn_out_bytes) + dropout_mask_bytes(setup, mlp_out_bytes))


def eager_dropout_extra(heads: int, a: int, fp32_softmax: bool, setup: TrainingSetup, probs: int | None = None
                        ) -> float:
    """Bytes per b*s*s per layer that attention dropout adds to eager attention (probs: the probabilities'
    bytes per element, `a` unless kbit preparation made them fp32: eager_probs_bytes)."""
    # transformers eager_attention_forward (Llama, GPT-2, BERT): nn.functional.dropout(attn_weights) between the
    # softmax and the matmul with V: the dropout saves its mask and the matmul its (16-bit) output, while the
    # softmax keeps its own output. Without dropout a 16-bit softmax output was the one tensor both saved
    # (an fp32 softmax's 16-bit copy is replaced by the dropout's output: no change there). Dropout on fp32
    # probabilities saves fp32 noise on the CPU, and the matmul a 16-bit copy of its output as before
    mask = dropout_mask_bytes(setup, probs or a)
    return float(heads * (mask if fp32_softmax else mask + a))


def eager_probs_bytes(a: int, fp32_softmax: bool, setup: TrainingSetup) -> int:
    """Bytes per element of eager attention's probabilities (what its dropout and the matmul with V take)."""
    # softmax(dtype=float32).to(query.dtype) and the input-dtype softmax's .type(value.dtype) give q's and v's
    # dtype: the stream's after kbit preparation (a Linear4bit returns its fp32 input's dtype), so fp32 then
    return block_input_bytes(setup) if fp32_softmax else a


def sdpa_math_dropout_saved(hq: int, heads: int) -> tuple[int, float]:
    """CPU SDPA with dropout (the math kernel): (bytes per token, bytes per b*s*s) per layer."""
    # aten/src/ATen/native/transformers/sdp_utils_cpp.cpp (use_flash_attention_cpp: check_for_dropout) sends a
    # training step with dropout_p > 0 to _scaled_dot_product_attention_math, which up-casts bf16/fp16 q, k, v
    # to fp32 (attention.cpp: "Keep query, key, value in high precision"): it saves the scaled q and k, v,
    # the fp32 softmax, the dropout noise and the dropped-out probabilities. CUDA's flash and memory-efficient
    # kernels apply dropout inside the kernel (a Philox seed and offset): nothing more is saved there
    return 4 * 3 * hq, 12.0 * heads


def rmsnorm_saved(h: int) -> int:
    """One RMSNorm (the fp32 input and the fp32 rsqrt), whatever the activation dtype."""
    # transformers models/llama/modeling_llama.py (LlamaRMSNorm.forward): hidden_states.to(torch.float32), whose
    # pow(2) saves that fp32 input (4h), and torch.rsqrt(variance + eps), whose fp32 output (one per token) the
    # following mul saves; the frozen weight's mul saves nothing
    return 4 * h + 4


def rmsnorm_backward_live(h: int) -> int:
    """Bytes per token an RMSNorm holds at the peak of its backward: its saved fp32 input (rmsnorm_saved's rsqrt
    is freed by then) and five fp32 temporaries of the hidden size, whatever the activation dtype."""
    # torch autograd's formulas for LlamaRMSNorm.forward's ops: mul(x32, rsqrt) back-propagates first, its grad
    # for x32 (grad * rsqrt, fp32) is held until pow(x32, 2)'s grad is added to it; rsqrt's backward frees the
    # rsqrt; mean's backward materializes its expanded grad / h (fp32), and pow_backward (grad * (2 *
    # x32.pow(1))) makes x32.pow(1), 2 * that and the product in one expression: with the held grad, five fp32
    # tensors of the hidden size. Traced byte for byte (tests/core/test_memory_parts.py); a decoder classifier
    # trained without autocast peaks there (tests/core/test_memory_trace.py)
    return 4 * h + 5 * 4 * h


def layernorm_saved(h: int, x_bytes: int) -> int:
    """One LayerNorm computing in `x_bytes` per element: its input, mean and rstd per token."""
    # aten native_layer_norm: backward keeps the input, the mean and the rstd (in the input's dtype). torch
    # autocast on CUDA lists layer_norm as an fp32 op; CPU autocast leaves it in the stream's dtype (measured:
    # tests/core/test_memory_parts.py)
    return x_bytes * h + 2 * x_bytes


def sdpa_saved(hq: int, hkv: int, heads: int, a: int) -> int:
    """SDPA flash / memory-efficient without a padding mask: q (after RoPE), k, v, the output, the logsumexp."""
    # aten _scaled_dot_product_flash_attention / _efficient_attention: backward keeps q, k, v, the output and an
    # fp32 logsumexp per head and token; transformers integrations/sdpa_attention.py passes GQA's K/V without
    # repeat_kv when there is no mask (use_gqa_in_sdpa)
    return a * (hq + 2 * hkv + hq) + 4 * heads


# the fused q/k/v projections' leaf names (GPT-2 and GPT-BigCode's c_attn; Phi-3's and CodeGen's qkv_proj;
# GPT-NeoX's, Falcon's, Persimmon's and BLOOM's query_key_value; DBRX's and MPT's Wqkv; Baichuan's W_pack)
_FUSED_QKV = frozenset({"c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack"})


def fused_qkv_view_saved(spec: ModelSpec, setup: TrainingSetup, hq: int, hkv: int, a: int, masked: float,
                         math_dropout: bool) -> float:
    """Bytes per token per layer of a fused q/k/v projection's output that SDPA keeps alive beyond the q, k and
    v that sdpa_saved prices: q's and k's slices, a (hq + hkv), when RoPE rotates them into new tensors while v
    stays a view of the output (`masked`: the share of layers whose SDPA gets a mask)."""
    from lorplan.core.memory.bounds import alibi, learned_positions

    if (not _FUSED_QKV.intersection(spec.layer_linear_names) or _family(spec) == "encoder"
            or setup.attention == "eager" or math_dropout or block_input_bytes(setup) != a):
        return 0.0
    # transformers models/phi3/modeling_phi3.py (Phi3Attention.forward): value_states = qkv[..., query_pos +
    # kv:].view(hidden_shape).transpose(1, 2) is a view, while apply_rotary_pos_emb's sums and torch.cat make q
    # and k new tensors (with partial rotary too: the cat is a whole new q); SDPA saves v, whose storage is the
    # whole fused output. So do GPT-NeoX (qkv.chunk), Falcon (split, unbind; its new decoder architecture's q is
    # a copy, k and v views), Persimmon and CodeGen (traced), and DBRX (split; read, not traced). Without RoPE
    # (GPT-2, GPT-BigCode: learned positions; ALiBi) q and k are views too, and the fused output is just the q,
    # k and v sdpa_saved prices. Checkpointing's recomputed block holds its fused output the same way (priced
    # with the block's tokens). None when autocast casts a kbit model's fp32 output (q, k and v are then its
    # copies: block_input_bytes != a), nor for eager attention or the math kernel (their matmul copies the view
    # for its bmm). flash-attention-2 saves v as given (untraced: no CPU kernel). Traced on the CPU with the KV
    # cache off, as lorplan trains (with it on, the cache's copies of k and v replaced v's view, and that is
    # what was priced before): tests/core/test_memory_trace.py
    if learned_positions(spec) or alibi(spec):
        return 0.0
    extra = float(a * (hq + hkv))
    if repeat_kv_copies(spec):
        # with a mask SDPA gets repeat_kv's copies of GQA's k and v (integrations/sdpa_attention.py:
        # use_gqa_in_sdpa needs no mask; Falcon's on every batch: sdpa_masked); one k/v head (MQA) or one per
        # query head it leaves views
        extra *= 1.0 - masked
    return extra


def clip_qkv_saved(spec: ModelSpec, setup: TrainingSetup, hq: int, hkv: int) -> int:
    """Bytes per token per layer that clip_qkv's clamp of a fused q/k/v output saves: that output, whole."""
    # transformers models/dbrx/modeling_dbrx.py (DbrxAttention.forward: qkv_states.clamp(min, max), always) and
    # models/mpt/modeling_mpt.py (MptAttention.forward: mixed_qkv.clamp when clip_qkv): an out-of-place clamp
    # saves its input for its backward, beside the clamped output that q, k and v come from. The Wqkv output has
    # the block input's dtype (a kbit base's fp32). Traced: DBRX in tests/core/test_memory_trace.py, MPT (eager) alike
    attn_config = _text_model(spec)[1].get("attn_config")
    if "Wqkv" not in spec.layer_linear_names or not isinstance(attn_config, Mapping) or not attn_config.get("clip_qkv"):
        return 0
    return block_input_bytes(setup) * (hq + 2 * hkv)


def repeat_kv_copies(spec: ModelSpec) -> bool:
    """Whether SDPA with a mask gets copies of k and v, one per query head (GQA), rather than the model's own."""
    # transformers models/llama/modeling_llama.py (repeat_kv): expand, then reshape. With several k/v heads the
    # reshape copies; with one (multi-query) it merges a size-1 dim with the stride-0 one, a view; with one per
    # query head repeat_kv returns k and v as they are. Traced: tests/core/test_memory_trace.py (phi3-mqa padded)
    return 1 < spec.num_key_value_heads < spec.num_attention_heads


def sdpa_padded_saved(hq: int, kv: int, heads: int, a: int) -> tuple[int, float]:
    """SDPA with a padding mask: (bytes per token, bytes per b*s*s) per layer (`kv`: the width of the k and v
    SDPA gets, hq for repeat_kv's copies)."""
    # transformers integrations/sdpa_attention.py (use_gqa_in_sdpa needs attention_mask None): repeat_kv copies
    # GQA's K/V to every head (repeat_kv_copies); aten's SDPA turns the boolean mask into an additive one, which
    # its backward keeps
    return a * (hq + 2 * kv + hq) + 4 * heads, float(a)


# The dtype eager attention softmaxes in, per text model type (transformers models/<type>/modeling_*.py: its
# eager_attention_forward, else its attention classes). Most softmax in fp32 whatever the autocast:
# softmax(attn_weights, dtype=torch.float32).to(query.dtype) (Llama, Cohere, Cohere 2, GPT-NeoX, Falcon, OPT, BLOOM,
# Phi, StableLM, ...; MPT and XLM up-cast the scores with .float()). These softmax in the scores' dtype (GPT-2, BERT
# and their kin, Llama 4, GPT-OSS's sinks): torch autocast lists softmax as an fp32 op on CUDA, CPU autocast keeps
# it 16-bit. A model type missing here, or one whose code does both (XGLM: fp32 for fp16 only; ProphetNet: its n-gram
# self-attention calls an fp32 softmax helper), is priced as fp32, the dearer. Checked against the installed
# transformers' source: tests/core/test_memory_softmax_dtype.py
_INPUT_DTYPE_SOFTMAX = frozenset({
    "albert", "bart", "bert", "bert-generation", "big_bird", "bigbird_pegasus", "biogpt", "blenderbot",
    "blenderbot-small", "camembert", "canine", "convbert", "cpmant", "ctrl", "data2vec-text", "deberta",
    "deberta-v2", "deepseek_v4", "distilbert", "electra", "ernie", "esm", "esmc", "funnel", "gpt-sw3", "gpt2",
    "gpt_neox_japanese", "gpt_oss", "gte", "hy_v4", "ibert", "jina_embeddings_v3", "layoutlmv3", "lilt", "llama4",
    "llama4_text", "luke", "marian", "mbart", "megatron-bert", "mimo_v2_flash", "mobilebert",
    "moss_transcribe_diarize", "mpnet", "mt5", "musicgen", "musicgen_melody", "mvp", "nomic_bert", "nystromformer",
    "openai-gpt", "pegasus", "perceiver", "plbart", "rembert", "roberta", "roberta-prelayernorm", "roc_bert",
    "roformer", "squeezebert", "t5", "tapas", "trocr", "umt5", "whisper", "xlm-roberta", "xlm-roberta-xl", "xlnet",
    "xmod",
})
# these compute the scores from fp32 copies of q and k ("Keep the attention weights computation in fp32"): the
# softmax is fp32 unless autocast runs that matmul in 16 bits (GPT-J, GPT-Neo, CodeGen)
_FP32_SCORES = frozenset({"codegen", "gpt_neo", "gptj"})


def softmax_in_fp32(spec: ModelSpec, setup: TrainingSetup) -> bool:
    """Whether eager attention's softmax runs in fp32 on 16-bit scores (then its fp32 output and a 16-bit copy
    are saved)."""
    if activation_bytes(setup) == 4:
        return False  # fp32 scores (an fp32 base): softmax's output and its .to(query.dtype) are one fp32 tensor
    autocast = autocast_on(setup)
    if setup.kernels == "cuda" and autocast:
        return True  # CUDA autocast runs softmax in fp32 (aten/src/ATen/autocast_mode.cpp: fp32 ops)
    if mask_promotes_scores(spec, setup):
        return True  # an input-dtype softmax of fp32 masked scores: fp32, and the matmul with V casts a copy
    model_type = _text_model(spec)[0]
    if model_type in _FP32_SCORES:
        return not autocast
    return model_type not in _INPUT_DTYPE_SOFTMAX


def masked_scores_bytes(a: int, x: int) -> int:
    """Bytes per element of eager attention's masked scores: the scores' (`a`) and the mask's (`x`, the
    embeddings' dtype) promoted."""
    # transformers eager_attention_forward (models/gpt2, models/llama, ...): attn_weights + attention_mask, whose
    # dtype is the embeddings' (masking_utils.py: eager_mask's min_dtype); torch's type promotion of a 16-bit and
    # an fp32 tensor is fp32
    return max(a, x)


def mask_promotes_scores(spec: ModelSpec, setup: TrainingSetup) -> bool:
    """Whether eager attention adds an fp32 mask to 16-bit scores, so that what follows (the softmax, whatever
    dtype the model's code asks of it, and the probabilities) is fp32: after kbit preparation the embeddings,
    and so the mask, are fp32 (peft's prepare_model_for_kbit_training), while autocast's matmul gives 16-bit
    scores. The matmul with V then casts the fp32 probabilities to a 16-bit copy it saves beside them, as an fp32
    softmax's .to(query.dtype) does: 6 bytes a score, 12 while the softmax back-propagates. Traced:
    tests/core/test_memory_kbit_eager.py. Without autocast the scores are fp32 already (priced as before, untraced)"""
    if setup.attention != "eager" or not autocast_on(setup):
        return False
    a = activation_bytes(setup)
    mask = unquantized_param_bytes(setup)
    return attention_mask_bytes(spec, setup, mask) > 0 and masked_scores_bytes(a, mask) > a


def eager_saved(hq: int, heads: int, a: int, fp32_softmax: bool) -> tuple[int, float]:
    """Eager attention: (bytes per token, bytes per b*s*s) per layer."""
    # transformers models/llama/modeling_llama.py (eager_attention_forward): the two matmuls save q, k and v after
    # repeat_kv (copies for GQA) and the probabilities; the frozen o_proj does not keep the output.
    # softmax(dtype=float32).to(query.dtype) keeps the fp32 softmax and its 16-bit copy (4 + 2 bytes per score);
    # GPT-2/BERT-style code softmaxes in the input dtype, which CUDA autocast runs in fp32 and CPU autocast in bf16
    return a * (hq + 2 * hq), (6.0 * heads if fp32_softmax else float(a * heads))


def eager_backward_bs2(heads: int, a: int, fp32_softmax: bool, dropout_mask: int, softcap: bool) -> float:
    """Bytes per b*s*s live in one layer while eager attention's softmax back-propagates (its peak)."""
    # torch autograd of transformers' eager_attention_forward (models/llama/modeling_llama.py: softmax(dtype=
    # float32).to(query.dtype), dropout, matmul with V): the second matmul's backward gives the probabilities'
    # gradient and frees their 16-bit copy; .to()'s backward casts that gradient to fp32; _softmax_backward_data
    # then holds the saved fp32 softmax, that fp32 gradient and its own fp32 output: 12 bytes per score. A 16-bit
    # softmax (GPT-2/BERT code under CPU autocast) holds 3 x a, and with dropout its mask too while the dropout
    # back-propagates. Dropout on fp32 probabilities (kbit: eager_probs_bytes) back-propagates while the fp32
    # softmax output, the fp32 gradient and its own fp32 output live: 12 bytes a score and its mask (the caller
    # passes dropout_mask 0 where the softmax's moment is the dearer). Attention-logit softcapping's tanh output is
    # still saved then. Traced: tests/core/test_memory_eager_backward.py, tests/core/test_memory_kbit_eager.py
    per_score = 12 + dropout_mask if fp32_softmax else 3 * a + dropout_mask
    return float(heads * (per_score + (a if softcap else 0)))


# the model types whose eager attention keeps the scores beside the masked scores while it softmaxes, and whose
# model loop keeps the previous block's probabilities (transformers models/bloom/modeling_bloom.py): priced by
# bloom_forward_softmax. Its code is checked in tests/core/test_memory_bloom.py
_BLOOM_ATTENTION = frozenset({"bloom"})


def bloom_forward_softmax(h: int, heads: int, a: int, x: int, q: int, norm_out: int, layers: int,
                          checkpointing: bool) -> tuple[float, float]:
    """BLOOM's eager attention at the last block's forward softmax: (bytes per b*s*s, bytes per token) of that
    block (x: the embeddings' and the mask's bytes per element; q: the fused q/k/v output's, which the
    probabilities take: fp32 after kbit preparation, whose Linear4bit returns its fp32 input's dtype; norm_out:
    its first norm's output's)."""
    # transformers models/bloom/modeling_bloom.py (BloomAttention.forward): attention_scores = alibi.baddbmm(...)
    # (the scores, `a` bytes) stays bound beside attn_weights = attn_weights + attention_mask (the scores' and
    # the mask's dtypes promoted) until the function returns; softmax(dtype=torch.float32) makes an fp32 copy of
    # a 16-bit input and its fp32 output, .to(query_layer.dtype) copies that to the probabilities (none when q is
    # 4 bytes), and torch.bmm under autocast casts fp32 probabilities to `a` bytes. With checkpointing
    # BloomModel.forward's `outputs` still holds the previous block's probabilities (without it they are among
    # that block's saved tensors). The dearest of those three moments
    masked = masked_scores_bytes(a, x)
    prev = q if checkpointing and layers > 1 else 0
    softmax = (4 if masked != 4 else 0) + 4
    to_copy = 4 + (q if q != 4 else 0)
    bmm = q + (a if q != a else 0)
    bs2 = a + masked + max(softmax, to_copy, bmm) + prev
    # the fused q/k/v output (3 q h) and, for a batch of more than one sequence, the copies q, k and v's
    # reshape(batch * heads, ...) makes of its strided views (3 q h; a batch of one keeps none: priced at the
    # dearer. lorplan trains with the KV cache off: its copies of k and v would replace two of them); the first
    # norm's output (and its mean and rstd); the ALiBi biases (build_alibi_tensor: heads per token, x bytes)
    tokens = 6 * q * h + norm_out * h + heads * x + (2 * x if checkpointing else 0)
    return float(heads * bs2), float(tokens)


def kbit_eager_live(spec: ModelSpec, setup: TrainingSetup, heads: int, probs: int) -> tuple[float, float]:
    """Kbit preparation's fp32 tensors that eager attention keeps alive without saving them: (bytes per b*s*s
    alive in a running block, bytes per b*s*s the model's forward keeps until it returns, without
    checkpointing). 16-bit setups, whose attention saves these very tensors, get none."""
    if setup.attention != "eager" or probs != 4 or not autocast_on(setup) or _family(spec) == "encoder":
        return 0.0, 0.0
    # the attention returns its (dropped-out) probabilities and the decoder layer binds them
    # (models/llama/modeling_llama.py: hidden_states, _ = self.self_attn(...); GPT2Block: attn_output,
    # self_attn_weights = self.attn(...)) until it returns; the matmul with V saved a 16-bit copy. Without
    # dropout they are the softmax's own output, saved anyway
    block = 4.0 * heads if spec.dropout.attention > 0 else 0.0
    if setup.grad_checkpointing or _text_model(spec)[0] in _BLOOM_ATTENTION:
        return block, 0.0  # the checkpoints hold the masks all step (mask_bs2); BLOOM: bloom_forward_softmax
    # the eager masks (masking_utils.py: the embeddings' fp32) are the model's locals until it returns: alive at
    # the end of the last block, gone at the loss. Traced: tests/core/test_memory_kbit_eager.py
    return block, float(attention_mask_bytes(spec, setup, unquantized_param_bytes(setup)))


# the model types whose transformers config class, given no layer_types, alternates sliding-window and
# full-attention layers (every one of them once the model has a few layers): their models build a causal and a
# sliding mask. Checked against the installed transformers' config classes: tests/core/test_memory_masks.py
_HYBRID_DEFAULT = frozenset({
    "afmoe", "beam", "cohere2", "cohere2_moe", "cwm", "diffusion_gemma", "diffusion_gemma_text", "dory", "ergo",
    "exaone4", "exaone_moe", "flint", "gemma2", "gemma3", "gemma3_text", "gemma3n", "gemma3n_text", "gemma4",
    "gemma4_text", "gemma4_unified", "gemma4_unified_text", "gpt_oss", "granite_swa", "granitemoe_swa", "kolibri1",
    "mimo_v2_flash", "modernbert-decoder", "muse_glimmer", "muse_glimmer_text", "muse_spark", "muse_spark_text",
    "olmo3", "t5_gemma_module", "t5gemma", "t5gemma2", "t5gemma2_decoder", "t5gemma2_encoder", "t5gemma2_text",
    "vaultgemma",
})


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# How each hybrid config class builds layer_types for a config.json that names none (its __post_init__ in
# transformers 5): form "every", layer i is full-attention when (i + 1) % n == 0, the others slide; "first", when
# i % n == 0; "from_last", when (layers - 1 - i) % n == 0. n is the config's `key` where the class reads one (the
# old pattern ints still in configs on the Hub), else the class's own; last_full: the class makes the last layer
# full-attention as well. Checked against the installed transformers' classes: tests/core/test_memory_masks.py
_DEFAULT_LAYER_TYPES: dict[str, tuple[str, str | None, int, bool]] = {
    "afmoe": ("every", "global_attn_every_n_layers", 4, False),
    "beam": ("every", None, 6, True),
    "cohere2": ("every", "sliding_window_pattern", 4, False),
    "cwm": ("first", None, 4, False),
    "diffusion_gemma": ("every", None, 6, True),  # its text_config read without a model_type
    "diffusion_gemma_text": ("every", None, 6, True),
    "dory": ("every", None, 4, False),
    "ergo": ("every", "global_attention_every_n_layers", 4, False),
    "exaone4": ("every", "sliding_window_pattern", 4, False),
    "exaone_moe": ("every", "sliding_window_pattern", 4, False),
    "gemma2": ("every", None, 2, False),
    "gemma3_text": ("every", "sliding_window_pattern", 6, False),
    "gemma3n_text": ("every", None, 5, False),
    "gemma4_text": ("every", None, 6, True),
    "gemma4_unified_text": ("every", None, 6, True),
    "gpt_oss": ("every", None, 2, False),
    "granite_swa": ("first", None, 4, False),
    "granitemoe_swa": ("first", None, 4, False),
    "kolibri1": ("every", None, 5, False),
    "modernbert-decoder": ("first", "global_attn_every_n_layers", 3, False),
    "muse_glimmer_text": ("from_last", None, 4, False),
    "muse_spark_text": ("from_last", None, 4, False),
    "olmo3": ("every", None, 4, False),
    "t5_gemma_module": ("every", None, 2, False),
    "t5gemma2_decoder": ("every", "sliding_window_pattern", 6, False),
    "t5gemma2_encoder": ("every", "sliding_window_pattern", 6, False),  # its text_config without a model_type
    "t5gemma2_text": ("every", "sliding_window_pattern", 6, False),
    "vaultgemma": ("every", None, 2, False),
}


def _pattern(cfg: Mapping, key: str | None, default: int) -> int:
    n = _int(cfg.get(key)) if key else None
    return n if n is not None and n >= 1 else default


def _default_slides(model_type: str, cfg: Mapping, layers: int) -> list[bool] | None:
    """Which layers slide in the layer_types the model's hybrid config class builds for a config without them
    (None: not a hybrid class lorplan knows the rule of)."""
    if model_type == "cohere2_moe":  # the first_k_dense_replace layers by their own pattern, then the rest
        first = min(max(_int(cfg.get("first_k_dense_replace")) or 0, 0), layers)
        head, rest = _pattern(cfg, "prefix_dense_sliding_window_pattern", 1), _pattern(cfg, "sliding_window_pattern", 4)
        return [(i + 1) % head != 0 for i in range(first)] + [(i + 1) % rest != 0 for i in range(layers - first)]
    if model_type == "mimo_v2_flash":  # the first layer and every sixth full
        return [not (i == 0 or (i + 1) % 6 == 0) for i in range(layers)]
    if model_type == "flint":  # the first two layers, every fourth from the second and the last full
        return [not (i < 2 or i % 4 == 1 or i == layers - 1) for i in range(layers)]
    rule = _DEFAULT_LAYER_TYPES.get(model_type)
    if rule is None:
        return None
    form, key, default, last_full = rule
    n = _pattern(cfg, key, default)
    if form == "every":
        slides = [(i + 1) % n != 0 for i in range(layers)]
    elif form == "first":
        slides = [i % n != 0 for i in range(layers)]
    else:
        slides = [(layers - 1 - i) % n != 0 for i in range(layers)]
    if last_full and slides:
        slides[-1] = False
    return slides


def attention_masks(spec: ModelSpec) -> int:
    """How many (b, 1, s, s) masks a decoder builds: one per kind of layer (full, sliding)."""
    # transformers models/gemma2/modeling_gemma2.py (Gemma2Model.forward: causal_mask_mapping) builds a full and a
    # sliding-window mask for its alternating layer_types (Cohere 2, Qwen 2 with use_sliding_window, GPT-OSS,
    # OLMo 3 alike); Llama one causal mask. A config.json without layer_types gets its config class's
    # (__post_init__: _default_slides), or from the Qwen keys below
    model_type, cfg = _text_model(spec)
    layers = spec.num_layers
    kinds = cfg.get("layer_types")
    if isinstance(kinds, (list, tuple)) and kinds:
        return len(set(map(str, kinds[: layers or None])))
    if model_type in _HYBRID_DEFAULT and (slides := _default_slides(model_type, cfg, layers)) is not None:
        return max(len(set(slides)), 1)
    # Qwen 2 / Qwen 3 (configuration_qwen2.py): with use_sliding_window the layers from max_window_layers on slide
    if cfg.get("use_sliding_window") is True and cfg.get("sliding_window") is not None:
        first = _int(cfg.get("max_window_layers"))
        return 2 if first is not None and 0 < first < layers else 1
    return 2 if model_type in _HYBRID_DEFAULT and layers > 1 else 1


# the model types whose models slide every layer: their modeling code picks create_sliding_window_causal_mask
# whenever config.sliding_window is set (Mistral, Mixtral, Phi-3, Starcoder 2, Qwen 3 MoE, ...), or their config
# class defaults to sliding layer_types only (Ministral). Checked against the installed transformers:
# tests/core/test_memory_masks.py
_SLIDING_EVERY_LAYER = frozenset({
    "blt_local_encoder", "blt_patcher", "doge", "minimax", "ministral", "ministral3", "mistral", "mixtral", "phi3",
    "phi4_multimodal", "phimoe", "qwen3_moe", "starcoder2", "voxtral_realtime", "voxtral_realtime_encoder",
    "voxtral_realtime_text",
})


def sliding_window(spec: ModelSpec) -> int | None:
    """The window of the model's sliding-window layers; None when no layer slides (or the config names none)."""
    model_type, cfg = _text_model(spec)
    window = _int(cfg.get("sliding_window"))
    if window is None or window <= 0:
        return None
    layers = spec.num_layers
    kinds = cfg.get("layer_types")
    if isinstance(kinds, (list, tuple)) and kinds:
        return window if any("sliding" in str(k) for k in kinds[: layers or None]) else None
    if model_type in _HYBRID_DEFAULT and (slides := _default_slides(model_type, cfg, layers)) is not None:
        return window if any(slides) else None
    if cfg.get("use_sliding_window") is True:  # Qwen 2 / Qwen 3: the layers from max_window_layers on slide
        first = _int(cfg.get("max_window_layers"))
        return window if first is not None and first < layers else None
    if cfg.get("use_sliding_window") is False:  # the config class then sets no window (Qwen 3 MoE)
        return None
    if attention_masks(spec) == 2 or model_type in _SLIDING_EVERY_LAYER:
        return window
    return None


def sliding_layers(spec: ModelSpec) -> int:
    """How many of the model's layers slide (0 when none does)."""
    if sliding_window(spec) is None:
        return 0
    model_type, cfg = _text_model(spec)
    layers = spec.num_layers
    kinds = cfg.get("layer_types")
    if isinstance(kinds, (list, tuple)) and kinds:
        count = sum("sliding" in str(k) for k in kinds[: layers or None])
    elif model_type in _HYBRID_DEFAULT and (slides := _default_slides(model_type, cfg, layers)) is not None:
        count = sum(slides)  # the layer_types the config class builds (Gemma-3-4B: 29 of 34)
    elif cfg.get("use_sliding_window") is True:  # Qwen 2 / Qwen 3: the layers from max_window_layers on
        count = layers - (_int(cfg.get("max_window_layers")) or 0)
    else:  # every layer (Mistral, ...), or a hybrid class whose rule lorplan lacks: every layer, the dearer
        count = layers
    return min(max(count, 0), layers)


# the model types whose decoder builds its causal mask on every batch, padded or not (create_causal_mask with
# allow_is_causal_skip=False): transformers models/falcon/modeling_falcon.py (FalconModel.forward: "Always
# materialize the mask so alibi can be added onto it below", RoPE models too). Their SDPA then runs as a padded
# batch's (sdpa_padded_saved: the additive mask saved per layer, repeat_kv's copies of GQA's k and v). Checked
# against the installed transformers' source and traced: tests/core/test_memory_falcon_mask.py
_SDPA_MASK_ALWAYS = frozenset({"falcon"})


def sdpa_masked(spec: ModelSpec, setup: TrainingSetup) -> bool:
    """Whether every layer's SDPA gets a full-attention mask: a padded batch, or a model that always builds one."""
    return setup.attention == "sdpa" and (setup.padding_mask or _text_model(spec)[0] in _SDPA_MASK_ALWAYS)


def sdpa_sliding_mask(spec: ModelSpec, setup: TrainingSetup) -> bool:
    """Whether an unpadded batch still hands SDPA a mask: the sliding layers' once the sequence reaches the window
    (transformers masking_utils._ignore_causal_mask_sdpa skips it only while kv_length < the window)."""
    window = sliding_window(spec)
    return setup.attention == "sdpa" and window is not None and setup.seq_len >= window


def attention_mask_bytes(spec: ModelSpec, setup: TrainingSetup, x_bytes: int) -> int:
    """Bytes per b*s*s of the attention masks the model builds (x_bytes: the embeddings' dtype), kept alive all
    step by gradient checkpointing (each block's checkpoint holds its arguments to recompute it)."""
    if setup.attention == "eager":
        # transformers masking_utils.py (eager_mask): torch.where(bool mask, 0, finfo(dtype).min) in the
        # embeddings' dtype, shape (b, 1, s, s); an encoder without padding gets none (allow_is_bidirectional_skip)
        if _family(spec) == "encoder" and not setup.padding_mask:
            return 0
        return x_bytes * attention_masks(spec)
    if setup.attention == "sdpa":
        # masking_utils.py (sdpa_mask): a padded batch gets a bool (b, 1, s, s) mask per kind, 1 byte a score.
        # Without padding a full-attention mask is skipped (is_causal), a sliding-window one only while the
        # sequence is shorter than the window (_ignore_causal_mask_sdpa: kv_length >= local_attention_size builds
        # it). Traced: tests/core/test_memory_masks.py
        if sdpa_masked(spec, setup):
            return attention_masks(spec)
        return 1 if sdpa_sliding_mask(spec, setup) else 0
    return 0  # flash-attention-2 takes the 2-D padding mask and unpads


# Where transformers applies the caps (checked against the installed transformers by building tiny models with two
# caps: tests/core/test_memory_softcap_classes.py). attn_logit_softcapping: the text models whose attention passes
# it to eager attention as softcap (models/gemma2/modeling_gemma2.py, models/vaultgemma); Gemma 3's attention keeps
# the value and passes none, Llama's never reads it. final_logit_softcapping: the class the model is built as
# (spec.architecture: its forward caps the logits), and whether it reads the cap from the text config
# (Gemma3nForConditionalGeneration, Gemma4ForConditionalGeneration: get_text_config(); PaliGemma's, Mistral
# Large 4's, the Muse and Inkling 2 multimodal classes' too); Gemma3ForConditionalGeneration applies none
_ATTN_SOFTCAP = frozenset({"gemma2", "vaultgemma"})
# the models whose config nests each part's own config, whose attention applies its attn_logit_softcapping:
# model_type -> (the part lorplan prices, the cap its config class defaults to). transformers models/t5gemma/modeling_t5gemma.py
# (T5GemmaSelfAttention: softcap=self.config.attn_logit_softcapping into eager_attention_forward; T5GemmaConfig
# keeps it in `encoder` and `decoder`, T5GemmaModuleConfig defaults it to 50.0). Checked against the installed
# transformers: tests/core/test_memory_softcap_parts.py
_PART_ATTN_SOFTCAP = {"t5gemma": ("encoder", 50.0)}
_FINAL_SOFTCAP = {
    "Gemma2ForCausalLM": False, "Gemma3ForCausalLM": False, "Gemma3nForCausalLM": False,
    "Gemma4ForCausalLM": False, "VaultGemmaForCausalLM": False, "NanoChatForCausalLM": False,
    "BeamForCausalLM": False, "Gemma4UnifiedForCausalLM": False, "Inkling2ForCausalLM": False,
    "Inkling2LoopForCausalLM": False,
    "Gemma3nForConditionalGeneration": True, "Gemma4ForConditionalGeneration": True,
    "PaliGemmaForConditionalGeneration": True, "Gemma4UnifiedForConditionalGeneration": True,
    "Inkling2ForConditionalGeneration": True, "Inkling2LoopForConditionalGeneration": True,
    "MistralLarge4ForConditionalGeneration": True, "MuseGlimmerForConditionalGeneration": True,
    "MuseSparkForConditionalGeneration": True,
}
# the classes that cap fp32 logits: models/beam/modeling_beam.py (logits.float() / cap, "as bf16 tanh quantizes
# badly near saturation"), models/inkling2 (lm_head(...).float(), then Inkling2Softcap); tanh saves fp32 then
_FP32_FINAL_SOFTCAP = frozenset({"BeamForCausalLM", "Inkling2ForCausalLM", "Inkling2ForConditionalGeneration",
                                 "Inkling2LoopForCausalLM", "Inkling2LoopForConditionalGeneration"})
# the caps a config that leaves the keys out gets from its class (Gemma2Config, VaultGemmaConfig,
# Gemma3nTextConfig, NanoChatConfig, BeamConfig, ...); Gemma 3's, Gemma 4's and Gemma 4 Unified's text configs
# default both to None (no cap)
_SOFTCAP_DEFAULTS = {
    "gemma2": {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0},
    "vaultgemma": {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0},
    "gemma3n_text": {"final_logit_softcapping": 30.0},
    "nanochat": {"final_logit_softcapping": 15.0},
    "beam": {"final_logit_softcapping": 30.0},
    "inkling2_text": {"final_logit_softcapping": 30.0},
    "inkling2_loop_text": {"final_logit_softcapping": 30.0},
    "mistral_large4_text": {"final_logit_softcapping": 30.0},
    "muse_glimmer_text": {"final_logit_softcapping": 20.0},
    "muse_spark_text": {"final_logit_softcapping": 20.0},
}
# a multimodal config's text model when its text_config names no model_type (the config class's own choice)
_TEXT_MODEL = {"gemma3": "gemma3_text", "gemma3n": "gemma3n_text", "gemma4": "gemma4_text", "paligemma": "gemma",
               "gemma4_unified": "gemma4_unified_text", "inkling2": "inkling2_text",
               "inkling2_loop": "inkling2_loop_text", "mistral_large4": "mistral_large4_text",
               "muse_glimmer": "muse_glimmer_text", "muse_spark": "muse_spark_text"}


def _text_model(spec: ModelSpec) -> tuple[str, Mapping]:
    """The text model's model_type and config: a multimodal config's text_config, else the config itself (the one
    reading of text_config here; core.memory.bounds._config_parts keeps its own)."""
    cfg = spec.config or {}
    text = cfg.get("text_config")
    if isinstance(text, Mapping):
        return str(text.get("model_type") or _TEXT_MODEL.get(spec.model_type, spec.model_type)), text
    if spec.model_type in _TEXT_MODEL:  # no text_config: the config class's default text model
        return _TEXT_MODEL[spec.model_type], {}
    return spec.model_type, cfg


def softcapped(spec: ModelSpec, key: str) -> bool:
    """True when the model's transformers class applies `key` (attn_logit_softcapping, final_logit_softcapping)
    and the config it reads sets it to a cap, or leaves it out where the config class defaults to one."""
    if key == "final_logit_softcapping":
        if spec.architecture not in _FINAL_SOFTCAP:
            return False
        model_type, cfg = _text_model(spec) if _FINAL_SOFTCAP[spec.architecture] else (spec.model_type, spec.config or {})
    else:
        model_type, cfg = _text_model(spec)
        if model_type in _PART_ATTN_SOFTCAP:
            part, default = _PART_ATTN_SOFTCAP[model_type]
            cfg = cfg[part] if isinstance(cfg.get(part), Mapping) else {}
            if key not in cfg:
                return default is not None
        elif model_type not in _ATTN_SOFTCAP:
            return False
    if key in cfg:
        value = cfg[key]
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0
    return _SOFTCAP_DEFAULTS.get(model_type, {}).get(key) is not None


def softcap_scores_saved(heads: int, a: int) -> float:
    """Bytes per b*s*s per layer that attention-logit softcapping adds to eager attention."""
    # transformers models/gemma2/modeling_gemma2.py (eager_attention_forward, softcap): scores / softcap, tanh,
    # * softcap before the mask and the softmax: tanh saves its output (the scores' dtype); dividing and
    # multiplying by a constant save nothing (traced: tests/core/test_memory_softcap.py). Flash-attention
    # applies the cap inside its kernel
    return float(a * heads)


def softcap_logits_saved(vocab: int, x: int) -> int:
    """Bytes per token that final-logit softcapping keeps (x: the head's output bytes per element), alive until
    the loss's backward reaches the head."""
    # transformers models/gemma2/modeling_gemma2.py (Gemma2ForCausalLM.forward): logits / cap, tanh, * cap on
    # lm_head's output before the loss: tanh saves its output; the loss's own buffers are logits_buffer_bytes
    return x * vocab


def swiglu_saved(i: int, m: int) -> int:
    """Gated MLP down(act(gate(x)) * up(x)): the gate output, the activation output and the up output."""
    # transformers models/llama/modeling_llama.py (LlamaMLP.forward): SiLU saves gate_proj's output; the mul saves
    # both its inputs (SiLU's output and up_proj's)
    return 3 * m * i


def gelu_new_saved(i: int, m: int, fp32_pow: bool) -> int:
    """GPT-2's Python `gelu_new` MLP intermediate."""
    if fp32_pow:
        # torch autocast on CUDA runs pow in fp32: an fp32 copy of the input plus fp32 tanh and 1 + tanh
        return 14 * i
    # transformers activations.py (NewGELUActivation): 0.5 * x * (1 + tanh(c * (x + 0.044715 * pow(x, 3)))) keeps
    # the input, 0.5 * x, tanh and 1 + tanh
    return 4 * m * i


# the activations whose backward reads their output, not their input (torch tools/autograd/derivatives.yaml:
# relu's threshold_backward(grad, result, 0), sigmoid_backward(grad, result), tanh_backward(grad, result);
# transformers activations.py ACT2FN maps these names to nn.ReLU, nn.Sigmoid, nn.Tanh). ReLU is traced (CTRL, OPT)
_OUTPUT_SAVING_ACTIVATIONS = frozenset({"relu", "sigmoid", "tanh"})
# the model types whose MLP activation is fixed in their code, with no config key to read it from:
# transformers models/ctrl/modeling_ctrl.py (point_wise_feed_forward_network: Linear, nn.ReLU(), Linear)
_FIXED_ACTIVATION = {"ctrl": "relu"}


def mlp_activation(spec: ModelSpec) -> str:
    """The MLP's activation name (transformers ACT2FN's), from the config or the model type's code."""
    return spec.hidden_act or _FIXED_ACTIVATION.get(_text_model(spec)[0], "")


def activation_saves_output(spec: ModelSpec) -> bool:
    """Whether a plain (ungated) MLP's activation saves its output, the output projection's input, for backward
    (ReLU: CTRL, OPT) rather than its input (GELU)."""
    return not spec.gated_mlp and mlp_activation(spec) in _OUTPUT_SAVING_ACTIVATIONS


def mlp_saved(spec: ModelSpec, m: int, fp32_pow: bool) -> int:
    """The MLP's saved intermediates in `m` bytes per element (the MLP's compute dtype)."""
    i = spec.intermediate_size
    if _family(spec) == "llama":
        return swiglu_saved(i, m) if spec.gated_mlp else 4 * m * i
    if spec.gated_mlp:
        # any gated MLP saves three m x i tensors: Llama's gate and up outputs and the activation's output, and
        # alike a fused projection chunked in two (transformers models/modernbert_decoder/modeling_modernbert_
        # decoder.py, ModernBertDecoderMLP: input, gate = Wi(x).chunk(2); Wo(act(input) * gate)): the activation
        # saves its chunk, a view that keeps Wi's whole 2 x i output alive, and the product saves the
        # activation's output. Traced: tests/core/test_memory_trace_decoder_heads.py
        return swiglu_saved(i, m)
    if spec.hidden_act == "gelu_new" or _family(spec) == "gpt2":
        return gelu_new_saved(i, m, fp32_pow)
    # a built-in activation saves its input (torch gelu) or its output (relu: activation_saves_output), one m x i
    return m * i


def mlp_backward_flight(spec: ModelSpec, m: int) -> int:
    """Bytes per token of a dense MLP's gradients in flight at the peak of its backward (`m`: the MLP's bytes per
    element): its output projection's input gradient and what the activation's backward makes from it."""
    i = spec.intermediate_size
    # a gated MLP: down_proj's input gradient, then the mul's two (act(gate) * up: one per factor); GPT-2's
    # Python gelu_new: the input gradient, then 0.5 * x * (1 + tanh(...))'s product gradients and pow_backward's
    # x.pow(2), 3 * that and their product. Traced where no adapter's input is wider (LoRA on q and v only;
    # lora_saved's chain prices an adapted MLP input): tests/core/test_memory_trace.py
    if _family(spec) == "llama" or spec.gated_mlp or spec.hidden_act == "gelu_new" or _family(spec) == "gpt2":
        return 3 * m * i
    # a built-in activation (torch gelu / relu): one aten backward op, its input's gradient
    return 2 * m * i


def moe_saved(spec: ModelSpec, e: int) -> int:
    """One mixture-of-experts MLP with frozen experts, per token: the routed experts' intermediates (`e` bytes
    per element, the experts' weight dtype) and the router's."""
    k, mi, h = max(spec.num_experts_per_tok, 1), spec.moe_intermediate_size, spec.hidden_size
    # transformers integrations/moe.py (grouped_mm_experts_forward, the default experts implementation; native
    # torch grouped_mm on CPU and CUDA sm80+): for each of the k routed copies of a token, the gated
    # activation saves the whole gate_up output (its gate half is a view), the product saves the activation's
    # output, the routing-weight product saves the down projection's output and the weight, and the
    # hidden-state gather, the weights' permutation and the order's inverse keep int64 indices
    experts = k * (2 * mi * e + mi * e + h * e + e + 3 * 8)
    # transformers models/qwen3_moe/modeling_qwen3_moe.py (Qwen3MoeTopKRouter; Mixtral's router alike):
    # softmax(router_logits, dtype=float) saves its fp32 output over all experts, topk its int64 indices, the
    # in-place normalisation the fp32 top-k values and their sum
    router = 4 * spec.num_experts + 8 * k + 4 * k + 4
    return experts + router


def qk_norm_saved(hq: int, hkv: int, heads: int, kv: int) -> int:
    """Qwen3 / Gemma 3's per-head RMSNorm of q and k (head_dim wide), per token per layer."""
    # transformers models/qwen3/modeling_qwen3.py (q_norm, k_norm: Qwen3RMSNorm over head_dim): like
    # rmsnorm_saved, the fp32 input and one fp32 rsqrt per head
    return 4 * (hq + hkv) + 4 * (heads + kv)


def block_norms(spec: ModelSpec) -> int:
    """Hidden-size norms per block: two, four for Gemma 2/3's sandwich norms (pre/post feedforward), one for a
    parallel block that norms its input once for attention and MLP (Phi, GPT-J, Falcon-7B)."""
    n = len(_block_norm_paths(spec))
    return n if (spec.norm == "rmsnorm" and n > 2) or n == 1 else 2


def _block_norm_paths(spec: ModelSpec) -> list[str]:
    """The hidden-size norm weights of the block that has the most: a block whose norm is an nn.Identity has
    none for it (transformers models/modernbert_decoder: layer 0's attn_norm, after the embeddings' own norm),
    and the first block's first norm is priced apart (ActivationModel.first_norm)."""
    by_layer: dict[int, list[str]] = {}
    for t in spec.tensors:
        if (t.layer is not None and t.kind == "norm" and t.shape == (spec.hidden_size,)
                and not t.path.endswith(".bias")):
            by_layer.setdefault(t.layer, []).append(t.path)
    return max(by_layer.values(), key=len, default=[])


def shared_norm_input(spec: ModelSpec) -> bool:
    """Whether a block's two LayerNorms both read its input (parallel attention and MLP): GPT-NeoX with
    use_parallel_residual (its config's default), Falcon's new decoder architecture (ln_attn, ln_mlp)."""
    # transformers models/gpt_neox/modeling_gpt_neox.py (GPTNeoXLayer.forward: input_layernorm(hidden_states) and
    # post_attention_layernorm(hidden_states) when use_parallel_residual), models/falcon/modeling_falcon.py
    # (FalconDecoderLayer: ln_attn(hidden_states), ln_mlp(hidden_states)). Both save that one input; only their
    # mean and rstd are two. Traced: tests/core/test_memory_trace.py (parallel block norms)
    model_type, cfg = _text_model(spec)
    if model_type == "gpt_neox":
        return cfg.get("use_parallel_residual", True) is not False and block_norms(spec) == 2
    return model_type == "falcon" and {p.rsplit(".", 2)[-2] for p in _block_norm_paths(spec)} == {"ln_attn", "ln_mlp"}


def rope_saved(hd: int, a: int) -> int:
    """RoPE's cos and sin tables, computed once per forward and saved by every layer's q and k products."""
    # transformers models/llama/modeling_llama.py (apply_rotary_pos_emb): q * cos and rotate_half(q) * sin save
    # cos and sin (one storage for all layers)
    return 2 * a * hd


def labels_saved() -> int:
    """The padded and shifted int64 labels of the causal-LM loss."""
    # transformers loss/loss_utils.py (ForCausalLMLoss): nn.functional.pad(labels, (0, 1)) and
    # labels[..., 1:].contiguous(), int64 each
    return 16


def logits_buffer_bytes(vocab: int) -> int:
    """Bytes per token live around the causal-LM loss at the start of backward."""
    # transformers loss/loss_utils.py (ForCausalLMLoss): logits.float() then cross_entropy; log_softmax saves
    # its fp32 output, and its backward holds that, the fp32 incoming gradient and the fp32 input gradient
    return 12 * vocab


def fused_linear_ce_bytes(h: int, a: int, x: int) -> int:
    """Liger's fused linear cross-entropy, bytes per token live at the loss: the hidden-state gradient it
    computes in the forward, its fp32 per-token loss, the label mask and (at most) its logits chunk."""
    # linkedin/Liger-Kernel src/liger_kernel/ops/fused_linear_cross_entropy.py
    # (fused_linear_cross_entropy_forward): grad_input = zeros_like(_input) (x bytes, kept for backward),
    # loss_1d fp32, target_mask (bool); the logits of chunk_size = next_power_of_2(ceil(BT / ceil(V / H)))
    # tokens at a time (16-bit under autocast): chunk_size * V < 2 * BT * H elements, priced at that bound
    return x * h + 4 + 1 + 2 * a * h


def cut_ce_bytes(h: int, x: int) -> int:
    """Apple's cut cross-entropy, bytes per token live at the loss: the hidden states it saves, the fp32
    log-sum-exp and per-token loss, the int32 indices of the valid labels (the logits are never materialized)."""
    # apple/ml-cross-entropy cut_cross_entropy/cce.py (LinearCrossEntropyFunction.forward:
    # ctx.save_for_backward(e, c, lse, targets, valids, logit_avg)), cce_lse_forward.py (lse fp32 per token),
    # utils.py (_build_flat_valids: nonzero().to(int32)); the frozen head's matmul would not have saved e
    return x * h + 4 + 4 + 4


def score_logits_bytes(labels: int, x: int) -> int:
    """Bytes per token live around a decoder classifier's loss (x: its score head's output bytes per element)."""
    # transformers modeling_layers.py (GenericForSequenceClassification.forward; GPT-2's and GPT-NeoX's alike):
    # logits = self.score(hidden_states) over every position, alive until the forward returns (the pooled logits
    # are an index into it, whose backward keeps only the indices), and non_pad_mask = (input_ids !=
    # pad_token_id).to(int32), a local as long; the loss reads the pooled logits, one row per sequence
    return labels * x + 4


def classifier_pooled_saved(labels: int) -> int:
    """Bytes per sequence a decoder classifier's pooling and loss save: the two int64 indices of the pooled
    logits and the loss's fp32 log-probabilities (nll_loss adds one fp32 scalar per step)."""
    # logits[torch.arange(batch_size), last_non_pad_token]: index's backward saves both index tensors (int64,
    # arange's and argmax's); ForSequenceClassificationLoss's cross_entropy runs in fp32 under autocast and
    # log_softmax saves its output
    return 16 + 4 * labels


def head_labels(spec: ModelSpec) -> int:
    """The width of a sequence classifier's head (its number of labels)."""
    return max((m.out_features for m in spec.linears if m.role == "head"), default=2)


def loss_buffer_bytes(spec: ModelSpec, setup: TrainingSetup, a: int, x: int) -> int:
    """Bytes per token live around the causal-LM loss for the setup's loss kernel (x: the final norm's output
    bytes per element)."""
    if spec.task != "causal-lm":
        return 0
    if setup.loss == "fused-linear-ce":
        return fused_linear_ce_bytes(spec.hidden_size, a, x)
    if setup.loss == "cut-ce":
        return cut_ce_bytes(spec.hidden_size, x)
    return logits_buffer_bytes(spec.vocab_size)


def checkpoint_saved(h: int, stream_bytes: int) -> int:
    """Per layer with gradient checkpointing: the block's input only."""
    # torch/utils/checkpoint.py (use_reentrant=False, as transformers enables it): a checkpointed block keeps its
    # inputs and recomputes the rest in backward
    return stream_bytes * h


def dequant_transient_bytes(spec: ModelSpec, setup: TrainingSetup) -> int:
    """The largest quantized linear dequantized in 16 bits, alive during its matmul (nothing is saved)."""
    if setup.quant == "none":
        return 0
    # bitsandbytes/autograd/_functions.py (MatMul4Bit / MatMul8bitLt): the weight is dequantized to the compute
    # dtype for each forward and backward matmul
    return 2 * max((i_ * o_ for (i_, o_, _, head), _ in linear_shapes(spec) if not head), default=0)


def head_cast_bytes(spec: ModelSpec, setup: TrainingSetup) -> int:
    """Autocast's 16-bit copy of an output head that kbit preparation made fp32, saved until its backward."""
    if not (kbit_upcast(setup) and autocast_on(setup) and spec.task == "causal-lm"):
        return 0
    # torch autocast casts the fp32 weight for the matmul; the head's input needs grad, so the copy is saved
    return 2 * spec.vocab_size * spec.hidden_size


def encoder_block_live(spec: ModelSpec, norm_out: int, m: int, a: int) -> int:
    """Bytes per token alive at the end of a post-LayerNorm encoder block's forward beyond what autograd saves
    (the block's own temporaries; lora_saved.forward_extra adds the LoRA branch of its MLP output projection)."""
    # transformers models/bert/modeling_bert.py: BertLayer keeps attention_output (the first LayerNorm's
    # output) and the MLP activation's output (Python locals) until BertOutput returns, which holds its dense
    # output and the last LayerNorm's output. Measured on CPU: tests/core/test_memory_trace.py
    h = spec.hidden_size
    return norm_out * h + m * spec.intermediate_size + 2 * a * h


# the hidden-size tensors of the attention half a decoder block keeps as Python locals until it returns, per model
# type: a rule of each block's forward code, which transformers writes per model type (Llama's, OPT's, BLOOM's and
# GPT-NeoX's sequential blocks rebind hidden_states: none, the default for a type not listed). transformers
# models/gpt2 (GPT2Block: attn_output), models/gpt_bigcode (GPTBigCodeBlock: GPT2Block's attn_output), models/ctrl
# (EncoderLayer: normed and attn_output), models/modernbert_decoder (ModernBertDecoderLayer: the attn_outputs
# tuple), models/stablelm (StableLmDecoderLayer: the normed hidden_states and self_attn_output). A parallel block
# (sequential_block false) keeps its attention's output and the MLP's input, decoder_block_live's two (its
# `residual` is its input, which its caller holds anyway): none more. Read off each block's frame:
# tests/core/test_memory_block_locals.py; traced: their forward peaks, tests/core/test_memory_trace.py
# (gpt2-heads) and tests/core/test_memory_trace_decoder_heads.py
_BLOCK_LOCALS = {"gpt2": 1, "gpt_bigcode": 1, "ctrl": 2, "modernbert-decoder": 1, "stablelm": 2}


def block_locals(spec: ModelSpec, sequential: bool) -> int:
    """How many hidden-size tensors of its attention half a decoder block keeps as locals while its MLP runs,
    beyond decoder_block_live's two (_BLOCK_LOCALS; sequential: sequential_block)."""
    return _BLOCK_LOCALS.get(_text_model(spec)[0], 0) if sequential else 0


def decoder_block_live(h: int, i: int, x: int, m: int, shared_residual: bool = False, attn_out: int = 0,
                       act_saves_output: bool = False) -> int:
    """Bytes per token a decoder block holds while its MLP output projection runs, beyond what autograd saves and
    the projection's output (x: the residual stream's and the MLP input's bytes per element, m: the MLP's).
    shared_residual: the post-attention norm saves `residual` itself (norm_saves_stream), priced with the norms;
    attn_out: bytes per element of an attention output the block keeps as a Python local (GPT-2's), else 0;
    act_saves_output: the projection's input is an activation's output that the activation saves
    (activation_saves_output), priced by mlp_saved, not here."""
    # transformers models/llama/modeling_llama.py (LlamaDecoderLayer.forward; GPT2Block alike): `residual` and the
    # post-attention norm's output (the MLP's input) are Python locals until the MLP returns, and down_proj's input
    # act_fn(gate) * up is saved by nothing once down_proj is frozen (its LoRA saves its own cast). GPT2Block's
    # `attn_output` stays bound until the block returns (LlamaDecoderLayer rebinds its hidden_states). Traced: a
    # decoder classifier's last block (its forward, or its recomputation under checkpointing) is the peak,
    # tests/core/test_memory_trace.py. CTRL's and OPT's ReLU saves its output, which is down's input: traced,
    # tests/core/test_memory_trace_decoder_heads.py (CTRL +6.3% to +6.5% with it counted here too)
    # (OPTDecoderLayer rebinds the MLP's input to fc1's output, so it is freed before fc2 runs: still priced here,
    # an x x h over, as the forward phase is priced only while this is above 0)
    return (1 if shared_residual else 2) * x * h + (0 if act_saves_output else m * i) + attn_out * h


def sequential_block(spec: ModelSpec, fam: str) -> bool:
    """Whether a pre-norm decoder block norms the attention's residual sum for its MLP (so that norm's input is the
    `residual` the block keeps), not its own input once more as a parallel block does (Phi, GPT-J, GPT-NeoX,
    Falcon: its attention's output is a local of its own then)."""
    # transformers models/llama (LlamaDecoderLayer), models/gpt2 (GPT2Block: ln_2(hidden_states), residual =
    # hidden_states), models/opt (OPTDecoderLayer: residual = hidden_states; final_layer_norm(hidden_states)),
    # models/ctrl (EncoderLayer: layernorm2(out1), out1 + ffn_output), models/modernbert_decoder
    # (mlp_norm(hidden_states), hidden_states + mlp_output). Traced: OPT's and CTRL's forward peaks
    # (tests/core/test_memory_trace_decoder_heads.py; OPT's classifier +3.79% to +5.99% with the sum counted
    # twice, +1.46% to +3.36% now)
    if fam in ("llama", "gpt2"):
        return True
    return fam == "layernorm" and block_norms(spec) == 2 and not shared_norm_input(spec)


def norm_saves_stream(fam: str, resid: int, cuda_autocast: bool) -> bool:
    """Whether a pre-norm block's norm saves its input tensor itself rather than a copy: an RMSNorm on an fp32
    stream (hidden_states.to(torch.float32) returns its input), a LayerNorm computing in the stream's dtype (CPU
    autocast and no autocast; CUDA autocast casts a 16-bit input to fp32, a copy)."""
    # transformers models/llama/modeling_llama.py (LlamaRMSNorm.forward) and aten native_layer_norm (saves its
    # input). Traced: full fine-tuning's fp32 stream, QLoRA's fp32 stream after kbit preparation and GPT-2's
    # LayerNorm under checkpointing, where the recomputed first norm's saved input is the checkpoint
    # (tests/core/test_memory_trace.py)
    if fam == "encoder":
        return False  # post-LayerNorm blocks: the norms read the branches' sums, not the block's input
    if fam == "llama":
        return resid == 4
    return not cuda_autocast or resid == 4


def head_transform_saved(spec: ModelSpec, a: int, norm_x: int) -> int:
    """Bytes per token that a decoder classifier's head saves before its classifier reads it, over every
    position: per dense layer outside the blocks its activation's input, per norm of that head its input and
    statistics (norm_x: the bytes per element the norm computes in)."""
    # transformers models/modernbert_decoder/modeling_modernbert_decoder.py (ModernBertDecoderPredictionHead:
    # norm(act(dense(x))), then drop and classifier, before the pooling): the activation saves dense's output, the
    # LayerNorm its input, mean and rstd. Traced: tests/core/test_memory_trace_decoder_heads.py
    dense = [m for m in spec.linears if m.layer is None and m.role == "other"]
    heads = tuple(m.path.rsplit(".", 1)[0] + "." for m in dense if "." in m.path)
    norms = sum(1 for t in spec.tensors if t.layer is None and t.kind == "norm" and not t.path.endswith(".bias")
                and t.path.startswith(heads))
    return sum(a * m.out_features for m in dense) + norms * layernorm_saved(spec.hidden_size, norm_x)


def pooled_head_saved(spec: ModelSpec, setup: TrainingSetup, a: int) -> int:
    """Bytes per sequence of a sequence classifier's head: the pooler's tanh output, with classifier dropout its
    mask and output, and the loss's fp32 log-probabilities (nll_loss adds one fp32 scalar per step)."""
    # transformers models/bert/modeling_bert.py (BertPooler: tanh(dense(first token)), then
    # BertForSequenceClassification: classifier(dropout(pooled))); the classifier trains (peft's SEQ_CLS
    # modules_to_save), so its matmul saves its input: tanh's output itself, or the dropout's output; torch
    # autocast runs cross_entropy in fp32 and log_softmax saves its output
    h = spec.hidden_size
    labels = head_labels(spec)
    dropped = h * (dropout_mask_bytes(setup, a) + a) if spec.dropout.classifier > 0 else 0
    return a * h + dropped + 4 * labels


def rmsnorm_weight_saved(width: int, x_bytes: int) -> int:
    """What an RMSNorm adds when its weight trains (full fine-tuning): the normalized input, in the input's
    dtype (`x_bytes`)."""
    # transformers models/llama/modeling_llama.py (LlamaRMSNorm.forward): self.weight * hidden_states.to(
    # input_dtype); the product saves its other factor for the weight's gradient once the weight needs one
    return x_bytes * width


def activation_model(spec: ModelSpec, setup: TrainingSetup, stream_bytes: int | None = None,
                     train_norms: bool = False) -> ActivationModel:
    """Saved-tensor coefficients of the base model for this setup (no LoRA terms). stream_bytes overrides the
    residual stream's dtype and train_norms trains the norms' weights (full_finetune.py: fp32 master weights
    under 16-bit autocast, every parameter trained)."""
    h, hd = spec.hidden_size, spec.head_dim
    heads, kv = spec.num_attention_heads, spec.num_key_value_heads
    hq, hkv = heads * hd, kv * hd
    autocast = autocast_on(setup)
    a = activation_bytes(setup)
    # the residual stream has the embeddings' dtype: fp32 after kbit preparation
    resid = stream_bytes or unquantized_param_bytes(setup)
    cuda_autocast = setup.kernels == "cuda" and autocast
    fam = _family(spec)
    drop = spec.dropout

    bs2 = attn_bwd_bs2 = attn_bwd_tokens = attn_bwd_flight = block_live = forward_mask = 0.0
    fp32_softmax = softmax_in_fp32(spec, setup)
    math_dropout = setup.attention == "sdpa" and drop.attention > 0 and setup.kernels == "cpu"
    if setup.attention == "eager":
        attn, bs2 = eager_saved(hq, heads, a, fp32_softmax=fp32_softmax)
        probs = eager_probs_bytes(a, fp32_softmax, setup)
        if drop.attention > 0:
            bs2 += eager_dropout_extra(heads, a, fp32_softmax, setup, probs)
        softcap = softcapped(spec, "attn_logit_softcapping")
        if softcap:
            bs2 += softcap_scores_saved(heads, a)
        # an fp32 softmax's backward outweighs a 16-bit dropout's; dropout on fp32 probabilities (kbit) keeps its
        # mask beside the softmax's three fp32 tensors while it back-propagates
        drop_mask = dropout_mask_bytes(setup, probs) if drop.attention > 0 and (not fp32_softmax or probs == 4) else 0
        attn_bwd_bs2 = eager_backward_bs2(heads, a, fp32_softmax, drop_mask, softcap)
        # still saved then: q and k (the second matmul's copy of v is freed by its backward, even when v is a
        # view of a fused q/k/v projection's output: torch.matmul copies the non-contiguous view for its bmm); in
        # flight: the residual stream's gradient and V's (per query head, before repeat_kv's reduction)
        attn_bwd_tokens = 2 * a * hq
        attn_bwd_flight = a * h + a * hq
        block_live, forward_mask = kbit_eager_live(spec, setup, heads, probs)
    elif math_dropout:
        attn, bs2 = sdpa_math_dropout_saved(hq, heads)
    elif sdpa_masked(spec, setup):
        attn, bs2 = sdpa_padded_saved(hq, hq if repeat_kv_copies(spec) else hkv, heads, a)
    elif sdpa_sliding_mask(spec, setup):
        # unpadded, the sliding layers get a mask all the same (their SDPA as a padded batch's), the full-attention
        # layers of a hybrid model none (is_causal): priced per layer on average
        attn, bs2 = sdpa_padded_saved(hq, hq if repeat_kv_copies(spec) else hkv, heads, a)
        slides = sliding_layers(spec)
        if slides < spec.num_layers:
            share = slides / spec.num_layers
            attn = share * attn + (1 - share) * sdpa_saved(hq, hkv, heads, a)
            bs2 *= share
    else:  # flash-attention-2 unpads, so it is priced as without a mask
        attn = sdpa_saved(hq, hkv, heads, a)
    if setup.attention != "eager":
        masked = 1.0 if sdpa_masked(spec, setup) else (
            sliding_layers(spec) / spec.num_layers if sdpa_sliding_mask(spec, setup) and spec.num_layers else 0.0)
        attn += fused_qkv_view_saved(spec, setup, hq, hkv, a, masked, math_dropout)
    clipped = clip_qkv_saved(spec, setup, hq, hkv)
    attn += clipped
    if attn_bwd_bs2:  # the clamp comes before the scores: its input is still saved while they back-propagate
        attn_bwd_tokens += clipped
    bloom = setup.attention == "eager" and _text_model(spec)[0] in _BLOOM_ATTENTION
    # with a quantized base the MLP's intermediates take the (fp32 after kbit preparation) stream's dtype
    mlp = mlp_saved(spec, block_input_bytes(setup), fp32_pow=cuda_autocast)
    moe_layers = len({t.layer for t in spec.tensors if t.kind == "experts"})  # (no decoder_block_live for MoE)
    if moe_layers and spec.num_layers:  # fused experts stay unquantized parameters: they compute in their dtype
        moe = moe_saved(spec, unquantized_param_bytes(setup))
        mlp = (moe_layers * moe + (spec.num_layers - moe_layers) * mlp) / spec.num_layers
    if any(t.path.endswith("q_norm.weight") for t in spec.tensors if t.layer is not None):
        qk_norms = qk_norm_saved(hq, hkv, heads, kv) + (rmsnorm_weight_saved(hq + hkv, a) if train_norms else 0)
        attn += qk_norms
        if attn_bwd_bs2:  # q's and k's norms come before the scores: still saved
            attn_bwd_tokens += qk_norms
    dropout = residual_dropout_saved(h, a, block_input_bytes(setup), setup) if drop.residual > 0 else 0
    embed_saved = 0.0
    first_norm_bytes = norm_out = model_backward = final_norm_backward = 0
    classifier = decoder_classifier(spec)
    # a decoder classifier's score head trains (peft's SEQ_CLS modules_to_save, or full fine-tuning), so its
    # matmul saves its input, the final norm's output (autocast's 16-bit copy of it under autocast), per token;
    # its labels are one per sequence (per_sequence), not the causal LM's shifted int64 labels per token
    head_input = h * (a if autocast else resid) if classifier else 0
    head_input += head_transform_saved(spec, a, 4 if cuda_autocast else a) if classifier else 0
    tail = head_input if classifier else labels_saved()
    if fam == "llama":
        norm = rmsnorm_saved(h) + (rmsnorm_weight_saved(h, resid) if train_norms else 0)
        model_tokens = norm + rope_saved(hd, a) + tail  # final norm, cos/sin, labels (or the score's input)
        model_backward = rope_saved(hd, a)  # the blocks' backward comes after the final norm's and the loss's
        final_norm_backward = rmsnorm_backward_live(h)
        first_norm_bytes = norm
    else:
        norm = layernorm_saved(h, 4 if cuda_autocast else resid)
        if fam == "encoder":
            # post-LayerNorm blocks (transformers models/bert/modeling_bert.py: LayerNorm(dropout(dense(x)) + x)
            # ends each branch): no final norm, and the embeddings' LayerNorm saves once their output needs grad
            model_tokens = 0
            embed_saved = norm
            norm_out = 4 if cuda_autocast else resid  # torch autocast: layer_norm is an fp32 op on CUDA
        else:
            model_tokens = norm + tail  # final norm, labels (or the score's input)
            first_norm_bytes = norm
    if drop.embedding > 0:  # dropout on the embeddings' output (LayerNorm'd for BERT: fp32 under CUDA autocast)
        embed_saved += h * dropout_mask_bytes(setup, 4 if fam == "encoder" and cuda_autocast else resid)
    norms = block_norms(spec) * norm
    if fam != "llama" and shared_norm_input(spec) and not (cuda_autocast and resid != 4):
        # the two LayerNorms save the block's one input once; CUDA autocast's fp32 layer_norm casts a 16-bit input
        # into a copy per LayerNorm (casts of activations are not cached), and each saves its own
        norms -= resid * h
    # the final-logit cap acts on the logits the standard loss reads: Liger's and Apple's kernels never
    # materialize them (they take the cap as an argument); a sequence classifier's head has none
    head_softcap = 0
    if spec.task == "causal-lm" and setup.loss == "standard" and softcapped(spec, "final_logit_softcapping"):
        # under autocast the head's matmul yields 16-bit logits; without it, the head's own dtype
        x = 4 if spec.architecture in _FP32_FINAL_SOFTCAP else a if autocast else unquantized_param_bytes(setup)
        head_softcap = softcap_logits_saved(spec.vocab_size, x)
    if attn_bwd_bs2 and fam != "encoder":
        # a pre-norm block's first norm is still saved (a post-norm encoder's norms come after the attention); a
        # LayerNorm computing in the stream's dtype saves the block's input itself, which checkpointing holds
        shared = fam != "llama" and setup.grad_checkpointing and not cuda_autocast
        attn_bwd_tokens += norm - (resid * h if shared else 0)
    fwd_bs2 = fwd_tokens = 0.0
    if bloom:
        norm_x = 4 if cuda_autocast else resid
        fwd_bs2, fwd_tokens = bloom_forward_softmax(h, heads, a, resid, block_input_bytes(setup), norm_x,
                                                    spec.num_layers, setup.grad_checkpointing)
        if not setup.grad_checkpointing:
            fwd_tokens += norm  # the block's first norm has saved its input (the previous block's output)
    stream_norm = norm_saves_stream(fam, resid, cuda_autocast)
    sequential = sequential_block(spec, fam)
    return ActivationModel(
        layer_tokens=norms + attn + mlp + dropout,
        layer_bs2=bs2,
        layer_input=checkpoint_saved(h, resid),
        model_tokens=model_tokens,
        # the final norm's output: the stream's dtype (RMSNorm casts back to it), fp32 from a LayerNorm under CUDA
        # autocast
        loss_tokens=(score_logits_bytes(head_labels(spec), a if autocast else resid) if classifier else
                     loss_buffer_bytes(spec, setup, a, 4 if fam != "llama" and cuda_autocast else resid) + head_softcap),
        first_norm=first_norm_bytes,
        dequant=dequant_transient_bytes(spec, setup),
        head_cast=head_cast_bytes(spec, setup),
        layers=spec.num_layers,
        act_bytes=a,
        hidden=h,
        vocab=spec.vocab_size,
        norms=norms,
        attention=attn,
        mlp=mlp,
        dropout=dropout,
        embed_saved=embed_saved,
        per_sequence=(pooled_head_saved(spec, setup, a) if fam == "encoder" else
                      classifier_pooled_saved(head_labels(spec)) if classifier else 0.0),
        head_input=head_input,
        head_softcap=head_softcap,
        attn_backward_bs2=attn_bwd_bs2,
        attn_backward_tokens=attn_bwd_tokens,
        attn_backward_flight=attn_bwd_flight,
        mask_bs2=attention_mask_bytes(spec, setup, resid),
        model_backward_tokens=model_backward,
        final_norm_backward=final_norm_backward,
        attn_forward_bs2=fwd_bs2,
        attn_forward_tokens=fwd_tokens,
        block_live_bs2=block_live,
        forward_mask_bs2=forward_mask,
        block_input=block_input_bytes(setup),
        intermediate=spec.intermediate_size,
        forward_tokens=encoder_block_live(spec, norm_out, block_input_bytes(setup), a) if fam == "encoder" else 0,
        block_tail_saved=(norm + (h * dropout_mask_bytes(setup, block_input_bytes(setup)) if drop.residual > 0 else 0)
                          if fam == "encoder" else 0),
        block_forward_tokens=(decoder_block_live(h, spec.intermediate_size, 4 if cuda_autocast and fam != "llama"
                                                 else resid, block_input_bytes(setup),
                                                 shared_residual=stream_norm and sequential,
                                                 attn_out=a * block_locals(spec, sequential),
                                                 act_saves_output=activation_saves_output(spec))
                              if fam != "encoder" and not moe_layers else 0),
        first_norm_stream=resid * h if stream_norm else 0,
        stream_grads=1 if fam == "encoder" else 2,
        mlp_backward=mlp_backward_flight(spec, block_input_bytes(setup)) if fam != "encoder" and not moe_layers else 0,
        # a Llama-style model hands its embeddings' output to the first block as is: under checkpointing it is
        # that block's saved input (layer_input), not one more tensor
        embed_out=h * (norm_out if fam == "encoder" else resid) if fam != "llama" else 0,
    )
