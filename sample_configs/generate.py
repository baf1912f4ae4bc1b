"""Regenerate the sample plans from lorplan's own memory model: python sample_configs/generate.py

Each sample is plan_from_setup(load_spec(model), TrainingSetup(...), rank) with the budget of its card, so its
[estimate] is exactly what `lorplan plan` prints for the same setup. tests/test_sample_configs.py recomputes
every estimate and fails when the memory model changed: run this script again then.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import load_spec
from lorplan.core.plan import HardwareSection, plan_from_setup, write_plan
from lorplan.core.units import parse_size

HERE = Path(__file__).resolve().parent

# name: (model, TrainingSetup kwargs, rank, alpha, budget, training overrides, data (path, schema, eval_split))
SAMPLES = {
    "llama-3.1-8b-qlora-24gb": (
        "meta-llama/Llama-3.1-8B",
        dict(quant="nf4", double_quant=True, grad_checkpointing=True, seq_len=2048, micro_batch=2,
             optimizer="paged-adamw-8bit", lora_dropout=0.05),
        16, 32, "24GiB",
        dict(learning_rate=2e-4, gradient_accumulation=8, epochs=2.0),
        ("data/train.jsonl", "messages", 0.02),
    ),
    "qwen2.5-7b-lora-80gb": (
        "Qwen/Qwen2.5-7B",
        dict(seq_len=4096, micro_batch=4, grad_checkpointing=True, lora_dropout=0.05),
        32, 64, "80GiB",
        dict(learning_rate=1e-4, gradient_accumulation=4, epochs=3.0, packing=True),
        ("data/train.jsonl", "prompt-completion", 0.02),
    ),
    "mistral-7b-fsdp-2gpu": (
        "mistralai/Mistral-7B-v0.3",
        dict(seq_len=2048, micro_batch=2, grad_checkpointing=True, gpus=2, sharding="fsdp"),
        16, 32, "24GiB",
        dict(learning_rate=2e-4, gradient_accumulation=8, epochs=1.0),
        ("data/train.jsonl", "messages", 0.02),
    ),
    "smollm2-135m-cpu": (
        "HuggingFaceTB/SmolLM2-135M",
        dict(base_dtype="fp32", seq_len=512, micro_batch=4, kernels="cpu"),
        8, 16, None,
        dict(learning_rate=3e-4, gradient_accumulation=2, max_steps=200, save_steps=50, logging_steps=5,
             precision="fp32", warmup_ratio=0.05),
        ("data/train.jsonl", "prompt-completion", 0.05),
    ),
    "minilm-classification": (
        "sentence-transformers/all-MiniLM-L6-v2",
        dict(targets=LoraTargets(modules=("attention",)), seq_len=256, micro_batch=32, lora_dropout=0.1),
        8, 16, "16GiB",
        dict(learning_rate=5e-4, epochs=5.0, lr_scheduler="linear", warmup_ratio=0.06, weight_decay=0.01),
        ("data/labels.jsonl", "text", 0.1),
    ),
    "llama-3.2-3b-lora-16gb": (
        "meta-llama/Llama-3.2-3B",
        dict(seq_len=2048, micro_batch=1, grad_checkpointing=True, optimizer="adamw-8bit"),
        16, 32, "16GiB",
        dict(learning_rate=2e-4, gradient_accumulation=16, epochs=2.0),
        ("data/train.jsonl", "alpaca", 0.02),
    ),
    "qwen3-8b-qlora-rank-pattern-24gb": (
        "Qwen/Qwen3-8B",
        dict(quant="nf4", double_quant=True, grad_checkpointing=True, seq_len=4096, micro_batch=1,
             targets=LoraTargets(rank_pattern={"down_proj": 32})),
        16, 16, "24GiB",
        dict(learning_rate=1e-4, gradient_accumulation=16, epochs=1.0),
        ("data/train.jsonl", "messages", 0.02),
    ),
}

# Samples whose loss covers every token, prompts included (data.train_on = "all"); the rest train completions.
TRAIN_ON_ALL = {"llama-3.2-3b-lora-16gb"}


def build(name: str):
    """The Plan for one sample (without writing it)."""
    model, setup_kw, rank, alpha, budget, training, (data, schema, eval_split) = SAMPLES[name]
    if setup_kw.get("micro_batch", 1) > 1 and not training.get("packing", False):
        setup_kw = {**setup_kw, "padding_mask": True}  # lorplan train pads batches of several sequences
    spec = load_spec(model)
    plan = plan_from_setup(
        spec, TrainingSetup(**setup_kw), rank, alpha, source=model,
        budget_bytes=parse_size(budget) if budget else None,
        data_path=data, data_schema=schema, eval_split=eval_split,
        train_on="all" if name in TRAIN_ON_ALL else "completion",
        training={"output_dir": f"outputs/{name}", **training},
    )
    if name.endswith("-cpu"):
        plan = replace(plan, hardware=HardwareSection(gpus=0, sharding="none"))
    return plan


def main() -> int:
    for name in SAMPLES:
        path = write_plan(build(name), HERE / f"{name}.toml", force=True)
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
