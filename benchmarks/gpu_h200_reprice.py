"""Re-price the H200 run's measured cases with today's memory model, without a GPU.

benchmarks/results/gpu_h200_run.log and gpu_h200_recommend.log hold what benchmarks/gpu_run.sh printed on a lent
H200 (driver 580, torch 2.11.0+cu130, transformers 5.17, peft 0.21, bitsandbytes 0.50.2). The measured peaks are
copied below from those logs; the estimates are recomputed here with the same setups, so a change to the memory
model shows its effect on the only GPU measurements there are. Prints, per case, torch's max_memory_allocated,
max_memory_reserved and NVML's process total beside the estimate's allocated peak, allocated + allocator reserve,
and total, with (estimate - measured) / measured.

    .venv/bin/python benchmarks/gpu_h200_reprice.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GIB = 1024**3
MIB = 1024**2
# gpu_memory_check.py: SmolLM2-135M-Instruct (random weights), rank 16 all-linear, micro-batch 4 x 1024 tokens,
# the CUDA context measured in that process (0.693 GiB); GiB as printed: allocated, reserved, NVML. The two rows
# without checkpointing (and PROBE_CHECK's, whose probes do not checkpoint) were measured with the config's
# use_cache on: neither script nor lorplan's engine turned the KV cache off then (both do now, as transformers'
# Trainer does), so their forwards built a DynamicCache the memory model no longer prices. On the CPU trace that
# is no difference for bf16 SDPA on Llama (the cache's copies of k and v replace the k and v SDPA saves) and a
# few percent for NF4 (the fp32 copies live until the loss: -3.9% with the cache against -1.7% without, a tiny
# Llama with GQA at 1 x 512): the NF4 rows' measured figures are likely higher than a run without the cache.
MEMORY_CHECK = {("none", False): (5.743, 7.129, 7.869), ("none", True): (2.759, 3.549, 4.289),
                ("nf4", False): (6.627, 7.275, 8.016), ("nf4", True): (2.850, 3.551, 4.291)}
MEMORY_CHECK_CONTEXT = 0.693
# gpu_probe_check.py: Llama 8 layers hidden 1024 (random weights), rank 16 all-linear, micro-batch 4 x 512 packed,
# through lorplan's probe worker; the default CUDA context (no measurement is passed)
PROBE_CHECK = {"nf4": (2.120, 2.592, 3.332), "none": (1.864, 2.270, 3.010)}
# gpu_recommend_check.py: torch.cuda.max_memory_allocated (MiB) of ladder probes and the estimate it printed then
# (before the cuBLAS workspaces were priced): the demo's MiniLM at 16 x 6 tokens, the Llama ladder at 4 x 82
LADDER = {"demo r4": (121.3, 56.4), "demo r32": (137.2, 72.4), "causal-lm r4": (612.5, 545.2),
          "causal-lm r16": (636.8, 569.6)}


def _err(est: float, meas: float) -> str:
    return f"{100 * (est - meas) / meas:+6.1f}%"


def reprice() -> list[tuple[str, tuple[float, float, float], tuple[float, float, float]]]:
    """(case, measured (allocated, reserved, NVML), estimate (allocated, allocated + reserve, total)) in GiB for
    every case of the memory and probe checks, priced with today's memory model."""
    import gpu_probe_check

    from lorplan.core.memory import TrainingSetup, estimate
    from lorplan.core.model import load_spec

    def est(m) -> tuple[float, float, float]:
        alloc = m.details["allocated"] / GIB
        return alloc, alloc + m.details["allocator_reserve"] / GIB, m.total / GIB

    rows = []
    spec = load_spec("HuggingFaceTB/SmolLM2-135M-Instruct")
    for (quant, gc), measured in MEMORY_CHECK.items():
        setup = TrainingSetup(quant=quant, double_quant=quant != "none", micro_batch=4, seq_len=1024,
                              grad_checkpointing=gc, cuda_context_bytes=int(MEMORY_CHECK_CONTEXT * GIB))
        name = f"{'bf16' if quant == 'none' else 'nf4+dq'}{' +GC' if gc else ''} (memory)"
        rows.append((name, measured, est(estimate(spec, setup, 16))))
    with tempfile.TemporaryDirectory() as tmp:  # the probe check's model: its config is all the estimate reads
        from transformers import LlamaConfig

        config = LlamaConfig(**gpu_probe_check.CONFIG)
        config.dtype = "bfloat16"  # make_model saves its random weights in bf16
        config.save_pretrained(tmp)
        llama = load_spec(tmp)
    for quant, measured in PROBE_CHECK.items():
        setup = TrainingSetup(quant=quant, micro_batch=4, seq_len=512)
        rows.append((f"{'bf16' if quant == 'none' else 'nf4'} (probe)", measured, est(estimate(llama, setup, 16))))
    return rows


def ladder_now() -> list[tuple[str, float, float, float]]:
    """(probe, measured MiB, the estimate printed then, the estimate with the cuBLAS workspaces priced since)."""
    from lorplan.core.memory.types import CUBLAS_WORKSPACE_BYTES

    return [(name, meas, then, then + CUBLAS_WORKSPACE_BYTES / MIB) for name, (meas, then) in LADDER.items()]


def main() -> None:
    from lorplan.core.memory.types import CUBLAS_WORKSPACE_BYTES

    print(f"{'case (GiB)':<22} {'alloc':>7} {'est':>7} {'':>7}   {'reserv':>7} {'est':>7} {'':>7}   {'NVML':>7} "
          f"{'est':>7}")
    for name, (a, r, n), (ea, er, en) in reprice():
        print(f"{name:<22} {a:7.3f} {ea:7.3f} {_err(ea, a)}   {r:7.3f} {er:7.3f} {_err(er, r)}   {n:7.3f} "
              f"{en:7.3f} {_err(en, n)}")
    print(f"\nladder probes (MiB): measured max_memory_allocated / the estimate printed then, and with the "
          f"{CUBLAS_WORKSPACE_BYTES // MIB} MiB of cuBLAS workspaces priced since")
    for name, meas, then, now in ladder_now():
        print(f"  {name:<14} {meas:7.1f}  then {then:7.1f} ({meas / then:.3f}x)  now {now:7.1f} ({meas / now:.3f}x)")


if __name__ == "__main__":
    main()
