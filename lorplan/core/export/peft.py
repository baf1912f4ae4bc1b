"""peft export: an adapter_config.json that `peft.LoraConfig.from_pretrained(folder)` and `LoraConfig(**d)`
load, plus bnb_config.json with the BitsAndBytesConfig kwargs when the base is quantized, and for a sequence
classifier classifier_config.json: the AutoModelForSequenceClassification.from_pretrained arguments that build
the head the plan priced (num_labels, problem_type, ignore_mismatched_sizes; id2label and label2id when the data's
labels are names).

LoraConfig takes no num_labels (an unknown key is a TypeError in LoraConfig(**d), a warning in from_pretrained),
and task_type "SEQ_CLS" only makes peft train and save the head (modules_to_save): its size comes from the base
model's config, hence the separate file.

Field names: huggingface/peft src/peft/tuners/lora/config.py (LoraConfig) and src/peft/config.py (PeftConfig);
BitsAndBytesConfig: transformers src/transformers/utils/quantization_config.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lorplan.core.data.labels import check_classes, check_head
from lorplan.core.errors import BadInput
from lorplan.core.export import ExportResult
from lorplan.core.export.common import ROPE_SCALING_TYPE, rope_scaling_warning
from lorplan.core.export.kbit import upcast_matters
from lorplan.core.export.rope import rope_layout
from lorplan.core.lora import quantization_skip_modules
from lorplan.core.plan.build import prepares_kbit
from lorplan.core.plan.context import data_key
from lorplan.core.vocab import PEFT_TASK_TYPE, SHARDED, ExportFormat, LoraInit, Task

CLASSIFIER_FILE = "classifier_config.json"
# transformers' problem_type for what lorplan trains a sequence classifier on: one class id per example, with
# cross-entropy. Said wherever the head is built (lorplan train, the classifier file), or the checkpoint's own
# problem_type picks the loss: "regression" (a cross-encoder's 1-output head) is MSE of the new logits vs class ids
SINGLE_LABEL = "single_label_classification"


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
    """BitsAndBytesConfig kwargs (all four fields explicit; transformers' own defaults are fp4 + fp32; a sequence
    classifier's head skipped: core.lora.quantization_skip_modules), or None."""
    q = plan.quantization
    if not (q.load_in_4bit or q.load_in_8bit):
        return None
    kwargs = {
        "load_in_4bit": q.load_in_4bit,
        "load_in_8bit": q.load_in_8bit,
        "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
        "bnb_4bit_use_double_quant": q.bnb_4bit_use_double_quant,
        "bnb_4bit_compute_dtype": q.bnb_4bit_compute_dtype,
    }
    skip = quantization_skip_modules(plan.model.task)  # a classifier's head in 16 bits, as lorplan train loads it
    return {**kwargs, "llm_int8_skip_modules": skip} if skip is not None else kwargs


def classifier_kwargs(plan, classes: Mapping | None, plan_file: str | None = None,
                      pad_token_id: int | None = None) -> dict[str, Any]:
    """AutoModelForSequenceClassification.from_pretrained arguments for a classifier plan's head, the ones
    `lorplan train` builds it with (lorplan.train.model.build_model takes them from here): num_labels
    (model.num_labels, else 2), problem_type SINGLE_LABEL (whatever the checkpoint's config.json says) and
    ignore_mismatched_sizes (a checkpoint's own head of another size, a cross-encoder's 1 output, is replaced,
    not a RuntimeError; it changes nothing where the sizes agree) and, when the data's labels hold a name, id2label
    and label2id over every output (an id no label takes is transformers' LABEL_i). `classes`: class id -> the
    label as the data writes it (lorplan.core.data.data_classes, result.json's `classes`), or None when unknown.
    BadInput when the data holds one class alone (core.data.labels.check_classes) or a class id does not fit the
    head, as `lorplan train` refuses them, in its words, naming the plan's data
    (data_key: `plan_file` is the plan's file as the user gave it, if it has one).
    pad_token_id: the pad id a trained classifier pooled by, the one its batches were padded with (lorplan train's
    adapter folder: lorplan.train.model.classifier_pad_kwargs), carried so that a decoder classifier loaded with
    these arguments pools each row's last token in a user's batches too, and takes batches of more than one row
    (GPT-2's config names no pad token: transformers refuses them); None before training (this export), when the
    tokenizer the run pads with is not known."""
    n = plan.model.num_labels or 2
    out: dict[str, Any] = {"num_labels": n, "problem_type": SINGLE_LABEL, "ignore_mismatched_sizes": True}
    if pad_token_id is not None:
        out["pad_token_id"] = pad_token_id
    if not classes:
        return out
    where = data_key(plan, plan_file)
    check_classes(classes.values(), where)  # as lorplan train: one class alone teaches the head nothing
    check_head(classes, n, where)  # as lorplan train: ids below 0 or from n up
    if any(isinstance(v, str) for v in classes.values()):
        # JSON keys are text; transformers turns a config file's id2label keys into ints, not a keyword's
        id2label = {str(i): str(classes[i]) if i in classes else f"LABEL_{i}" for i in range(n)}
        out["id2label"] = id2label
        out["label2id"] = {name: int(i) for i, name in id2label.items()}
    return out


def read_classes(plan, path, plan_file: str | None = None) -> tuple[dict | None, str | None]:
    """(classes, None) for a sequence classifier's data at `path` (its plan's data.path, resolved): class id ->
    label as `lorplan train` numbers them (lorplan.core.data.data_classes); (None, why) when the file cannot be
    read or its labels cannot train, in one line naming the plan file and data.path as the plan writes it
    (data_key)."""
    from pathlib import Path

    from lorplan.core.data import data_classes

    path = Path(path)
    where = data_key(plan, plan_file)
    if not path.exists():
        return None, f"{where}: no such file or folder"
    try:
        return data_classes(path, schema=None if plan.data.schema == "auto" else plan.data.schema,
                            where=where), None
    except BadInput as exc:
        return None, str(exc).replace(f"--data {path}", where)


def _rope_steps(plan) -> str:
    """How to put the plan's RoPE scaling on the config the model is loaded with, as lorplan train does: its
    language model's config (a multimodal model's config.get_text_config()), and where RoPE is kept per layer
    type (Gemma 3) its full-attention entry: keys added beside the per-layer-type entries scale nothing."""
    if plan.model.rope_scaling is None:
        return ""
    layout = rope_layout(plan)
    params = {"rope_type": ROPE_SCALING_TYPE, "factor": plan.model.rope_scaling}
    config = "its text config (config.get_text_config())" if layout.text_config else "its config"
    if layout.per_layer is not None:
        entries = " and ".join(f"rope_parameters[{label!r}]" for label in layout.scaled)
        kept = "and the sliding-window layers keep theirs" if len(layout.scaled) < len(layout.per_layer) else \
            "and the scaling goes on every layer type, as transformers puts its rope_scaling"
        return f"{params!r} added to {entries} of {config}: it keeps RoPE per layer type {kept}"
    return f"rope_parameters={params!r} added to {config}"


def export_peft(plan, classes: Mapping | None = None, classes_problem: str | None = None,
                plan_file: str | None = None) -> ExportResult:
    """classes: a classifier's class id -> label (see classifier_kwargs); classes_problem: why they are
    unknown (the data could not be read), said in a warning. plan_file: the plan's file as the user named it,
    which a refusal of its labels names (data_key)."""
    files = {"adapter_config.json": json.dumps(lora_config_kwargs(plan), indent=2) + "\n"}
    bnb = bnb_config_kwargs(plan)
    if bnb is not None:
        files["bnb_config.json"] = json.dumps(bnb, indent=2) + "\n"
    warnings: list[str] = []
    if plan.model.task == Task.SEQUENCE_CLASSIFICATION:
        head = classifier_kwargs(plan, classes, plan_file)
        files[CLASSIFIER_FILE] = json.dumps(head, indent=2) + "\n"
        if not classes:
            why = f" ({classes_problem})" if classes_problem else ""
            warnings.append(f"peft: the data's labels were not read{why}: {CLASSIFIER_FILE} holds num_labels "
                            f"{head['num_labels']} without label names (transformers calls the outputs LABEL_0, …)")
    if plan.hardware.sharding in SHARDED and plan.quantization.load_in_4bit:
        warnings.append(
            "4-bit with FSDP/ZeRO needs BitsAndBytesConfig(bnb_4bit_quant_storage=<compute dtype>) when loading"
        )
    if bnb is not None and not prepares_kbit(plan) and upcast_matters(plan):
        warnings.append("the plan was priced without peft's prepare_model_for_kbit_training (--no-prepare-kbit): "
                        "skip that call in your script (enable gradient checkpointing and "
                        "enable_input_require_grads yourself, as lorplan train does), or its fp32 up-cast of the "
                        "base's unquantized weights takes more memory than the plan priced")
    warnings += rope_scaling_warning(plan, "peft", "an adapter config cannot carry it: load the model with "
                                     f"{_rope_steps(plan)} (transformers' AutoConfig, before from_pretrained)")
    if warnings:
        files["LORPLAN_WARNINGS.txt"] = "".join(f"WARNING: {w}\n" for w in warnings)
    return ExportResult(ExportFormat.PEFT.value, files, tuple(warnings), folder=True)
