"""Optimizer states, per optimizer and per trainable tensor (bytes per GPU before sharding).

The rules are per tensor (bitsandbytes' 8-bit threshold and paging depend on each tensor's size), so the input
is peft's real tensor list (adapter.adapter_tensors), never a lumped parameter count.
"""

from __future__ import annotations

from typing import NamedTuple

from lorplan.core.vocab import EIGHT_BIT_OPTIMIZERS

MIN_8BIT_SIZE = 4096  # bitsandbytes optim.Optimizer8bit's min_8bit_size default
BNB_OPT_BLOCK = 256  # bitsandbytes Optimizer2State.init_state: blocksize of the 8-bit states' absmax
PAGED_MIN_NUMEL = 100_000  # bitsandbytes Optimizer8bit.get_state_buffer: smaller buffers are never paged


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


class OptimizerStates(NamedTuple):
    """allocated: states in PyTorch's caching allocator (step counters included when on the device);
    paged: bitsandbytes' paged states in CUDA managed memory (outside the allocator, seen by NVML);
    step_counters: the part of `allocated` that is AdamW step counters."""

    allocated: int
    paged: int
    step_counters: int


def adamw_state_bytes(param_bytes: int) -> int:
    """exp_avg and exp_avg_sq of torch AdamW for parameters taking `param_bytes`."""
    # torch/optim/adam.py (Adam._init_group, which AdamW inherits): exp_avg and exp_avg_sq are
    # torch.zeros_like(p), so each takes the parameter's bytes
    return 2 * param_bytes


def adamw_step_counter_bytes(n_tensors: int) -> int:
    """torch AdamW's step counters: one fp32 scalar per parameter tensor."""
    # torch/optim/adam.py (Adam._init_group): state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype()) on
    # the CPU unless capturable or fused (then a 0-dim tensor on the parameter's device)
    return 4 * n_tensors


def sgd_momentum_state_bytes(param_bytes: int) -> int:
    """torch SGD's momentum buffers for parameters taking `param_bytes` (plain SGD keeps nothing)."""
    # torch/optim/sgd.py (_single_tensor_sgd): buf = grad.detach().clone() on the first step
    return param_bytes


def bnb_8bit_state_bytes(numel: int) -> int:
    """bitsandbytes 8-bit AdamW's two state buffers for one tensor of `numel` elements (absmax excluded)."""
    # bitsandbytes/optim/optimizer.py (Optimizer2State.init_state): uint8 state1 and state2, or fp32 ones for
    # tensors under min_8bit_size elements
    return 2 * numel * 4 if numel < MIN_8BIT_SIZE else 2 * numel


def bnb_8bit_absmax_bytes(numel: int) -> int:
    """bitsandbytes 8-bit AdamW's block statistics for one tensor (never paged)."""
    # bitsandbytes/optim/optimizer.py (Optimizer2State.init_state): absmax1 and absmax2, fp32 per block of 256
    return 0 if numel < MIN_8BIT_SIZE else 2 * 4 * _cdiv(numel, BNB_OPT_BLOCK)


def bnb_qmap_bytes(tensors: list[tuple[int, int, int]]) -> int:
    """The two dynamic quantization maps bitsandbytes shares across all 8-bit states (0 when none is 8-bit)."""
    # bitsandbytes/optim/optimizer.py (fill_qmap): create_dynamic_map(signed=True) and (signed=False),
    # 256 fp32 entries each, moved to the device once
    return 2 * 256 * 4 if any(t[0] >= MIN_8BIT_SIZE for t in tensors) else 0


def bnb_paged(numel: int, optimizer: str) -> bool:
    """True when bitsandbytes allocates this tensor's state buffers in CUDA managed memory."""
    # bitsandbytes/optim/optimizer.py (get_state_buffer): paged optimizers page buffers of >= 1e5 elements
    return optimizer == "paged-adamw-8bit" and numel >= PAGED_MIN_NUMEL


def optimizer_states(optimizer: str, tensors: list[tuple[int, int, int]], counters_on_device: bool
                     ) -> OptimizerStates:
    """States of `optimizer` for trainable tensors given as (numel, count, bytes per element).

    counters_on_device: AdamW's step counters live with the parameters (CPU training) rather than on the host.
    """
    alloc = paged = steps = 0
    if optimizer == "adamw":
        for n, c, b in tensors:
            alloc += adamw_state_bytes(n * b) * c
            steps += adamw_step_counter_bytes(c)
        if counters_on_device:
            alloc += steps
        else:
            steps = 0
    elif optimizer == "sgd-momentum":
        for n, c, b in tensors:
            alloc += sgd_momentum_state_bytes(n * b) * c
    elif optimizer in EIGHT_BIT_OPTIMIZERS:
        alloc = bnb_qmap_bytes(tensors)
        for n, c, _ in tensors:
            if bnb_paged(n, optimizer):
                paged += bnb_8bit_state_bytes(n) * c
            else:
                alloc += bnb_8bit_state_bytes(n) * c
            alloc += bnb_8bit_absmax_bytes(n) * c
    return OptimizerStates(alloc, paged, steps)


def states_affine_in_rank(optimizer: str) -> bool:
    """True when every state is proportional to its tensor's size (torch's AdamW and SGD), so the total over
    LoRA tensors is affine in the rank; bitsandbytes' per-tensor thresholds (8-bit size, paging) are not."""
    return optimizer not in EIGHT_BIT_OPTIMIZERS


def foreach_step_temp_bytes(optimizer: str, foreach: bool, grad_bytes: int) -> int:
    """What torch AdamW's multi-tensor step allocates on top of the states while it runs."""
    # torch/optim/adam.py (_multi_tensor_adam): exp_avg_sq_sqrt = torch._foreach_sqrt(device_exp_avg_sqs), one
    # tensor per parameter in its dtype (the gradients' size), alive through the update
    return grad_bytes if (optimizer == "adamw" and foreach) else 0
