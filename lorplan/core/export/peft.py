"""peft export: an adapter_config.json that `peft.LoraConfig.from_pretrained(folder)` and `LoraConfig(**d)`
load, plus bnb_config.json with the BitsAndBytesConfig kwargs when the base is quantized.

Field names: huggingface/peft src/peft/tuners/lora/config.py (LoraConfig) and src/peft/config.py (PeftConfig);
BitsAndBytesConfig: transformers src/transformers/utils/quantization_config.py.
"""

from __future__ import annotations

import json
from typing import Any

from lorplan.core.export import ExportResult
from lorplan.core.export.common import ROPE_SCALING_TYPE, rope_scaling_warning
from lorplan.core.vocab import PEFT_TASK_TYPE, SHARDED, ExportFormat, LoraInit


def peft_target_modules(plan) -> str | list[str]:
    """peft spells "every linear layer but the output head" as the string "all-linear"."""
    tm = list(plan.lora.target_modules)
    return "all-linear" if tm == ["all-linear"] else tm


def lora_config_kwargs(plan) -> dict[str, Any]:
    """Keyword arguments of peft.LoraConfig for this plan, every field written explicitly."""
    lo = plan.lora
    return {
        "peft_type": "LORA",
        "task_type": PEFT_TASK_TYPE[plan.model.task],
        "base_model_name_or_path": plan.model.source,
        "revision": plan.model.revision,
        "inference_mode": False,
        "r": lo.r,
        "lora_alpha": lo.alpha,
        "lora_dropout": lo.dropout,
        "target_modules": peft_target_modules(plan),
        "layers_to_transform": list(lo.layers_to_transform) or None,
        "layers_pattern": None,
        "rank_pattern": dict(lo.rank_pattern),
        "alpha_pattern": dict(lo.alpha_pattern),
        "use_rslora": lo.use_rslora,
        "use_dora": lo.use_dora,
        "init_lora_weights": lo.init_lora_weights,
        "modules_to_save": list(lo.modules_to_save) or None,
        "bias": lo.bias,
        "fan_in_fan_out": False,
        # peft refuses init "loftq" without a LoftQConfig: peft's defaults (4 bits, one iteration), spelled out
        "loftq_config": {"loftq_bits": 4, "loftq_iter": 1} if lo.init_lora_weights == LoraInit.LOFTQ else {},
    }


def bnb_config_kwargs(plan) -> dict[str, Any] | None:
    """BitsAndBytesConfig kwargs (all four fields explicit; transformers' own defaults are fp4 + fp32), or None."""
    q = plan.quantization
    if not (q.load_in_4bit or q.load_in_8bit):
        return None
    return {
        "load_in_4bit": q.load_in_4bit,
        "load_in_8bit": q.load_in_8bit,
        "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
        "bnb_4bit_use_double_quant": q.bnb_4bit_use_double_quant,
        "bnb_4bit_compute_dtype": q.bnb_4bit_compute_dtype,
    }


def export_peft(plan) -> ExportResult:
    files = {"adapter_config.json": json.dumps(lora_config_kwargs(plan), indent=2) + "\n"}
    bnb = bnb_config_kwargs(plan)
    if bnb is not None:
        files["bnb_config.json"] = json.dumps(bnb, indent=2) + "\n"
    warnings: list[str] = []
    if plan.hardware.sharding in SHARDED and plan.quantization.load_in_4bit:
        warnings.append(
            "4-bit with FSDP/ZeRO needs BitsAndBytesConfig(bnb_4bit_quant_storage=<compute dtype>) when loading"
        )
    warnings += rope_scaling_warning(
        plan, "peft", "an adapter config cannot carry it: load the model with "
        f"rope_parameters={{'rope_type': '{ROPE_SCALING_TYPE}', 'factor': {plan.model.rope_scaling}}} added to its "
        "config (transformers' AutoConfig, before from_pretrained)")
    if warnings:
        files["LORPLAN_WARNINGS.txt"] = "".join(f"WARNING: {w}\n" for w in warnings)
    return ExportResult(ExportFormat.PEFT.value, files, tuple(warnings), folder=True)
