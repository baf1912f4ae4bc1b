"""Tokens per second of lorplan's training engine (lorplan.train.engine: probes and `lorplan train`) against
transformers' Trainer: same model, data, batches, precision, optimizer and schedule (Trainer is handed the
engine's own optimizer and LR schedule), on this machine. Prints both figures and their ratio (target: >= 1.0x).

Default: the embedded demo probe (all-MiniLM-L6-v2, sequence classification, generated data), LoRA rank 8 on
all linear layers, micro-batch 16. Both loops see exactly the same batches in the same order (the engine's
seeded order, given to Trainer as a sequential dataset); eval is off for both. Each loop is timed
end to end including its own setup (optimizer, and for Trainer its accelerate preparation), interleaved
repeats, median reported; CPU time is reported beside wall time because it is steadier on a shared machine. The mean training loss of both is printed as a sanity check (same data, same
maths: they should be close).

    .venv/bin/python benchmarks/probe_throughput.py [--steps 40] [--repeats 3] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(rank: int, steps: int, micro_batch: int, device: str):
    """The demo probe's engine (all-MiniLM-L6-v2, sequence classification, generated data) at `rank`, with its
    evaluation off; seeded, so two builds start from the same weights."""
    from lorplan.probe import runner
    from lorplan.probe.worker import build_probe
    from lorplan.train.engine import build_engine

    run = runner.make_plan((rank,), steps=steps, micro_batch=micro_batch, eval_every=10**9, device=device)
    plan, examples = build_probe(run, run.probes[0].id, device)
    engine = build_engine(plan, examples=examples, max_eval=run.eval_examples)
    engine.eval_items = []
    return engine


def batches_for(engine, steps):
    """The engine's first `steps` micro-batches, in its order (the same for both loops)."""
    from itertools import islice

    return [chunk for _, chunk in islice(engine.micro_batches(0), steps)]


def run_probe_loop(a, device, batches) -> tuple[float, float, float]:
    import torch

    from lorplan.train.engine import run_steps

    engine = build(a.rank, len(batches), a.micro_batch, device)
    engine.micro_batches = lambda start=0: iter((0, b) for b in batches)  # exactly these batches
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    run_steps(engine, on_step=lambda s: losses.append(s.loss))
    if device == "cuda":
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, sum(losses) / len(losses)


def run_trainer(a, device, batches) -> tuple[float, float, float]:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from lorplan.train.data import collate

    engine = build(a.rank, len(batches), a.micro_batch, device)
    model = engine.accelerator.unwrap_model(engine.model)
    flat = [f for b in batches for f in b]

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(flat)

        def __getitem__(self, i):
            return flat[i]

    last = {}

    class LastLoss(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                last["loss"] = logs["loss"]

    with tempfile.TemporaryDirectory() as tmp:
        t = engine.plan.training
        args = TrainingArguments(
            output_dir=tmp, max_steps=len(batches), per_device_train_batch_size=t.micro_batch,
            learning_rate=t.learning_rate, weight_decay=t.weight_decay, max_grad_norm=1.0,
            train_sampling_strategy="sequential", bf16=device == "cuda", use_cpu=device == "cpu", report_to="none",
            save_strategy="no", eval_strategy="no", logging_steps=len(batches), disable_tqdm=True,
            dataloader_num_workers=0, remove_unused_columns=False, seed=t.seed,
        )
        t0, c0 = time.perf_counter(), time.process_time()
        # the engine's own optimizer and schedule, so both loops do the same maths
        trainer = Trainer(model=model, args=args, train_dataset=Items(),
                          optimizers=(engine.optimizer.optimizer, engine.scheduler),
                          data_collator=lambda items: collate(items, engine.pad_id), callbacks=[LastLoss()])
        trainer.train()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, last.get("loss", float("nan"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    a = ap.parse_args()

    import torch
    import transformers

    if a.threads:
        torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    device = "cuda" if a.device.startswith("cuda") else "cpu"
    batches = batches_for(build(a.rank, a.steps, a.micro_batch, device), a.steps)
    tokens = sum(sum(len(x.input_ids) for x in b) for b in batches)
    print(f"model all-MiniLM-L6-v2 (seq-cls), LoRA r={a.rank} all-linear, micro-batch {a.micro_batch}, "
          f"{a.steps} steps, {tokens} tokens, device {device}, threads {torch.get_num_threads()}, "
          f"precision {'bf16 autocast' if device == 'cuda' else 'fp32'}")
    warm = max(3, a.steps // 8)
    run_probe_loop(a, device, batches[:warm])  # warm-up: allocator, page cache
    wall = {"probe": [], "trainer": []}
    cpu = {"probe": [], "trainer": []}
    for r in range(a.repeats):
        order = (("probe", run_probe_loop), ("trainer", run_trainer))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds, cpu_s, loss = fn(a, device, batches)
            wall[name].append(seconds)
            cpu[name].append(cpu_s)
            print(f"  repeat {r + 1}: {name:<7} {seconds:7.2f} s wall {cpu_s:7.2f} s CPU  "
                  f"{tokens / seconds:8.1f} tokens/s  mean train loss {loss:.4f}", flush=True)
    pw, tw = statistics.median(wall["probe"]), statistics.median(wall["trainer"])
    pc, tc = statistics.median(cpu["probe"]), statistics.median(cpu["trainer"])
    print(f"probe loop: {tokens / pw:.1f} tokens/s wall, {tokens / pc:.1f} tokens per CPU-second (median of {a.repeats})")
    print(f"Trainer:    {tokens / tw:.1f} tokens/s wall, {tokens / tc:.1f} tokens per CPU-second (median of {a.repeats})")
    print(f"ratio probe/Trainer: {tw / pw:.3f}x (wall), {tc / pc:.3f}x (CPU time; steadier on a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
