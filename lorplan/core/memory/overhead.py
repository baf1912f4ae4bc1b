"""What the GPU holds beyond the tensors of one step, and how multi-GPU training divides the static state."""

from __future__ import annotations

from typing import NamedTuple

from lorplan.core.memory.types import (
    CUBLAS_WORKSPACE_BYTES,
    DEFAULT_CUDA_CONTEXT_BYTES,
    RESERVE_BASE_BYTES,
    TrainingSetup,
)


def cuda_context_bytes(setup: TrainingSetup) -> int:
    """CUDA context + loaded kernels on each GPU: the measured or given figure, else the default (0 on CPU)."""
    if setup.kernels == "cpu":
        return 0
    if setup.cuda_context_bytes is not None:
        return setup.cuda_context_bytes
    # transformers docs/source/en/model_memory_anatomy.md measured 1.3 GB through NVML (V100, CUDA 11.2); CUDA's
    # lazy module loading (>= 11.7) lowers it, hence the smaller default (types.DEFAULT_CUDA_CONTEXT_BYTES)
    return DEFAULT_CUDA_CONTEXT_BYTES


def cublas_workspace_bytes(setup: TrainingSetup) -> int:
    """cuBLAS workspaces a CUDA training step holds in the caching allocator (types.CUBLAS_WORKSPACE_BYTES: the
    forward thread's and autograd's backward thread's); 0 on CPU."""
    return 0 if setup.kernels == "cpu" else CUBLAS_WORKSPACE_BYTES


def reserve_base_bytes(setup: TrainingSetup) -> int:
    """The part of the allocator reserve that does not grow with the peak (types.RESERVE_BASE_BYTES); 0 on CPU,
    where no caching allocator keeps freed blocks."""
    return 0 if setup.kernels == "cpu" else RESERVE_BASE_BYTES


def allocator_reserve_bytes(allocated: int, fraction: float, base: int = 0) -> int:
    """Bytes the caching allocator reserves beyond the allocated peak: `base` plus a fraction of the peak
    (heuristic, types.DEFAULT_RESERVE_FRACTION and RESERVE_BASE_BYTES say what it was fitted on)."""
    # torch/cuda/memory.py (memory_reserved >= memory_allocated): the caching allocator rounds blocks up and
    # keeps freed segments for reuse
    return int(allocated * fraction) + base


def allocatable_room(budget: int, context: int, fraction: float, base: int = 0) -> float:
    """The largest allocated peak that fits `budget` once the context and allocator_reserve_bytes are added."""
    return (budget - context - base) / (1.0 + fraction)


class Sharded(NamedTuple):
    """Static state per GPU after sharding, and what sharding adds (bytes)."""

    weights: int
    adapter: int
    gradients: int
    optimizer_allocated: int
    optimizer_paged: int
    gathered_weights: int  # FSDP / ZeRO-3: unsharded blocks alive at once
    ddp_buckets: int  # DDP: the gradient buckets


def _cdiv(a: int, n: int) -> int:
    return -(-a // n)


def shard(setup: TrainingSetup, weights: int, adapter: int, grads: int, opt_alloc: int, opt_paged: int,
          block_weight_bytes: int) -> Sharded:
    """Divide the static state over setup.gpus as setup.sharding does (block_weight_bytes: the largest block's
    weights, the all-gather unit)."""
    sh = setup.sharding
    if sh == "none":
        return Sharded(weights, adapter, grads, opt_alloc, opt_paged, 0, 0)
    if sh == "ddp":
        # torch/nn/parallel/distributed.py (gradient_as_bucket_view=False): the Reducer copies every gradient
        # into flat all-reduce buckets of the same total size
        return Sharded(weights, adapter, grads, opt_alloc, opt_paged, 0, grads)
    n = setup.gpus
    gathered = 0
    if sh != "zero2":
        # torch/distributed/fsdp (FULL_SHARD) and deepspeed/runtime/zero/stage3.py: parameters are sharded and
        # all-gathered one unit at a time, with the next unit prefetched (two unsharded blocks alive)
        weights, adapter, gathered = _cdiv(weights, n), _cdiv(adapter, n), 2 * block_weight_bytes
    # deepspeed/runtime/zero/stage_1_and_2.py (ZeRO-2), FSDP and ZeRO-3: gradients and optimizer states are
    # partitioned over the ranks
    return Sharded(weights, adapter, _cdiv(grads, n), _cdiv(opt_alloc, n), _cdiv(opt_paged, n), gathered, 0)
