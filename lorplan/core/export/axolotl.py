"""axolotl YAML export (axolotl-ai-cloud/axolotl src/axolotl/utils/schemas/{peft,config,training,datasets}.py).

axolotl spells all-linear as `lora_target_linear: true`, QLoRA as `adapter: qlora` + `load_in_4bit: true`, and
fixes nf4 + double quantization unless `bnb_config_kwargs` overrides them: we write them all explicitly.
"""

from __future__ import annotations

from typing import Any

from lorplan.core.export import ExportResult, dump_yaml
from lorplan.core.export.common import HF_OPTIM, common_lora_warnings, is_json_file, optimizer_warnings


def _dataset(plan, warnings: list[str]) -> dict[str, Any]:
    d = plan.data
    entry: dict[str, Any] = {"path": d.path}
    if is_json_file(d.path):
        entry["ds_type"] = "json"
    schema = d.schema
    if schema == "auto":
        warnings.append("data.schema is auto: written as type completion (field text); set the real type")
        schema = "text"
    if schema == "text":
        entry["type"] = "completion"
        entry["field"] = "text"
    elif schema == "prompt-completion":
        entry["type"] = {
            "field_instruction": "prompt",
            "field_output": "completion",
            "format": "{instruction}",
            "no_input_format": "{instruction}",
        }
    elif schema == "alpaca":
        entry["type"] = "alpaca"
    elif schema == "messages":
        entry["type"] = "chat_template"
        entry["field_messages"] = "messages"
    elif schema == "tokenized":
        warnings.append("pre-tokenized data: axolotl reads input_ids/labels when no dataset type is given")
    return entry


def _int_alpha(value, what: str, warnings: list[str]):
    """axolotl types alphas as integers: integral values are written as ints, others rounded with a warning."""
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        written = max(1, round(value))
        warnings.append(f"axolotl needs an integer {what}: {value} written as {written}")
        return written
    return value


def export_axolotl(plan) -> ExportResult:
    lo, q, t = plan.lora, plan.quantization, plan.training
    warnings = common_lora_warnings(plan, "axolotl", patterns=True, layers=True, bias=False)
    warnings += optimizer_warnings(plan, "axolotl")
    cfg: dict[str, Any] = {
        "base_model": plan.model.source,
        "revision_of_model": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code,
        "load_in_8bit": q.load_in_8bit,
        "load_in_4bit": q.load_in_4bit,
        "adapter": "qlora" if q.load_in_4bit else "lora",
    }
    if q.load_in_4bit:
        cfg["bnb_config_kwargs"] = {
            "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
            "bnb_4bit_use_double_quant": q.bnb_4bit_use_double_quant,
            "bnb_4bit_compute_dtype": q.bnb_4bit_compute_dtype,
        }
    cfg["lora_r"] = lo.r
    cfg["lora_alpha"] = _int_alpha(lo.alpha, "lora_alpha", warnings)
    cfg["lora_dropout"] = lo.dropout
    if tuple(lo.target_modules) == ("all-linear",):
        cfg["lora_target_linear"] = True
    else:
        cfg["lora_target_linear"] = False
        cfg["lora_target_modules"] = list(lo.target_modules)
    if lo.modules_to_save:
        cfg["lora_modules_to_save"] = list(lo.modules_to_save)
    if lo.rank_pattern:
        cfg["lora_rank_pattern"] = dict(lo.rank_pattern)
    if lo.alpha_pattern:
        cfg["lora_alpha_pattern"] = {k: _int_alpha(v, f"alpha for {k!r}", warnings)
                                     for k, v in lo.alpha_pattern.items()}
    if lo.layers_to_transform:
        cfg["peft_layers_to_transform"] = list(lo.layers_to_transform)
    cfg["peft_use_rslora"] = lo.use_rslora
    cfg["peft_use_dora"] = lo.use_dora
    cfg["peft_init_lora_weights"] = lo.init_lora_weights
    if lo.init_lora_weights == "loftq":
        cfg["peft"] = {"loftq_config": {"loftq_bits": 4}}
    cfg["datasets"] = [_dataset(plan, warnings)]
    cfg["val_set_size"] = plan.data.eval_split
    cfg["train_on_inputs"] = plan.data.train_on == "all"
    cfg["sequence_len"] = t.seq_len
    cfg["sample_packing"] = t.packing
    cfg["pad_to_sequence_len"] = t.packing
    cfg["micro_batch_size"] = t.micro_batch
    cfg["gradient_accumulation_steps"] = t.gradient_accumulation
    if t.max_steps is not None:
        cfg["max_steps"] = t.max_steps
    else:
        cfg["num_epochs"] = t.epochs
    cfg["learning_rate"] = t.learning_rate
    cfg["lr_scheduler"] = t.lr_scheduler
    cfg["warmup_ratio"] = t.warmup_ratio
    cfg["optimizer"] = HF_OPTIM[t.optimizer]
    if plan.hardware.sharding == "fsdp" and t.optimizer == "adamw-8bit":
        cfg["optimizer"] = "adamw_torch_8bit"  # axolotl: FSDP2 cannot shard bitsandbytes' 8-bit AdamW
        warnings.append("adamw-8bit under FSDP is written as adamw_torch_8bit (torchao), as axolotl requires")
    cfg["weight_decay"] = t.weight_decay
    cfg["gradient_checkpointing"] = t.gradient_checkpointing
    if t.gradient_checkpointing:
        cfg["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    cfg["bf16"] = t.precision == "bf16"
    cfg["fp16"] = t.precision == "fp16"
    cfg["tf32"] = False
    cfg["attn_implementation"] = {"sdpa": "sdpa", "flash": "flash_attention_2", "eager": "eager"}[t.attention]
    cfg["seed"] = t.seed
    cfg["output_dir"] = t.output_dir
    cfg["save_steps"] = t.save_steps
    cfg["logging_steps"] = t.logging_steps
    sharding = plan.hardware.sharding
    if sharding in ("zero2", "zero3"):
        stage = sharding[-1]
        cfg["deepspeed"] = f"deepspeed_configs/zero{stage}.json"
        warnings.append(f"deepspeed points at axolotl's bundled deepspeed_configs/zero{stage}.json "
                        "(relative to an axolotl checkout)")
    elif sharding == "fsdp":
        cfg["fsdp_version"] = 2
        cfg["fsdp_config"] = {
            "offload_params": False,
            # axolotl: FSDP2 + 4-bit with rank-0 loading deadlocks the state-dict scatter
            "cpu_ram_efficient_loading": not plan.quantization.load_in_4bit,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "state_dict_type": "SHARDED_STATE_DICT",
            "reshard_after_forward": True,
        }
        warnings.append("fsdp_config: add transformer_layer_cls_to_wrap (the model's decoder layer class, "
                        "e.g. LlamaDecoderLayer) if axolotl cannot infer it")
    return ExportResult("axolotl", {"axolotl.yaml": dump_yaml("axolotl config written by lorplan", cfg, warnings)},
                        tuple(warnings))
