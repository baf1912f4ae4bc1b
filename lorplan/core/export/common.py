"""Spellings shared by the YAML exporters (optimizer names, dataset shapes)."""

from __future__ import annotations

from pathlib import Path

# lorplan optimizer -> transformers TrainingArguments.optim (OptimizerNames in transformers training_args.py)
HF_OPTIM = {
    "adamw": "adamw_torch",
    "adamw-8bit": "adamw_bnb_8bit",
    "paged-adamw-8bit": "paged_adamw_8bit",
    "sgd": "sgd",
    "sgd-momentum": "sgd",
}


def optimizer_warnings(plan, tool: str) -> list[str]:
    if plan.training.optimizer == "sgd-momentum":
        return [f"{tool}: optimizer sgd-momentum is written as sgd; add momentum through the tool's optim args"]
    return []


def is_json_file(path: str) -> bool:
    return Path(path).suffix.lower() in (".json", ".jsonl")


def common_lora_warnings(plan, tool: str, *, patterns: bool, layers: bool, bias: bool) -> list[str]:
    """What a tool without rank/alpha patterns, a layer subset or LoRA bias cannot express."""
    lo = plan.lora
    out: list[str] = []
    if not patterns and lo.rank_pattern:
        out.append(f"{tool} has no rank_pattern: the per-module ranks {dict(lo.rank_pattern)} are not applied "
                   f"(every module gets r={lo.r})")
    if not patterns and lo.alpha_pattern:
        out.append(f"{tool} has no alpha_pattern: the per-module alphas {dict(lo.alpha_pattern)} are not applied")
    if not layers and lo.layers_to_transform:
        out.append(f"{tool} has no layers_to_transform: adapters go on every layer, not only "
                   f"{list(lo.layers_to_transform)}")
    if not bias and lo.bias != "none":
        out.append(f"{tool} always uses bias=\"none\": lora.bias = {lo.bias!r} is not applied")
    if plan.model.task != "causal-lm":
        out.append(f"{tool} trains causal language models; this plan is {plan.model.task}")
    return out
