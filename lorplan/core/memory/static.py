"""Static state of a LoRA step: base weights, adapter weights, optimizer states (bytes, per GPU before sharding).

Sources (code-verified against the installed libraries):
- bitsandbytes 0.50 `functional.quantize_4bit` / `nn.Params4bit`: 4-bit codes packed two per uint8, fp32 absmax
  per block of 64, a 16-entry fp32 code per tensor; double quantization (`compress_statistics`) stores absmax as
  uint8 with `quantize_blockwise(blocksize=256)`: fp32 absmax per 256 blocks + a 256-entry fp32 code + an fp32
  offset.
- bitsandbytes `nn.Int8Params` (LLM.int8): int8 weight + fp32 row scale (SCB) per output row.
- transformers leaves the output head unquantized (`get_keys_to_not_convert`); embeddings and norms are not
  nn.Linear, so they stay in the load dtype.
- peft `prepare_model_for_kbit_training`: every fp16/bf16 parameter that is not Params4bit becomes fp32.
- bitsandbytes `optim.Optimizer2State.init_state`: 8-bit states (uint8) + fp32 absmax per 256 elements for
  tensors of >= min_8bit_size (4096) elements, fp32 states below; paged buffers (`get_state_buffer`) for
  tensors of >= 1e5 elements live in CUDA managed memory, outside PyTorch's allocator.
- torch.optim.AdamW: exp_avg and exp_avg_sq in the parameter dtype; the step counter is a float32 scalar on
  the host for CUDA parameters (not capturable/fused), on the CPU for CPU parameters.
"""

from __future__ import annotations

from lorplan.core.memory.targets import TensorGroup
from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup
from lorplan.core.model.spec import ModelSpec

NF4_BLOCK = 64
NF4_DQ_BLOCK = 256
BNB_OPT_BLOCK = 256
MIN_8BIT_SIZE = 4096
PAGED_MIN_NUMEL = 100_000


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def quantized_weight_bytes(numel: int, out_features: int, quant: str, double_quant: bool) -> int:
    """Bytes bitsandbytes stores for one quantized weight of `numel` elements (bias excluded)."""
    if quant == "int8":
        return numel + 4 * out_features  # int8 CB + fp32 SCB
    blocks = _cdiv(numel, NF4_BLOCK)
    packed = _cdiv(numel, 2)
    code = 16 * 4
    if not double_quant:
        return packed + 4 * blocks + code
    return packed + blocks + 4 * _cdiv(blocks, NF4_DQ_BLOCK) + 256 * 4 + 4 + code


_SHAPES: dict[int, tuple] = {}


def linear_shapes(spec: ModelSpec) -> tuple[tuple[tuple[int, int, bool, bool], int], ...]:
    """((in_features, out_features, bias, is_head), count) for the spec's linears, cached per spec: a 70B model
    has 561 linears but 8 shapes, so pricing a new quantization setup costs 8 terms, not 561."""
    hit = _SHAPES.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    counts: dict[tuple[int, int, bool, bool], int] = {}
    for m in spec.linears:
        key = (m.in_features, m.out_features, m.bias, m.role == "head")
        counts[key] = counts.get(key, 0) + 1
    shapes = tuple(counts.items())
    if len(_SHAPES) > 64:
        _SHAPES.clear()
    _SHAPES[id(spec)] = (spec, shapes)
    return shapes


def weight_bytes(spec: ModelSpec, setup: TrainingSetup) -> dict[str, int]:
    """Base model bytes split into quantized linears, 16/32-bit linears and other tensors (embeddings, norms).

    bitsandbytes replaces every nn.Linear except the output head. With quantization and prepare_kbit, every
    non-quantized 16-bit parameter (biases included) is fp32.
    """
    base = DTYPE_BYTES[setup.base_dtype]
    other = 4 if (setup.quant != "none" and setup.prepare_kbit) else base
    quantized = plain = 0
    for (fin, fout, bias, head), count in linear_shapes(spec):
        b = fout if bias else 0
        if setup.quant != "none" and not head:
            quantized += count * quantized_weight_bytes(fin * fout, fout, setup.quant, setup.double_quant)
            plain += count * b * other
        else:
            plain += count * (fin * fout + b) * other
    tensors = sum(t.numel for t in spec.tensors) * other
    return {"weights_quantized": quantized, "weights_linear": plain, "weights_other": tensors}


def adapter_tensors(tensors: tuple[TensorGroup, ...], rank: int, pbytes: int, copy_bytes: int) -> list[tuple[int, int, int]]:
    """(numel, count, bytes per element) of every trainable tensor at this rank (targets.TensorGroup, from
    lora.trainable_tensors): LoRA tensors in the adapter dtype, modules_to_save copies in their module's dtype."""
    return [(g.per_rank * rank + g.const, g.count, copy_bytes if g.full_copy else pbytes) for g in tensors]


def optimizer_bytes(tensors: list[tuple[int, ...]], setup: TrainingSetup, param_bytes: int) -> tuple[int, int, int]:
    """(allocator bytes, paged bytes outside the allocator, host-or-device step counters bytes) of the states.

    tensors: (numel, count) or (numel, count, bytes per element) per group of equal tensors (param_bytes when
    not given). The rules are per tensor, so the list must be peft's real tensors (adapter_tensors).
    AdamW: 2 states in the parameter dtype. 8-bit AdamW: uint8 states + fp32 absmax per 256, fp32 states for
    tensors under 4096 elements. Paged 8-bit: state buffers of >= 1e5 elements are managed memory.
    SGD: nothing; SGD with momentum: one buffer in the parameter dtype.
    """
    opt = setup.optimizer
    alloc = paged = steps = 0
    if opt in ("adamw-8bit", "paged-adamw-8bit") and any(t[0] >= MIN_8BIT_SIZE for t in tensors):
        alloc += 2 * 256 * 4  # the signed and unsigned dynamic quantization maps, shared by all parameters
    for t in tensors:
        numel, count = t[0], t[1]
        param_bytes_t = t[2] if len(t) > 2 else param_bytes
        if opt == "adamw":
            alloc += 2 * numel * param_bytes_t * count
            steps += 4 * count
        elif opt in ("adamw-8bit", "paged-adamw-8bit"):
            if numel < MIN_8BIT_SIZE:
                state, extra = 2 * numel * 4, 0
            else:
                state, extra = 2 * numel, 2 * 4 * _cdiv(numel, BNB_OPT_BLOCK)
            if opt == "paged-adamw-8bit" and numel >= PAGED_MIN_NUMEL:
                paged += state * count
            else:
                alloc += state * count
            alloc += extra * count
        elif opt == "sgd-momentum":
            alloc += numel * param_bytes_t * count
    return alloc, paged, steps
