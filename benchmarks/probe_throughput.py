"""Tokens per second of lorplan's probe loop against transformers' Trainer: same model, data, batches,
precision, optimizer and schedule (Trainer is handed the probe's own optimizer and LR schedule), on this
machine. Prints both figures and their ratio (target: >= 1.0x).

Default: the embedded demo (all-MiniLM-L6-v2, sequence classification, generated data), LoRA rank 8 on all
linear layers, micro-batch 16. Both loops see exactly the same batches in the same order (the probe's
length-grouped batches, given to Trainer as a sequential dataset); eval is off for both. Each loop is timed
end to end including its own setup (optimizer, and for Trainer its accelerate preparation), interleaved
repeats, median reported; CPU time is reported beside wall time because it is steadier on a shared machine. The mean training loss of both is printed as a sanity check (same data, same
maths: they should be close).

    .venv/bin/python benchmarks/probe_throughput.py [--steps 40] [--repeats 3] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(plan, device):
    import torch

    from lorplan.probe import training as T
    from lorplan.probe.demo import demo_model_path

    torch.manual_seed(0)
    progress = T.Progress()
    model, tok = T.load_model(plan, plan.probes[0].rank, "sequence-classification", 2, demo_model_path(), device, progress)
    return model, tok


def batches_for(plan, tok, steps):
    from lorplan.probe import batches as B
    from lorplan.probe.demo import demo_examples

    examples = demo_examples(seed=0)
    train, _, _ = B.split(examples, plan.eval_examples, 0)
    feats = B.classification_features(train, tok, plan.seq_len, B.label_ids(examples))
    stream = B.batch_stream(feats, plan.micro_batch, "length", 0)
    out = []
    while len(out) < steps:
        b = next(stream)
        if len(b) == plan.micro_batch:
            out.append(b)
    return out


def run_probe_loop(plan, device, batches) -> tuple[float, float]:
    import torch

    from lorplan.probe import training as T
    from lorplan.probe.events import append_event

    model, tok = build(plan, device)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        torch.manual_seed(0)  # Trainer seeds 0 too (dropout masks)
        t0, c0 = time.perf_counter(), time.process_time()
        progress = T.Progress()
        losses = []

        def emit(ev):
            append_event(log, ev)
            if ev["type"] == "step":
                losses.append(ev["loss"])

        T.train_loop(model, iter(batches), [], plan, 2e-3, device, True, tok.pad_token_id, progress, emit)
        if device.type == "cuda":
            import torch

            torch.cuda.synchronize()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, sum(losses) / len(losses)


def run_trainer(plan, device, batches) -> tuple[float, float]:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from lorplan.probe import training as T
    from lorplan.probe.batches import collate

    model, tok = build(plan, device)
    flat = [f for b in batches for f in b]
    multiple = 8 if device.type == "cuda" else 1

    class Features(torch.utils.data.Dataset):
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
        args = TrainingArguments(
            output_dir=tmp, max_steps=len(batches), per_device_train_batch_size=plan.micro_batch,
            learning_rate=2e-3, weight_decay=0.0, max_grad_norm=1.0, train_sampling_strategy="sequential",
            bf16=device.type == "cuda", use_cpu=device.type == "cpu", report_to="none", save_strategy="no",
            eval_strategy="no", logging_steps=len(batches), disable_tqdm=True, dataloader_num_workers=0,
            remove_unused_columns=False, seed=0,
        )
        t0, c0 = time.perf_counter(), time.process_time()
        # the probe's own optimizer and schedule, so both loops do the same maths
        params = [p for p in model.parameters() if p.requires_grad]
        opt = T.make_optimizer(plan.optimizer, params, 2e-3, device, T.Progress())
        sched = torch.optim.lr_scheduler.LambdaLR(opt, T.lr_lambda(len(batches)))
        trainer = Trainer(model=model, args=args, train_dataset=Features(), optimizers=(opt, sched),
                          data_collator=lambda fs: collate(fs, tok.pad_token_id, multiple), callbacks=[LastLoss()])
        trainer.train()
        if device.type == "cuda":
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

    from lorplan.probe import runner

    if a.threads:
        torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    device = torch.device("cuda:0" if a.device.startswith("cuda") else "cpu")
    plan = runner.make_plan((a.rank,), steps=a.steps, micro_batch=a.micro_batch, eval_every=10**9, device=a.device)
    _, tok = build(plan, device)
    batches = batches_for(plan, tok, a.steps)
    tokens = sum(sum(f.length for f in b) for b in batches)
    print(f"model all-MiniLM-L6-v2 (seq-cls), LoRA r={a.rank} all-linear, micro-batch {a.micro_batch}, "
          f"{a.steps} steps, {tokens} tokens, device {device}, threads {torch.get_num_threads()}, "
          f"precision {'bf16 autocast' if device.type == 'cuda' else 'fp32'}")
    warm = max(3, a.steps // 8)
    run_probe_loop(dataclasses.replace(plan, steps=warm), device, batches[:warm])  # warm-up: allocator, page cache
    wall = {"probe": [], "trainer": []}
    cpu = {"probe": [], "trainer": []}
    for r in range(a.repeats):
        order = (("probe", run_probe_loop), ("trainer", run_trainer))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds, cpu_s, loss = fn(plan, device, batches)
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
