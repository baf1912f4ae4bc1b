"""Base weights by storage: bitsandbytes' 4-bit and 8-bit formats, and the tensors it leaves unquantized.

Bytes per GPU before sharding (overhead.shard divides them).
"""

from __future__ import annotations

import re

from lorplan.core.lora import quantization_skip_modules
from lorplan.core.memory.precision import unquantized_param_bytes
from lorplan.core.memory.types import TrainingSetup
from lorplan.core.model.spec import Linear, ModelSpec

NF4_BLOCK = 64  # bitsandbytes quantize_4bit's default blocksize (transformers' BitsAndBytesConfig keeps it)
NF4_DQ_BLOCK = 256  # bitsandbytes quantize_blockwise's blocksize for the double-quantized absmax


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def nf4_weight_bytes(numel: int, double_quant: bool) -> int:
    """Bytes of one NF4 / FP4 weight of `numel` elements (Params4bit + its quant_state; same for both types)."""
    blocks = _cdiv(numel, NF4_BLOCK)
    if not double_quant:
        # bitsandbytes/functional.py (quantize_4bit): codes packed two per uint8, an fp32 absmax per block of 64,
        # the 16-entry fp32 code of the quantization type
        return _cdiv(numel, 2) + 4 * blocks + 16 * 4
    # bitsandbytes/functional.py (quantize_4bit, compress_statistics=True): the absmax minus its mean is itself
    # quantized by quantize_blockwise(blocksize=256): uint8 absmax, an fp32 absmax per 256 blocks, a 256-entry
    # fp32 code and an fp32 offset (QLoRA, arXiv 2305.14314 §3: 4.127 bits per parameter)
    return _cdiv(numel, 2) + blocks + 4 * _cdiv(blocks, NF4_DQ_BLOCK) + 256 * 4 + 4 + 16 * 4


def int8_weight_bytes(numel: int, out_features: int) -> int:
    """Bytes of one LLM.int8 weight of `numel` elements with `out_features` rows (bias excluded)."""
    # bitsandbytes/nn/modules.py (Int8Params) with functional.int8_vectorwise_quant: int8 CB + fp32 SCB per row
    return numel + 4 * out_features


def quantized_weight_bytes(numel: int, out_features: int, quant: str, double_quant: bool) -> int:
    """Bytes bitsandbytes stores for one quantized weight of `numel` elements (bias excluded)."""
    if quant == "int8":
        return int8_weight_bytes(numel, out_features)
    return nf4_weight_bytes(numel, double_quant)


_SHAPES: dict[int, tuple] = {}


def _skipped(path: str, names: tuple[str, ...]) -> bool:
    """Whether a quantized load leaves the module at `path` alone for the skip names `names`, matched as
    transformers' quantizers_utils.should_convert_module matches them: from the start up to a module boundary
    ("classifier" skips "classifier.out_proj"), or as a suffix."""
    return any(re.match(rf"(?:{re.escape(n)})(?:(?<=\.)|(?=\.|$))", path) or path.endswith(n) for n in names)


def kept_unquantized(spec: ModelSpec, m: Linear) -> bool:
    """Whether a quantized load leaves the linear `m` in 16 bits: the output head (transformers'
    get_keys_to_not_convert: the output embeddings, the module of the last parameter), and a sequence
    classifier's whole head, its RoBERTa-style dense layer included, which `lorplan train` skips
    (llm_int8_skip_modules: core.lora.quantization_skip_modules)."""
    return m.role == "head" or _skipped(m.path, tuple(quantization_skip_modules(spec.task) or ()))


def linear_shapes(spec: ModelSpec) -> tuple[tuple[tuple[int, int, bool, bool], int], ...]:
    """((in_features, out_features, bias, kept unquantized), count) for the spec's linears, cached per spec: a 70B
    model has 561 linears but 8 shapes, so pricing a new quantization setup costs 8 terms, not 561."""
    hit = _SHAPES.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    counts: dict[tuple[int, int, bool, bool], int] = {}
    for m in spec.linears:
        key = (m.in_features, m.out_features, m.bias, kept_unquantized(spec, m))
        counts[key] = counts.get(key, 0) + 1
    shapes = tuple(counts.items())
    if len(_SHAPES) > 64:
        _SHAPES.clear()
    _SHAPES[id(spec)] = (spec, shapes)
    return shapes


_BLOCKS: dict[int, tuple] = {}


def largest_block_params(spec: ModelSpec) -> int:
    """Parameters of the largest block's linears (the FSDP / ZeRO-3 all-gather unit), cached per spec."""
    hit = _BLOCKS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    per_layer: dict[int, int] = {}
    for m in spec.linears:
        if m.layer is not None:
            per_layer[m.layer] = per_layer.get(m.layer, 0) + m.params
    value = max(per_layer.values(), default=0)
    if len(_BLOCKS) > 64:
        _BLOCKS.clear()
    _BLOCKS[id(spec)] = (spec, value)
    return value


def weight_bytes(spec: ModelSpec, setup: TrainingSetup) -> dict[str, int]:
    """Base model bytes split into quantized linears, 16/32-bit linears and other tensors (embeddings, norms).

    Quantized: every nn.Linear but those a quantized load keeps (kept_unquantized: the output head, a
    classifier's head); everything else in unquantized_param_bytes.
    """
    other = unquantized_param_bytes(setup)
    quantized = plain = 0
    for (fin, fout, bias, head), count in linear_shapes(spec):
        b = fout if bias else 0
        # transformers integrations/bitsandbytes.py (replace_with_bnb_linear): every nn.Linear is replaced but
        # those kept (kept_unquantized); biases stay unquantized
        if setup.quant != "none" and not head:
            quantized += count * quantized_weight_bytes(fin * fout, fout, setup.quant, setup.double_quant)
            plain += count * b * other
        else:
            plain += count * (fin * fout + b) * other
    tensors = sum(t.numel for t in spec.tensors) * other
    return {"weights_quantized": quantized, "weights_linear": plain, "weights_other": tensors}


def clear_caches() -> None:
    """Forget the per-spec shapes (for benchmarks and tests)."""
    _SHAPES.clear()
    _BLOCKS.clear()
