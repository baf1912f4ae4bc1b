"""How long pricing a full rank sweep takes (the TUI recomputes it on every keystroke).

Prices ranks 1…512 with every component, fits, max micro-batch and max sequence length for a 70B catalog model
under a 80 GiB budget, best of N repetitions, in milliseconds; the target is < 5 ms for each:
- cold: every cache cleared (a new model or new targets: targets are resolved again, 561 modules for 70B);
- setup changed: quantization, checkpointing or optimizer changed (resolved targets are reused);
- warm: only the sequence length and micro-batch changed (what a slider does).

Run: .venv/bin/python benchmarks/memory_speed.py
"""

from __future__ import annotations

import time

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, rank_table, sweep
from lorplan.core.model import load_spec

MODEL = "meta-llama/Llama-3.1-70B-Instruct"
RANKS = tuple(range(1, 513))
BUDGET = 80 * 1024**3
TARGET_MS = 5.0


def _best(fn, reps: int) -> float:
    best = float("inf")
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> int:
    spec = load_spec(MODEL)
    variants = [
        TrainingSetup(quant=q, double_quant=q == "nf4", grad_checkpointing=gc, optimizer=o,
                      targets=LoraTargets(modules=m), seq_len=2048)
        for q in ("none", "nf4", "int8")
        for gc in (False, True)
        for o in ("adamw", "paged-adamw-8bit")
        for m in (("all-linear",), ("q_proj", "v_proj"))
    ]

    def cold(i: int) -> None:
        sweep.clear_caches()
        rank_table(spec, variants[i % len(variants)], RANKS, BUDGET)

    def changed(i: int) -> None:
        sweep._CACHE.clear()  # per-setup preparation redone; resolved targets kept
        rank_table(spec, variants[i % len(variants)], RANKS, BUDGET)

    base = TrainingSetup(seq_len=2048)
    rank_table(spec, base, RANKS, BUDGET)

    def warm(i: int) -> None:
        st = TrainingSetup(seq_len=1024 + i, micro_batch=1 + i % 4)
        rank_table(spec, st, RANKS, BUDGET)

    table = rank_table(spec, base, RANKS, BUDGET)
    assert len(table.rows) == 512 and all(r.max_micro_batch is not None for r in table.rows)
    cold_ms = _best(cold, 48)
    changed_ms = _best(changed, 48)
    warm_ms = _best(warm, 48)
    print(f"model {MODEL}: {spec.total_params / 1e9:.1f} B params, {len(spec.linears)} linear modules")
    print("full sweep, ranks 1..512, budget 80 GiB (fits, max micro-batch, max seq len included)")
    for label, ms in (("cold (all caches cleared)", cold_ms), ("setup changed (targets cached)", changed_ms),
                      ("warm (seq len / batch changed)", warm_ms)):
        print(f"  {label:<32} {ms:6.2f} ms   target < {TARGET_MS} ms  {'OK' if ms < TARGET_MS else 'SLOW'}")
    print(f"  per rank (warm): {warm_ms / len(RANKS) * 1e3:.2f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
