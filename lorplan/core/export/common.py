"""What the YAML exporters share: the optimizer warning, dataset file types and the LoRA features a tool lacks.

How each tool spells an optimizer, dtype or attention implementation is in lorplan.core.vocab.
"""

from __future__ import annotations

from pathlib import Path

from lorplan.core.vocab import ExportFormat, LoraBias, Optimizer, Task


def optimizer_warnings(plan, tool: str) -> list[str]:
    """transformers' optim names have no SGD with momentum: it is written as plain sgd, with this warning."""
    if plan.training.optimizer == Optimizer.SGD_MOMENTUM:
        return [f"{tool}: optimizer sgd-momentum is written as sgd; add momentum through the tool's optim args"]
    return []


# `lorplan plan --rope-scaling F` is linear position interpolation (Chen et al. 2023, arXiv 2306.15595): the type
# every tool spells the same way ("linear" in transformers' rope_parameters, axolotl and LLaMA-Factory).
ROPE_SCALING_TYPE = "linear"


def model_rope_theta(plan) -> float | None:
    """The plan's model's RoPE base (config.json's rope_theta, or rope_parameters.rope_theta as transformers 5
    writes it), read offline from the catalog, the model's folder or the Hugging Face cache; None when lorplan
    finds no config naming the model exactly (a misspelled name that only resolves approximately counts as none)
    or the config has no rope_theta."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model.resolve import resolve_model
    from lorplan.core.model.sources import read_config

    try:
        source = resolve_model(plan.model.source)
        if source.note is not None:
            return None
        cfg = read_config(source.config_path)
    except (BadInput, OSError, ValueError):  # a name no file system takes (a NUL byte, too long): no config
        return None
    for where in (cfg, cfg.get("text_config")):
        if not isinstance(where, dict):
            continue
        params = where.get("rope_parameters")
        theta = where.get("rope_theta", params.get("rope_theta") if isinstance(params, dict) else None)
        if isinstance(theta, (int, float)) and not isinstance(theta, bool):
            return float(theta)
    return None


def rope_scaling_warning(plan, tool: str, how: str) -> list[str]:
    """One line when the plan extends RoPE and `tool` takes it in its own way (`how`)."""
    factor = plan.model.rope_scaling
    if factor is None:
        return []
    return [f"{tool}: the plan extends RoPE by {factor:g} (linear, for seq_len {plan.training.seq_len}); {how}"]


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
    if not bias and lo.bias != LoraBias.NONE:
        out.append(f"{tool} always uses bias=\"none\": lora.bias = {lo.bias!r} is not applied")
    return out


# The trainers whose config trains a causal language model only (axolotl's, LLaMA-Factory's and TRL's SFT configs:
# a `label` column and num_labels have no key there), so a classifier's plan would train something else
CAUSAL_ONLY = {ExportFormat.AXOLOTL: "axolotl", ExportFormat.LLAMAFACTORY: "LLaMA-Factory", ExportFormat.TRL: "TRL"}


def classifier_refusal(plan, fmt: str) -> str | None:
    """Why `fmt` cannot carry this plan (a sequence classifier for a trainer that trains causal LMs only), in one
    sentence naming the formats that do carry it, else None."""
    if plan.model.task == Task.CAUSAL_LM or fmt not in CAUSAL_ONLY:
        return None
    return (f"{CAUSAL_ONLY[ExportFormat(fmt)]} trains no sequence classifier from its config (it would train the "
            "model as a causal language model on the text); a classifier's plan exports --to peft, or trains with "
            "`lorplan train`")
