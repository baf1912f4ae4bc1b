"""LLaMA-Factory YAML export (hiyouga/LLaMA-Factory src/llamafactory/hparams/{finetuning,model,data}_args.py).

LLaMA-Factory spells all-linear as `lora_target: all`, defaults alpha to 2·rank and double quantization to
true, and turns gradient checkpointing off with `disable_gradient_checkpointing`; every value is written out.
It has no rank_pattern, alpha_pattern, layer subset or LoRA bias: those become warnings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lorplan.core.export import ExportResult, dump_yaml
from lorplan.core.export.common import HF_OPTIM, common_lora_warnings, optimizer_warnings

_FLASH = {"sdpa": "sdpa", "flash": "fa2", "eager": "disabled"}
_COLUMNS = {
    "text": {"formatting": "alpaca", "columns": {"prompt": "text"}},
    "prompt-completion": {"formatting": "alpaca", "columns": {"prompt": "prompt", "response": "completion"}},
    "alpaca": {"formatting": "alpaca"},
    "messages": {
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                 "system_tag": "system"},
    },
}


def export_llamafactory(plan) -> ExportResult:
    lo, q, t = plan.lora, plan.quantization, plan.training
    warnings = common_lora_warnings(plan, "LLaMA-Factory", patterns=False, layers=False, bias=False)
    warnings += optimizer_warnings(plan, "LLaMA-Factory")
    cfg: dict[str, Any] = {
        "model_name_or_path": plan.model.source,
        "model_revision": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": lo.r,
        "lora_alpha": lo.alpha,
        "lora_dropout": lo.dropout,
        "lora_target": "all" if tuple(lo.target_modules) == ("all-linear",) else ",".join(lo.target_modules),
    }
    if lo.modules_to_save:
        cfg["additional_target"] = ",".join(lo.modules_to_save)
    cfg["use_rslora"] = lo.use_rslora
    cfg["use_dora"] = lo.use_dora
    init = lo.init_lora_weights
    pissa = isinstance(init, str) and init.startswith("pissa")
    cfg["pissa_init"] = pissa
    if pissa and (m := re.fullmatch(r"pissa_niter_(\d+)", init)):
        cfg["pissa_iter"] = int(m.group(1))
    elif pissa:
        cfg["pissa_iter"] = -1  # LLaMA-Factory: -1 = full SVD, like peft's "pissa"
    if not pissa and init is not True:
        warnings.append(f"LLaMA-Factory cannot set init_lora_weights = {init!r}; it uses peft's default (True)")
    if q.load_in_4bit or q.load_in_8bit:
        cfg["quantization_method"] = "bnb"
        cfg["quantization_bit"] = 4 if q.load_in_4bit else 8
        cfg["quantization_type"] = q.bnb_4bit_quant_type
        cfg["double_quantization"] = q.bnb_4bit_use_double_quant
        wanted = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[t.precision]
        if q.load_in_4bit and q.bnb_4bit_compute_dtype != wanted:
            warnings.append(f"LLaMA-Factory takes the 4-bit compute dtype from the precision ({wanted}), "
                            f"not {q.bnb_4bit_compute_dtype}")
    data_path = Path(plan.data.path)
    cfg["dataset"] = "lorplan_train"
    cfg["dataset_dir"] = str(data_path.parent) if str(data_path.parent) else "."
    schema = plan.data.schema if plan.data.schema != "auto" else "text"
    entry = {"file_name": data_path.name, **_COLUMNS.get(schema, {})}
    warnings.append("register the data in dataset_dir/dataset_info.json as "
                    + json.dumps({"lorplan_train": entry}))
    if plan.data.schema in ("auto", "tokenized"):
        warnings.append(f"data.schema {plan.data.schema!r}: LLaMA-Factory needs text columns; check the entry")
    cfg["template"] = "default"
    warnings.append("template: set your model's chat template (llama3, qwen, mistral, ...) instead of default")
    # LLaMA-Factory's DataArguments.__post_init__ takes one token off cutoff_len when packing
    cfg["cutoff_len"] = t.seq_len + 1 if t.packing else t.seq_len
    cfg["packing"] = t.packing
    cfg["val_size"] = plan.data.eval_split
    cfg["train_on_prompt"] = plan.data.train_on == "all"
    cfg["per_device_train_batch_size"] = t.micro_batch
    cfg["gradient_accumulation_steps"] = t.gradient_accumulation
    cfg["learning_rate"] = t.learning_rate
    cfg["lr_scheduler_type"] = t.lr_scheduler
    cfg["warmup_ratio"] = t.warmup_ratio
    warnings.append(f"with transformers >= 5, which dropped warmup_ratio, write warmup_steps: {t.warmup_ratio} "
                    "(a float below 1 is a ratio there)")
    if t.max_steps is not None:
        cfg["max_steps"] = t.max_steps
    else:
        cfg["num_train_epochs"] = t.epochs
    cfg["optim"] = HF_OPTIM[t.optimizer]
    cfg["weight_decay"] = t.weight_decay
    cfg["disable_gradient_checkpointing"] = not t.gradient_checkpointing
    cfg["flash_attn"] = _FLASH[t.attention]
    cfg["bf16"] = t.precision == "bf16"
    cfg["fp16"] = t.precision == "fp16"
    cfg["seed"] = t.seed
    cfg["output_dir"] = t.output_dir
    cfg["save_steps"] = t.save_steps
    cfg["logging_steps"] = t.logging_steps
    sharding = plan.hardware.sharding
    if sharding in ("zero2", "zero3"):
        cfg["deepspeed"] = f"examples/deepspeed/ds_z{sharding[-1]}_config.json"
        warnings.append("deepspeed points at LLaMA-Factory's bundled examples/deepspeed config")
    elif sharding == "fsdp":
        warnings.append("LLaMA-Factory runs FSDP through accelerate: launch with the accelerate export "
                        "(accelerate launch --config_file ... src/train.py this.yaml)")
    text = dump_yaml("LLaMA-Factory config written by lorplan (llamafactory-cli train THIS.yaml)", cfg, warnings)
    return ExportResult("llamafactory", {"llamafactory.yaml": text}, tuple(warnings))
