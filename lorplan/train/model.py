"""The model of a plan, ready to train: tokenizer, base model (precision, bitsandbytes quantization, attention,
gradient checkpointing) and the LoRA adapter, with target modules resolved by lorplan.core.lora against the
model's spec, so "attention" or "mlp" means here what the planner priced.

Adapters and fully trained modules (a classification head, modules_to_save) are kept in fp32 whatever the
base dtype, as the memory model assumes (peft's autocast_adapter_dtype does it for LoRA weights only).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.vocab import ATTN_IMPLEMENTATION, TORCH_DTYPE, WEIGHT_SHARDED, Attention, DType
from lorplan.train.paths import resolve_path


def _quiet_library_noise() -> None:
    """Silence what the libraries print on every lorplan training or probe though nothing is wrong:
    bitsandbytes' CPU backend asks the hub (through the `kernels` package transformers installs) for a 4-bit
    kernel when it is imported, and lorplan keeps the hub offline, so both packages warn ("Skipping publisher
    trust check", "Failed to load CPU gemm_4bit_forward") and bitsandbytes uses its own kernel anyway; peft
    warns that base_model_name_or_path was "renamed" because lorplan loads the model from its local folder;
    peft reads transformers' deprecated is_gradient_checkpointing (a FutureWarning from the libraries, not
    from lorplan). Everything else they say is left as it is."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    logging.getLogger("kernels._internals.hf_hub").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"The PEFT config's `base_model_name_or_path` was renamed",
                            category=UserWarning)
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


_quiet_library_noise()


def model_folder(model, plan_path: str | None = None) -> Path:
    """The local folder with the weights and tokenizer of `model`: a plan's [model] table (a ModelSection; a
    relative path is found as data paths are) or a name. The one model lookup of `lorplan train` and probes,
    through lorplan.core.model.model_folder: offline, never downloads; BadInput naming the model otherwise."""
    from lorplan.core.model import model_folder as find_folder

    if isinstance(model, str):
        return find_folder(model)
    if model.path is not None:
        return find_folder(str(resolve_path(model.path, plan_path)))
    return find_folder(model.id or "")


def lora_targets(plan):
    """The plan's LoRA targets in lorplan.core.lora's terms (what the planner priced)."""
    from lorplan.core.plan import plan_to_setup

    return plan_to_setup(plan)[1].targets


def lora_config(plan, spec):
    """peft.LoraConfig for the plan: every field from the plan (lorplan.core.export.peft), target_modules
    resolved by lorplan.core.lora.peft_target_modules against `spec`."""
    from peft import LoraConfig

    from lorplan.core.export.peft import lora_config_kwargs
    from lorplan.core.lora import peft_target_modules

    kwargs = lora_config_kwargs(plan)
    kwargs["target_modules"] = peft_target_modules(spec, lora_targets(plan))
    return LoraConfig(**kwargs)


def load_tokenizer(plan, folder: Path):
    """The model's tokenizer, with a pad token (EOS, else UNK) when it has none."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True,
                                            trust_remote_code=plan.model.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise BadInput(f"model {plan.model.source!r}: no usable tokenizer in {folder} "
                       f"({str(exc).splitlines()[0]})") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def _quantization_config(plan):
    import torch
    import transformers

    q = plan.quantization
    # sharded 4-bit weights are stored in the compute dtype, so FSDP / ZeRO-3 can flatten them with the rest
    storage = q.bnb_4bit_compute_dtype if plan.hardware.sharding in WEIGHT_SHARDED else "uint8"
    return transformers.BitsAndBytesConfig(
        load_in_4bit=q.load_in_4bit,
        load_in_8bit=q.load_in_8bit,
        bnb_4bit_quant_type=q.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=q.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=getattr(torch, q.bnb_4bit_compute_dtype),
        bnb_4bit_quant_storage=getattr(torch, storage),
    )


def load_kwargs(plan, device: str, notes: list[str]) -> dict:
    """from_pretrained arguments for the plan on `device` ("cuda" or "cpu"); CPU changes go into notes."""
    import torch

    t, q = plan.training, plan.quantization
    kwargs: dict = {"revision": plan.model.revision, "trust_remote_code": plan.model.trust_remote_code,
                    "local_files_only": True, "attn_implementation": ATTN_IMPLEMENTATION[Attention(t.attention)]}
    if device == "cuda":
        kwargs["dtype"] = getattr(torch, TORCH_DTYPE[DType(t.precision)])
        if q.load_in_4bit or q.load_in_8bit:
            kwargs["quantization_config"] = _quantization_config(plan)
        if plan.hardware.sharding not in WEIGHT_SHARDED:  # sharded runs load on CPU, then shard
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
        return kwargs
    kwargs["dtype"] = torch.float32
    if t.precision != DType.FP32:
        notes.append(f"CPU run: weights and compute in fp32 ({t.precision} autocast is a GPU setting)")
    if q.load_in_4bit or q.load_in_8bit:
        notes.append("CPU run: bitsandbytes quantization skipped (it needs CUDA here)")
    if t.attention == Attention.FLASH:
        kwargs["attn_implementation"] = ATTN_IMPLEMENTATION[Attention.SDPA]
        notes.append("CPU run: flash-attention replaced by SDPA")
    return kwargs


def _enable_checkpointing(model, quantized: bool, enabled: bool):
    from peft import prepare_model_for_kbit_training

    gc_kwargs = {"use_reentrant": False}
    if quantized:
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=enabled,
                                               gradient_checkpointing_kwargs=gc_kwargs)
    if enabled:
        if hasattr(model, "activation_checkpointing_enable"):  # gradient_checkpointing_enable is deprecated
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=gc_kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
        model.enable_input_require_grads()
    return model


def rope_scaled_config(plan, folder: Path, kwargs: dict):
    """The model's config with the plan's linear RoPE scaling (model.rope_scaling) in transformers' rope_parameters
    (positions divided by the factor, Chen et al. 2023, arXiv 2306.15595); from_pretrained then takes it as
    `config`, with num_labels moved onto it."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(str(folder), revision=kwargs["revision"], local_files_only=True,
                                                     trust_remote_code=kwargs["trust_remote_code"])
    params = dict(getattr(config, "rope_parameters", None) or {})
    params.setdefault("rope_theta", getattr(config, "rope_theta", 10000.0))
    params.update(rope_type="linear", factor=float(plan.model.rope_scaling))
    config.rope_parameters = params
    if "num_labels" in kwargs:
        config.num_labels = kwargs.pop("num_labels")
    return config


def build_model(plan, folder: Path, spec, device: str, pad_id: int, notes: list[str]):
    """The peft model of the plan, loaded from `folder` onto `device`, adapters in fp32. Seed first."""
    import torch
    import transformers
    from peft import get_peft_model

    kwargs = load_kwargs(plan, device, notes)
    if plan.model.task == "sequence-classification":
        kwargs["num_labels"] = plan.model.num_labels or 2
        cls = transformers.AutoModelForSequenceClassification
    else:
        cls = transformers.AutoModelForCausalLM
    if getattr(plan.model, "rope_scaling", None) is not None:  # lorplan plan --rope-scaling
        kwargs["config"] = rope_scaled_config(plan, folder, kwargs)
        notes.append(f"RoPE scaled linearly by {plan.model.rope_scaling:g} (rope_parameters)")
    try:
        model = cls.from_pretrained(str(folder), **kwargs)
    except OSError as exc:
        raise BadInput(f"model {plan.model.source!r}: cannot load it ({str(exc).splitlines()[0]})") from None
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = pad_id
    model = _enable_checkpointing(model, "quantization_config" in kwargs, plan.training.gradient_checkpointing)
    model = get_peft_model(model, lora_config(plan, spec))
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model


def adapted_modules(model) -> list[str]:
    """Names (in the base model's terms) of the modules that carry a LoRA adapter."""
    from peft.tuners.lora import LoraLayer

    from lorplan.core.lora import model_path

    return sorted(model_path(n) for n, m in model.named_modules() if isinstance(m, LoraLayer))
