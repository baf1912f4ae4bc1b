"""The dtypes of a step: what autocast computes in, and which parameters peft's kbit preparation up-casts.

Every other module asks these functions (never the setup's dtype fields directly), so each rule lives once.
"""

from __future__ import annotations

from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup


def autocast_on(setup: TrainingSetup) -> bool:
    """True when the step runs under torch.autocast in a 16-bit dtype (an fp32 base trains without it)."""
    # transformers trainer.py (bf16 / fp16 arguments): torch.autocast(dtype=bfloat16 | float16); fp32 never autocasts
    return setup.autocast and setup.base_dtype != "fp32"


def activation_bytes(setup: TrainingSetup) -> int:
    """Bytes per element of the activations matmuls produce and autograd saves (2 under 16-bit autocast)."""
    # torch/amp/autocast_mode.py: ops on the lower-precision list (linear, matmul) cast their inputs to the
    # autocast dtype; without autocast every activation keeps the base weights' dtype
    return 2 if autocast_on(setup) else DTYPE_BYTES[setup.base_dtype]


def kbit_upcast(setup: TrainingSetup) -> bool:
    """True when peft's prepare_model_for_kbit_training ran on a quantized base (see unquantized_param_bytes)."""
    return setup.quant != "none" and setup.prepare_kbit


def unquantized_param_bytes(setup: TrainingSetup) -> int:
    """Bytes per element of every base parameter bitsandbytes leaves unquantized: embeddings, norms, biases,
    the output head, fused MoE expert tensors and peft's modules_to_save copies of them. It is also the dtype
    of the residual stream (the embeddings' output) and of what the unquantized layers compute."""
    # peft/utils/other.py (prepare_model_for_kbit_training): every fp16/bf16 parameter whose class is not
    # Params4bit is cast with param.data.to(torch.float32) (LLM.int8 weights are int8 and stay)
    return 4 if kbit_upcast(setup) else DTYPE_BYTES[setup.base_dtype]


def block_input_bytes(setup: TrainingSetup) -> int:
    """Bytes per element of what the norms and the MLP's linears hand on inside a block: the residual stream's
    dtype with a quantized base, the activation dtype otherwise (attention outputs always take the latter)."""
    if setup.quant == "none":
        return activation_bytes(setup)
    # bitsandbytes/nn/modules.py (Linear4bit.forward, Linear8bitLt): the output is cast back to the input's dtype,
    # and after kbit preparation the norms' fp32 weights make their outputs fp32
    return unquantized_param_bytes(setup)
