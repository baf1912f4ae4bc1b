"""axolotl YAML export (axolotl-ai-cloud/axolotl src/axolotl/utils/schemas/{peft,config,training,datasets}.py).

axolotl spells all-linear as `lora_target_linear: true`, QLoRA as `adapter: qlora` + `load_in_4bit: true`, and
fixes nf4 + double quantization unless `bnb_config_kwargs` overrides them: we write them all explicitly.
Checked against axolotl 0.21.0 (transformers 5.20.1, peft 0.21.2) through its own loader's validation
(prepare_plugins + validate_config) and the code that reads each key (loaders/adapter.py, loaders/utils.py).
The config is built table by table (model, LoRA, data (axolotl_data), training, sharding), in the order
axolotl's examples use; each part appends what axolotl cannot express to the shared warnings.
"""

from __future__ import annotations

from typing import Any

from lorplan.core.export import ExportResult, dump_yaml, kbit, output_name
from lorplan.core.export.axolotl_data import data_config
from lorplan.core.export.common import (
    ROPE_SCALING_TYPE,
    common_lora_warnings,
    model_config,
    model_rope_theta,
    optimizer_warnings,
)
from lorplan.core.export.rope import config_edit, rope_layout
from lorplan.core.plan.build import prepares_kbit
from lorplan.core.units import format_bytes
from lorplan.core.vocab import (
    ATTN_IMPLEMENTATION,
    AXOLOTL_LOSS_PLUGIN,
    HF_OPTIM,
    ZERO_STAGE,
    DType,
    ExportFormat,
    LoraInit,
    LossKernel,
    Optimizer,
    Sharding,
)

# axolotl: FSDP2 cannot shard bitsandbytes' 8-bit AdamW; torchao's 8-bit AdamW is its replacement there.
_FSDP_ADAMW_8BIT = "adamw_torch_8bit"


def _int_alpha(value, what: str, warnings: list[str]):
    """axolotl types alphas as integers: integral values are written as ints, others rounded with a warning."""
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        written = max(1, round(value))
        warnings.append(f"axolotl needs an integer {what}: {value} written as {written}")
        return written
    return value


# The text configs whose rope_parameters field is typed per layer type (transformers 5.25's ModernBertConfig and
# ModernBertDecoderConfig: dict[Literal["full_attention", "sliding_attention"], dict]): a flat rope_scaling set on
# the loaded config is refused (StrictDataclassFieldValidationError), so axolotl's setattr of it fails the load.
# tests/core/test_rope_export_advice.py checks the overrides of every per-layer-type class against transformers.
TYPED_ROPE_PARAMETERS = frozenset({"modernbert", "modernbert-decoder"})


def _rope_overrides(plan, warnings: list[str]) -> dict[str, Any] | None:
    """The plan's linear RoPE scaling as axolotl's overrides_of_model_config, which it applies by setattr on the
    loaded model config (loaders/utils.py load_model_config). transformers 5 reads RoPE from rope_parameters alone:
    setting rope_scaling there replaces the whole dict, and a dict without rope_type and rope_theta fails the
    model's build (KeyError 'rope_type', then None ** tensor). So rope_parameters is written whole, with the model's
    own rope_theta, after rope_scaling (the key transformers 4 reads; on 5 the later key wins).

    A model with RoPE per layer type (Gemma 3) gets its rope_parameters per layer type, the full-attention layers
    scaled, each with its own base: a flat one fails its build (KeyError 'full_attention'); ModernBERT's alone, no
    rope_scaling, which its typed config refuses (TYPED_ROPE_PARAMETERS). A multimodal model's
    language model reads text_config, which no top-level override reaches: None, and a warning naming the
    config.json edit (rope.config_edit)."""
    layout = rope_layout(plan)
    factor = plan.model.rope_scaling
    if layout.text_config:
        warnings.append(f"overrides_of_model_config left out: axolotl sets it on the model's top config, which "
                        f"the language model of {plan.model.source!r} does not read (it reads text_config): "
                        f"{config_edit(plan, layout)} (a local copy) to train the plan's RoPE scaling")
        return None
    rope_scaling = {"type": ROPE_SCALING_TYPE, "factor": factor}
    if layout.per_layer is not None:
        if layout.model_type in TYPED_ROPE_PARAMETERS:  # setattr of a flat rope_scaling fails the load
            return {"rope_parameters": layout.per_layer}
        return {"rope_scaling": rope_scaling, "rope_parameters": layout.per_layer}
    params: dict[str, Any] = {"rope_type": ROPE_SCALING_TYPE, "factor": factor}
    theta = model_rope_theta(plan)
    if theta is not None:
        params["rope_theta"] = theta
    else:
        warnings.append(f"overrides_of_model_config.rope_parameters: add rope_theta (the base model's, from its "
                        f"config.json; lorplan found no config for {plan.model.source!r}): transformers 5 fails to "
                        "build the model without it")
    return {"rope_scaling": rope_scaling, "rope_parameters": params}


def _model(plan, warnings: list[str]) -> dict[str, Any]:
    """The base model and its bitsandbytes loading."""
    q = plan.quantization
    cfg: dict[str, Any] = {
        "base_model": plan.model.source,
        "revision_of_model": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code,
        "load_in_8bit": q.load_in_8bit,
        "load_in_4bit": q.load_in_4bit,
        "adapter": "qlora" if q.load_in_4bit else "lora",
    }
    if plan.model.rope_scaling is not None:  # axolotl sets these on the model config before loading
        overrides = _rope_overrides(plan, warnings)
        if overrides is not None:
            cfg["overrides_of_model_config"] = overrides
    if q.load_in_4bit:
        cfg["bnb_config_kwargs"] = {
            "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
            "bnb_4bit_use_double_quant": q.bnb_4bit_use_double_quant,
            "bnb_4bit_compute_dtype": q.bnb_4bit_compute_dtype,
        }
    return cfg


def _lora(plan, warnings: list[str]) -> dict[str, Any]:
    """The adapter: rank, alpha, targets, patterns, layers and initialisation."""
    lo = plan.lora
    cfg: dict[str, Any] = {
        "lora_r": lo.r,
        "lora_alpha": _int_alpha(lo.alpha, "lora_alpha", warnings),
        "lora_dropout": lo.dropout,
    }
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
    if lo.init_lora_weights is False:  # loaders/adapter.py passes it to peft only `if cfg.peft_init_lora_weights`
        warnings.append("axolotl drops peft_init_lora_weights: false (it passes only a true value on to peft): "
                        "the adapter starts from peft's default init (B = 0), not the plan's random B")
    if lo.init_lora_weights == LoraInit.LOFTQ:
        cfg["peft"] = {"loftq_config": {"loftq_bits": 4}}
    cfg.update(_lora_kernels(plan, warnings))
    return cfg


# axolotl 0.21's fused Triton LoRA kernels (monkeypatch/lora_kernels.py, kernels/lora.py), which it turns on
# when these are unset (utils/schemas/validation.py lora_kernels_auto_enable), except for 8-bit LoRA and
# trust_remote_code models
LORA_KERNEL_FLAGS = ("lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel")


def _lora_kernels(plan, warnings: list[str]) -> dict[str, Any]:
    """The LoRA kernel flags: left unset (axolotl turns the kernels on, with a note) when they compute the plan's
    LoRA, written false when they would not. They take bias, DoRA and per-module ranks and alphas (each module's
    own A, B and scaling), but with dropout their MLP kernel feeds down_proj's LoRA the undropped hidden state and
    gate/up (and q/k/v) share one dropout mask, where peft draws one per module: another regulariser."""
    lo, q = plan.lora, plan.quantization
    if (q.load_in_8bit and not q.load_in_4bit) or plan.model.trust_remote_code:
        return dict.fromkeys(LORA_KERNEL_FLAGS, False)  # axolotl leaves them off here; said, not left to it
    if lo.dropout > 0:
        warnings.append(f"lora_*_kernel: false: axolotl's fused LoRA kernels (on by default) apply lora.dropout = "
                        f"{lo.dropout:g} differently from peft (none on down_proj's LoRA input, one mask shared by "
                        "gate/up and by q/k/v), so they are off; the plan's memory is then what it priced. With "
                        "dropout 0 the kernels would be on")
        return dict.fromkeys(LORA_KERNEL_FLAGS, False)
    warnings.append("lora_*_kernel left unset: axolotl turns on its fused Triton LoRA kernels (MLP, QKV, O, "
                    "embedding) where it supports the model; they compute the same LoRA as peft's layers (dropout "
                    "0) and keep fewer activations, so the plan's memory, priced with peft's layers, should be an "
                    "upper bound (lorplan has not measured them). Set them to false to train what the plan priced")
    return {}


def _training(plan, warnings: list[str]) -> dict[str, Any]:
    """Batch, schedule, optimizer, precision, attention and checkpointing."""
    t = plan.training
    cfg: dict[str, Any] = {
        "micro_batch_size": t.micro_batch,
        "gradient_accumulation_steps": t.gradient_accumulation,
    }
    if t.max_steps is not None:
        cfg["max_steps"] = t.max_steps
    else:
        cfg["num_epochs"] = t.epochs
    cfg["learning_rate"] = t.learning_rate
    cfg["lr_scheduler"] = t.lr_scheduler
    cfg["warmup_ratio"] = t.warmup_ratio
    cfg["optimizer"] = HF_OPTIM[t.optimizer]
    if plan.hardware.sharding == Sharding.FSDP and t.optimizer == Optimizer.ADAMW_8BIT:
        cfg["optimizer"] = _FSDP_ADAMW_8BIT
        warnings.append(f"adamw-8bit under FSDP is written as {_FSDP_ADAMW_8BIT} (torchao), as axolotl requires")
    cfg["weight_decay"] = t.weight_decay
    cfg["gradient_checkpointing"] = t.gradient_checkpointing
    if t.gradient_checkpointing:
        cfg["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    cfg["bf16"] = t.precision == DType.BF16
    cfg["fp16"] = t.precision == DType.FP16
    cfg["tf32"] = False
    cfg["attn_implementation"] = ATTN_IMPLEMENTATION[t.attention]
    cfg["seed"] = t.seed
    cfg["output_dir"] = t.output_dir
    cfg["save_steps"] = t.save_steps
    cfg["logging_steps"] = t.logging_steps
    return cfg


def _loss(plan, warnings: list[str]) -> dict[str, Any]:
    """The plugin that computes the loss the plan was priced with (plan.estimate.loss): Liger's fused linear
    cross-entropy or Apple's cut cross-entropy; nothing for the standard loss."""
    kernel = plan.estimate.loss if plan.estimate is not None else None
    pair = AXOLOTL_LOSS_PLUGIN.get(kernel) if kernel else None
    if pair is None:
        return {}
    if kernel == LossKernel.CUT_CE and plan.training.precision == DType.FP32:
        # CutCrossEntropyArgs.check_dtype_is_half refuses the whole config otherwise
        warnings.append("axolotl's cut cross-entropy needs bf16 or fp16 training: not enabled for this fp32 plan, "
                        "so the standard loss runs, with more memory than the plan priced")
        return {}
    plugin, switch = pair
    return {"plugins": [plugin], switch: True}


def _sharding(plan, warnings: list[str]) -> dict[str, Any]:
    """DeepSpeed (axolotl's bundled ZeRO configs) or FSDP2; nothing for one GPU or plain data parallel."""
    sharding = plan.hardware.sharding
    if sharding in ZERO_STAGE:
        stage = ZERO_STAGE[sharding]
        warnings.append(f"deepspeed points at axolotl's bundled deepspeed_configs/zero{stage}.json "
                        "(relative to an axolotl checkout)")
        return {"deepspeed": f"deepspeed_configs/zero{stage}.json"}
    if sharding == Sharding.FSDP:
        warnings.append("fsdp_config: add transformer_layer_cls_to_wrap (the model's decoder layer class, "
                        "e.g. LlamaDecoderLayer) if axolotl cannot infer it")
        return {
            "fsdp_version": 2,
            "fsdp_config": {
                "offload_params": False,
                # axolotl: FSDP2 + 4-bit with rank-0 loading deadlocks the state-dict scatter
                "cpu_ram_efficient_loading": not plan.quantization.load_in_4bit,
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "state_dict_type": "SHARDED_STATE_DICT",
                "reshard_after_forward": True,
            },
        }
    return {}


def _axolotl_prepares(plan) -> bool:
    """Whether axolotl calls peft's prepare_model_for_kbit_training on the exported config: lora or qlora on a
    4- or 8-bit base, unless it skips it (loaders/model.py ModelLoader._prepare_model_for_quantization: Qwen (1)
    with 8-bit LoRA, LoftQ with 8-bit LoRA, QLoRA under FSDP, FSDP with cpu_ram_efficient_loading (written true
    for 8-bit: _sharding), DeepSpeed ZeRO-3). No config key turns it off otherwise."""
    q = plan.quantization
    if not (q.load_in_4bit or q.load_in_8bit):
        return False
    eight_bit_lora = not q.load_in_4bit
    if eight_bit_lora and (model_config(plan) or {}).get("model_type") == "qwen":
        return False
    if eight_bit_lora and plan.lora.init_lora_weights == LoraInit.LOFTQ:
        return False
    return plan.hardware.sharding not in (Sharding.FSDP, Sharding.ZERO3)


def _kbit(plan, warnings: list[str], spec=None) -> None:
    """What axolotl does with the quantized base's unquantized weights, against the plan's pricing. axolotl calls
    prepare_model_for_kbit_training (its fp32 up-cast) whatever the config says (_axolotl_prepares), then casts the
    modules named "norm" and the embedding layers back to the training dtype for any lora/qlora adapter
    (loaders/model.py ModelLoader._configure_embedding_dtypes, _convert_embedding_modules_dtype): what stays fp32
    is the rest of what bitsandbytes leaves unquantized (biases, MoE routers and fused experts). spec: the plan's
    model's, for the figures (None: read here, kbit)."""
    if not kbit.upcast_matters(plan):
        return
    dtype = plan.training.precision
    if not prepares_kbit(plan):  # priced with --no-prepare-kbit
        if not _axolotl_prepares(plan):
            return  # axolotl skips the call here too
        left = kbit.left_in_fp32(plan, spec)
        if left == 0:
            return  # the cast back leaves nothing in fp32: the plan's dtypes
        line = ("axolotl calls peft's prepare_model_for_kbit_training on a quantized base (loaders/model.py; no key "
                "turns it off), which this plan was priced without (--no-prepare-kbit): it casts the norms and "
                f"embedding layers back to {dtype} afterwards, but the base's other unquantized weights (biases, "
                "MoE routers and fused experts) stay in fp32")
        if left is not None:
            totals = kbit.totals(plan, spec)
            line += (f", about {format_bytes(kbit.extra_fp32_bytes(plan, left))} more weights per GPU than the "
                     "plan priced")
            if totals is not None:
                line += (f" (bitsandbytes computes with biases in {dtype}; at most the memory model's figure with "
                         f"the full up-cast, {format_bytes(totals[0])} per GPU against the plan's "
                         f"{format_bytes(totals[1])})")
        warnings.append(line)
        return
    kept = 0
    if _axolotl_prepares(plan):
        lead = (f"axolotl calls peft's prepare_model_for_kbit_training, then casts the norms and embedding layers "
                f"back to {dtype} (loaders/model.py), leaving the other unquantized weights (biases, MoE routers and "
                "fused experts) in fp32")
        kept = kbit.left_in_fp32(plan, spec) or 0  # in its figure: fused experts can be tens of GiB
    else:
        lead = ("axolotl skips peft's prepare_model_for_kbit_training here (loaders/model.py: under FSDP and "
                "ZeRO-3, and for 8-bit LoRA with LoftQ or on Qwen (1)), leaving the base's unquantized weights in "
                f"{dtype}")
    warnings += kbit.priced_less_note(plan, lead, kept, "axolotl", spec)


def export_axolotl(plan, spec=None) -> ExportResult:
    """The plan as an axolotl config (`axolotl train THIS.yaml`), with what axolotl cannot express as warnings."""
    warnings = common_lora_warnings(plan, "axolotl", patterns=True, layers=True, bias=False)
    warnings += optimizer_warnings(plan, "axolotl")
    # the parts run in this order, so the warnings come out in the order of the keys they concern
    cfg = {**_model(plan, warnings), **_lora(plan, warnings), **data_config(plan, warnings),
           **_training(plan, warnings), **_loss(plan, warnings), **_sharding(plan, warnings)}
    _kbit(plan, warnings, spec)
    fmt = ExportFormat.AXOLOTL
    text = dump_yaml("axolotl config written by lorplan", cfg, warnings)
    return ExportResult(fmt.value, {output_name(fmt): text}, tuple(warnings))
