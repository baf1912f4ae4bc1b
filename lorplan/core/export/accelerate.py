"""accelerate config export: the YAML `accelerate launch --config_file` reads (accelerate
src/accelerate/commands/config/config_args.py ClusterConfig), for DDP, FSDP or DeepSpeed ZeRO-2/3.
"""

from __future__ import annotations

from typing import Any

from lorplan.core.export import ExportResult, dump_yaml, output_name
from lorplan.core.vocab import (
    ACCELERATE_DISTRIBUTED_TYPE,
    ACCELERATE_MIXED_PRECISION,
    ZERO_STAGE,
    ExportFormat,
    Sharding,
)


def accelerate_config(plan) -> tuple[dict[str, Any], list[str]]:
    """The accelerate ClusterConfig dict for this plan, and the warnings."""
    hw, t = plan.hardware, plan.training
    warnings: list[str] = []
    gpus = hw.gpus
    if gpus <= 1:
        warnings.append(f"hardware.gpus is {gpus}: one process, accelerate adds nothing here")
    sharding = hw.sharding
    if sharding == Sharding.NONE and gpus > 1:
        sharding = Sharding.DDP
        warnings.append(f"hardware.sharding is none with {gpus} GPUs: written as data parallel (MULTI_GPU)")
    cfg: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": ACCELERATE_DISTRIBUTED_TYPE[sharding] if gpus > 1 or sharding != Sharding.NONE else "NO",
        "downcast_bf16": "no",
        "enable_cpu_affinity": False,
        "gpu_ids": "all",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": ACCELERATE_MIXED_PRECISION[t.precision],
        "num_machines": 1,
        "num_processes": max(1, gpus),
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": gpus == 0,
    }
    if gpus == 0:
        cfg["distributed_type"] = "NO"
    if sharding == Sharding.FSDP and gpus > 0:
        cfg["fsdp_config"] = {
            "fsdp_version": 1,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_forward_prefetch": False,
            "fsdp_offload_params": False,
            "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",
            "fsdp_sync_module_states": True,
            # LoRA leaves most parameters frozen: FSDP1 needs the original parameters to mix requires_grad
            "fsdp_use_orig_params": True,
        }
        if plan.quantization.load_in_4bit:
            warnings.append("QLoRA under FSDP: load with bnb_4bit_quant_storage = the compute dtype "
                            "(lorplan train does this)")
    elif sharding in ZERO_STAGE and gpus > 0:
        stage = ZERO_STAGE[sharding]
        cfg["deepspeed_config"] = {
            "gradient_accumulation_steps": t.gradient_accumulation,
            "gradient_clipping": 1.0,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": stage == 3,
            "zero3_save_16bit_model": stage == 3,
            "zero_stage": stage,
        }
        warnings.append("DeepSpeed must be installed (pip install deepspeed) on the training machine")
    return cfg, warnings


def export_accelerate(plan) -> ExportResult:
    cfg, warnings = accelerate_config(plan)
    text = dump_yaml("accelerate config written by lorplan (accelerate launch --config_file THIS.yaml ...)",
                     cfg, warnings)
    fmt = ExportFormat.ACCELERATE
    return ExportResult(fmt.value, {output_name(fmt): text}, tuple(warnings))
