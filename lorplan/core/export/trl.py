"""TRL SFT YAML export: the file `trl sft --config THIS.yaml` reads (huggingface/trl trl/scripts/sft.py, whose
parser takes ScriptArguments, SFTConfig (a transformers TrainingArguments), ModelConfig and DatasetMixtureConfig).

TRL's defaults differ from lorplan's and from transformers': ModelConfig loads the base in float32, SFTConfig turns
gradient checkpointing and bf16 on and truncates at 1024 tokens, LoRA defaults to r=16, alpha=32, dropout 0.05 on
the attention projections; so every value is written out. `trl sft` hands a key no dataclass reads to
`accelerate launch` (an error there), and its script run alone drops it without a word: every key written here is
a field of one of the four (tests/core/test_export_trl.py parses the file with TRL's own parser).
TRL has no rank_pattern, alpha_pattern, layer subset, LoRA bias, named initialisation or sequence classifier, and
no sharding of its own (that is accelerate's config): those become warnings, a classifier's plan a refusal.
A plan without GPUs is written as lorplan train runs it on the CPU (fp32, no bitsandbytes, torch AdamW, SDPA), and
where TRL trains otherwise than lorplan train (loss masks, the loss over accumulated micro-batches, the dtype of
modules_to_save and of a quantized base's other weights) a warning says so.
Checked against TRL 1.16.0 with transformers 5.25.0 and peft 0.21.2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorplan.core.export import ExportResult, dump_yaml, kbit, output_name
from lorplan.core.export.common import (
    ChatLayout,
    chat_file_notes,
    chat_layout,
    common_lora_warnings,
    data_head,
    padded_header_note,
    rope_scaling_warning,
    rows_key,
    rows_key_note,
)
from lorplan.core.export.rope import config_edit, rope_layout
from lorplan.core.plan.build import prepares_kbit
from lorplan.core.units import format_bytes
from lorplan.core.vocab import (
    ATTN_IMPLEMENTATION,
    EIGHT_BIT_OPTIMIZERS,
    HF_OPTIM,
    PEFT_TASK_TYPE,
    TORCH_DTYPE,
    WEIGHT_SHARDED,
    Attention,
    DataSchema,
    DType,
    ExportFormat,
    LossKernel,
    Optimizer,
    Sharding,
    Task,
    TrainOn,
)

# datasets.load_dataset's builder (DatasetConfig.path with data_files) for each format lorplan reads a file's
# suffix as (lorplan.core.data.readers.EXTENSIONS); TSV has none: datasets' csv builder takes no separator here
_BUILDER = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet", "txt": "text"}
# lorplan.train.optim's SGD momentum, which transformers' sgd takes through optim_args.
_SGD_MOMENTUM = 0.9


def _on_cpu(plan) -> bool:
    """A plan without GPUs: lorplan train runs it on the CPU in fp32, without bitsandbytes (lorplan.train.model
    load_kwargs, lorplan.train.optim), and so does the export."""
    return plan.hardware.gpus == 0


def _dtype(plan) -> str:
    """ModelConfig.dtype: the training precision, fp32 on the CPU (lorplan train's CPU run)."""
    return TORCH_DTYPE[DType.FP32 if _on_cpu(plan) else DType(plan.training.precision)]


def _cpu_warnings(plan) -> list[str]:
    """What a CPU plan (hardware.gpus = 0) names that lorplan train replaces on the CPU, written as replaced."""
    if not _on_cpu(plan):
        return []
    t, q = plan.training, plan.quantization
    changed = []
    if t.precision != DType.FP32:
        changed.append(f"fp32 weights and compute, not {t.precision} (dtype float32, bf16 and fp16 false)")
    if q.load_in_4bit or q.load_in_8bit:
        changed.append(f"no bitsandbytes quantization ({'4' if q.load_in_4bit else '8'}-bit off)")
    if t.optimizer in EIGHT_BIT_OPTIMIZERS:
        changed.append(f"torch AdamW (adamw_torch) for {t.optimizer}")
    if t.attention == Attention.FLASH:
        changed.append("SDPA for flash-attention")
    if not changed:
        return []
    return [f"hardware.gpus = 0: written as lorplan train runs the plan on the CPU: {'; '.join(changed)}"]


def _number(value):
    """An integral float as an int (ModelConfig types lora_alpha as int), others as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _targets(modules: tuple[str, ...], warnings: list[str]):
    """lora_target_modules as TRL hands it to peft: ModelConfig.__post_init__ turns a one-item list into its string,
    which peft matches as a regular expression against the whole module name ("q_proj" then matches no module), so
    one module is written as the regex that matches what the list would."""
    if tuple(modules) == ("all-linear",):
        return "all-linear"
    if len(modules) == 1:
        (name,) = modules
        pattern = rf"(?:.*\.)?{re.escape(name)}"
        warnings.append(f"lora_target_modules: {pattern} is the one module {name!r} as a regular expression: TRL "
                        "turns a one-item list into a string, which peft reads as a regex of the whole module name")
        return pattern
    return list(modules)


def _rope_edit(plan) -> str:
    """What to write into the model's config.json to train the plan's RoPE scaling. A model with RoPE per layer
    type (Gemma 3), or a multimodal one (whose language model reads text_config), is told the edit that works
    there (rope.config_edit: rope_scaling, which transformers puts on the full-attention layers; a flat
    rope_parameters fails Gemma 3's build; rope_parameters per layer type for a class that takes no rope_scaling
    so, Laguna's)."""
    layout = rope_layout(plan)
    if layout.text_config or layout.per_layer is not None:
        return f"to train it, {config_edit(plan, layout)}"
    return "write the scaling into the model's config.json to train it"


def _model_and_lora(plan, warnings: list[str]) -> dict[str, Any]:
    """ModelConfig: the base model, its dtype and attention, and the adapter."""
    lo, t = plan.lora, plan.training
    warnings += _cpu_warnings(plan)
    if plan.model.rope_scaling is not None:
        warnings += rope_scaling_warning(plan, "TRL", "TRL's config has no rope_scaling: the model trains with its "
                                         f"own RoPE ({_rope_edit(plan)})")
    if lo.init_lora_weights is not True:
        warnings.append(f"TRL cannot set init_lora_weights = {lo.init_lora_weights!r}; it uses peft's default "
                        "(True)")
    cfg: dict[str, Any] = {
        "model_name_or_path": plan.model.source,
        "model_revision": plan.model.revision,
        # ModelConfig loads the base in float32 unless told; lorplan train loads it in the training precision
        "dtype": _dtype(plan),
        "attn_implementation": ATTN_IMPLEMENTATION[Attention.SDPA if _on_cpu(plan) and t.attention ==
                                                   Attention.FLASH else t.attention],
        "use_peft": True,
        "lora_task_type": PEFT_TASK_TYPE[Task.CAUSAL_LM],
        "lora_r": lo.r,
        "lora_alpha": _number(lo.alpha),
        "lora_dropout": lo.dropout,
        "lora_target_modules": _targets(lo.target_modules, warnings),
        "lora_modules_to_save": list(lo.modules_to_save) or None,
        "use_rslora": lo.use_rslora,
        "use_dora": lo.use_dora,
    }
    quantized = (plan.quantization.load_in_4bit or plan.quantization.load_in_8bit) and not _on_cpu(plan)
    if lo.modules_to_save and (quantized or cfg["dtype"] != TORCH_DTYPE[DType.FP32]):
        # peft upcasts LoRA layers alone (cast_adapter_dtype); TRL casts every trained weight to bf16 when quantized
        dtype = "bfloat16" if quantized else cfg["dtype"]
        warnings.append(f"lora_modules_to_save: TRL trains {', '.join(lo.modules_to_save)} in {dtype}, with "
                        f"optimizer state in {dtype} (lorplan trains them in fp32)")
    return cfg


def _quantization(plan, warnings: list[str], spec=None) -> dict[str, Any]:
    """bitsandbytes loading (trl get_quantization_config): the 4-bit compute dtype is ModelConfig's dtype. spec: the
    plan's model's, for the up-cast's figures (None: read here, kbit)."""
    q = plan.quantization
    if _on_cpu(plan):  # lorplan train loads no bitsandbytes on the CPU (_cpu_warnings says so)
        return {"load_in_4bit": False, "load_in_8bit": False, "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
                "use_bnb_nested_quant": False, "bnb_4bit_quant_storage": None}
    dtype = _dtype(plan)
    if q.load_in_4bit and q.bnb_4bit_compute_dtype != dtype:
        warnings.append(f"TRL takes the 4-bit compute dtype from dtype ({dtype}, the training precision), not "
                        f"{q.bnb_4bit_compute_dtype}")
    if q.load_in_4bit or q.load_in_8bit:
        # trl/trainer/sft_trainer.py (1.16) calls no prepare_model_for_kbit_training: the base keeps its dtype
        if not kbit.upcast_matters(plan):  # fp32: those weights are fp32 with or without peft's call
            rest = "and it leaves the base's unquantized weights in dtype, as lorplan train does"
        elif prepares_kbit(plan):
            rest = ("and it leaves the base's unquantized weights (embeddings, norms, LM head) in dtype, which lorplan "
                    "train (peft's prepare_model_for_kbit_training) upcasts to fp32 for this plan")
            figures = kbit.totals(plan, spec)
            if figures is not None:
                rest += (f" (the memory model prices the plan without that up-cast at {format_bytes(figures[1])} "
                         f"per GPU, against {format_bytes(figures[0])})")
        else:
            rest = ("and it leaves the base's unquantized weights (embeddings, norms, LM head) in dtype, as lorplan "
                    "train does for this plan (priced without peft's prepare_model_for_kbit_training: "
                    "--no-prepare-kbit)")
        warnings.append("TRL casts the LoRA weights to bf16 on a quantized base (lorplan keeps them in fp32): the "
                        "adapter, its gradients and its optimizer state take about half the plan's bytes; " + rest)
    # a 4-bit base sharded with its weights stores them in the compute dtype, as lorplan train loads it
    storage = dtype if q.load_in_4bit and plan.hardware.sharding in WEIGHT_SHARDED else None
    return {
        "load_in_4bit": q.load_in_4bit,
        "load_in_8bit": q.load_in_8bit,
        "bnb_4bit_quant_type": q.bnb_4bit_quant_type,
        "use_bnb_nested_quant": q.bnb_4bit_use_double_quant,
        "bnb_4bit_quant_storage": storage,
    }


@dataclass(frozen=True)
class Prepared:
    """What a training script does to the data before TRL's SFTTrainer sees it, which `trl sft`'s YAML cannot (the
    Unsloth script, lorplan.core.export.unsloth, decides each for the plan's data): sft_dataset and sft_config then
    word their lines for the rows TRL gets, leaving out those on what the script has done. The default, nothing,
    is the TRL export's."""

    rows_key: bool = False  # load_dataset's field names the JSON key whose list holds the rows (common.rows_key)
    padded_header: bool = False  # the CSV header's names with spaces around them renamed (common.padded_names)
    alpaca: bool = False  # alpaca rows written as prompt/completion as lorplan reads them
    chat_roles: bool = False  # chat rows as messages of {role, content}, each role as lorplan reads it
    seeded_split: bool = False  # the held-out rows drawn with the plan's seed


AS_WRITTEN = Prepared()


def _split_note(fraction: float, seeded: bool) -> str:
    """The line on the held-out split: datasets' train_test_split, with the plan's seed where the script passes
    it (TRL's YAML has no key for one)."""
    if seeded:
        return (f"held-out rows: {fraction:g} of the rows at random (datasets' train_test_split with the plan's "
                "seed), not lorplan's held-out rows, and the trainer evaluates them at each save (eval_steps = "
                "save_steps); lorplan train evaluates once, after the last step")
    return (f"test_split_size: {fraction:g} holds out rows at random (datasets' train_test_split, no seed), not "
            "lorplan's held-out rows, and TRL evaluates them at each save (eval_steps = save_steps); lorplan train "
            "evaluates once, after the last step")


def _dataset(plan, warnings: list[str], prepared: Prepared) -> dict[str, Any]:
    """The data file as a one-dataset mixture (DatasetMixtureConfig: datasets.load_dataset(path, data_files=...))
    and its held-out split."""
    d = plan.data
    from lorplan.core.data.readers import EXTENSIONS

    suffix = Path(d.path).suffix.lower()
    builder = _BUILDER.get(EXTENSIONS.get(suffix, ""))
    entry: dict[str, Any] = {"path": builder, "data_files": d.path, "split": "train"}
    if builder is None:
        entry = {"path": d.path, "split": "train"}
        warnings.append(f"datasets: {d.path} is read by datasets.load_dataset({d.path!r}), which guesses the "
                        "format from its files (a save_to_disk folder is not one it reads: save it as Parquet or "
                        "JSONL); a TSV needs a .csv copy with commas")
    elif suffix == ".txt":
        warnings.append("datasets' text builder makes each line a row, blank lines too (lorplan skips them): "
                        "TRL trains those as EOS alone")
    elif builder == "json" and (key := rows_key(d.path)) is not None and not prepared.rows_key:
        warnings.append(unread_rows_note(d.path, key))
    if not prepared.padded_header:
        warnings += padded_header_note(d.path, "TRL")
    cfg: dict[str, Any] = {"datasets": [entry], "streaming": False,
                           "dataset_train_split": "train", "dataset_test_split": "test"}
    if d.eval_split > 0:
        cfg["test_split_size"] = d.eval_split
        cfg["eval_strategy"] = "steps"
        cfg["eval_steps"] = plan.training.save_steps
        warnings.append(_split_note(d.eval_split, prepared.seeded_split))
    else:
        cfg["test_split_size"] = None
        cfg["eval_strategy"] = "no"
    return cfg


def unread_rows_note(path: str, key: str) -> str:
    """The line on a .json file whose rows are the list under one JSON object's `key` (common.rows_key), which TRL
    reads as one row: trl/scripts/utils.py get_dataset hands load_dataset a DatasetConfig's path, name, data_dir,
    data_files and split alone, and DatasetConfig (a dataclass: another key is a TypeError) has no field."""
    return rows_key_note(path, key, "TRL", "TRL's datasets entry (DatasetConfig) has no key for datasets' `field`, "
                         "which names the list")


PROMPT_COMPLETION_NOTE = (
    "TRL tokenizes the prompt alone and prompt + completion + EOS, and trains from the first token where they "
    "differ; lorplan counts the completion's tokens as the length difference: the same tokens except where a "
    "token spans the join")
# the columns of an alpaca row as lorplan reads it (lorplan.core.data.schema): the instruction, its input (which
# may be missing) and the output
ALPACA_COLUMNS = ("instruction", "input", "output")
# the TRL YAML's line on alpaca rows; the Unsloth script converts them (lorplan.core.export.unsloth, Prepared.alpaca)
ALPACA_NOTE = (
    f"TRL reads no alpaca columns ({'/'.join(ALPACA_COLUMNS)}) and stops on these rows: write them as "
    "prompt/completion (lorplan's rendered Stanford prompt, the output), data.schema = \"prompt-completion\"; the "
    "loss settings here already fit those rows")
AUTO_NOTE = ("data.schema is auto: TRL finds text and prompt/completion columns itself; chat rows train on every "
             "token unless assistant_only_loss is true (which refuses other rows): set data.schema")
_MESSAGES_NOTE = (
    "assistant_only_loss: TRL masks by the chat template's {% generation %} markers, swapping in its own training "
    "template for the families it knows (Llama 3, Qwen, Gemma, ...) and stopping with a ValueError for others; "
    "lorplan trains the tokens each assistant turn adds to the rendered chat, its end-of-turn marker included: the "
    "same where the markers cover that marker")
_NO_TEMPLATE_NOTE = (
    "a tokenizer without a chat template stops TRL on chat rows (set chat_template_path), where lorplan writes "
    "\"<|role|>\\n\" before each turn")
# trl/trainer/sft_trainer.py (_prepare_dataset's tokenize_fn) hands each row's messages to the tokenizer's
# apply_chat_template as the file writes them (trl/data_utils.py _tokenize): SFTConfig has no key that joins text
# parts, renames a role or reads a per-message weight, so these readings of lorplan's are a warning
_JOINED_PARTS = ("where lorplan joins a content of text parts into one string (a text-only template fails on the "
                 "list: Qwen2.5's with a TypeError)")
_WEIGHT_0 = "trains no assistant turn marked \"weight\": 0 (TRL trains it)"


def chat_rows_note(roles_renamed: bool = False) -> str:
    """The line on what TRL hands the chat template otherwise than lorplan reads it; roles_renamed: for rows whose
    roles were renamed as lorplan reads them before TRL saw them (the Unsloth script's chat_messages), so that
    developer is system there too."""
    if roles_renamed:
        return (f"chat rows: TRL hands each message's content to the chat template as the file writes it (the "
                f"script renames the roles alone, as lorplan reads them), {_JOINED_PARTS}, and {_WEIGHT_0}: write "
                "such rows with string content and no weight-0 turns for TRL to train what lorplan does")
    return (f"chat rows: TRL hands each message to the chat template as the file writes it, {_JOINED_PARTS}, reads "
            "role developer as system (Qwen2.5's template drops a developer message, Llama 3's writes a developer "
            f"header) and {_WEIGHT_0}: write such rows with string content, role system and no weight-0 turns for "
            "TRL to train what lorplan does")


def lorplan_roles() -> dict[str, str]:
    """How lorplan reads a chat message's role value, lowercased (lorplan.core.data.schema's table: human as user,
    gpt and function_call as assistant, observation as tool, developer as system)."""
    from lorplan.core.data.schema import CHAT_ROLES  # the data modules load when an export reads data

    return dict(CHAT_ROLES)


# trl/data_utils.py is_conversational: a messages value that is a string is no chat, so the row is text, and
# tokenize_fn reads dataset_text_field from it
_TEXT_CELLS = "no chat there, and it stops on the missing text column (KeyError: 'text')"


def _layout_notes(layout: ChatLayout, path: str, roles_renamed: bool) -> list[str]:
    """What TRL 1.16 reads otherwise than lorplan in the data file's chat layout. SFTTrainer._prepare_dataset
    (trl/trainer/sft_trainer.py) looks at the first row alone: when it is ShareGPT's (data_utils
    is_conversational_from_value: a conversations list of {from, value}) it maps every row through
    maybe_convert_to_chatml, which renames conversations, from and value to messages, role and content and keeps
    the role values; a conversations column of {role, content} is no chat there (no text column either).
    roles_renamed: the rows reach TRL as messages of {role, content}, each role as lorplan reads it
    (Prepared.chat_roles), so neither the column nor the role values are a difference."""
    if layout.problem is not None:
        return []
    notes = []
    if layout.mixed is not None and "but also column " in layout.mixed:  # rows of either column, not keys
        notes.append(f"chat rows: {layout.mixed}: TRL converts ShareGPT rows to messages of {{role, content}} "
                     "only when the first row is one, and then every row, so a file mixing layouts loses one "
                     "kind's chats there: write every row one way")
    if roles_renamed:
        return notes
    if note := conversations_note(layout, path):
        notes.append(note)
    if note := renamed_roles_note(layout):
        notes.append(note)
    return notes


def conversations_note(layout: ChatLayout, path: str) -> str | None:
    """The line on a conversations column of {role, content} messages, which TRL reads as no chat; else None."""
    if layout.column != "conversations" or layout.sharegpt:
        return None
    return (f"chat rows: TRL reads a conversations column as chats only of ShareGPT's {{from, value}} "
            f"messages; the {{{layout.role_key}, {layout.content_key}}} messages of {path} are no chat "
            "there and it stops on them (no text column): name the column messages")


def renamed_roles(layout: ChatLayout, *, developer: bool = False) -> list[str]:
    """The role values of the data file's first chat rows (as written, most common first) that lorplan reads as
    another role than the one they spell (human as user, gpt as assistant, User as user: lorplan_roles); developer
    (read as system) among them only if `developer`, as chat_rows_note names it otherwise."""
    roles = lorplan_roles()
    return [v for v in layout.roles if roles.get(v.lower(), v) != v and (developer or v.lower() != "developer")]


def renamed_roles_note(layout: ChatLayout) -> str | None:
    """The line on the role values TRL hands to the chat template as written (renamed_roles, developer aside: the
    chat rows line names it), None when none."""
    renamed = renamed_roles(layout)
    if not renamed:
        return None
    roles = lorplan_roles()
    who = ("TRL renames ShareGPT's conversations, from and value to messages, role and content and keeps the "
           "role values: it" if layout.sharegpt else "TRL")
    as_read = ", ".join(f"{v} as {roles[v.lower()]}" for v in renamed)
    return (f"chat rows: {who} hands roles {', '.join(map(repr, renamed))} to the chat template as "
            f"written, where lorplan reads {as_read}: a template that knows user and assistant drops "
            "such turns (Qwen2.5's) or writes a header of that name (Llama 3's), and with "
            "assistant_only_loss TRL finds no assistant turn and stops (its "
            "RuntimeError \"at least one example has no assistant tokens\"): write roles user, assistant "
            "and system (and tool) for TRL to train what lorplan does")


def rows_schema(plan) -> DataSchema:
    """The schema of the plan's rows: its data.schema, or for auto the schema lorplan reads in the data file's
    first rows (TRL finds text, prompt/completion and messages columns itself). Auto where lorplan cannot read
    them: the auto warning asks for data.schema."""
    schema = DataSchema(plan.data.schema)
    if schema != DataSchema.AUTO:
        return schema
    found = data_head(plan.data.path).schema  # missing, unreadable, no schema: None
    return DataSchema.AUTO if found is None else DataSchema(found)


def is_chat(plan) -> bool:
    """Whether the plan's data is chat rows: data.schema = "messages", or auto on a file lorplan reads as
    messages (rows_schema)."""
    return rows_schema(plan) == DataSchema.MESSAGES


def _loss_masking(plan, warnings: list[str], prepared: Prepared) -> dict[str, Any]:
    """data.schema and data.train_on as SFTConfig's text column and loss masks: completion_only_loss for
    prompt-completion rows (TRL refuses it on others), assistant_only_loss for chats (TRL refuses it on others).
    Alpaca rows the script writes as prompt/completion (Prepared.alpaca) are prompt-completion rows here."""
    d = plan.data
    masked = d.train_on != TrainOn.ALL
    schema = DataSchema(d.schema)
    if prepared.alpaca and rows_schema(plan) == DataSchema.ALPACA:
        schema = DataSchema.PROMPT_COMPLETION
    completion_only: bool | None = False
    assistant_only = False
    if schema in (DataSchema.PROMPT_COMPLETION, DataSchema.ALPACA):
        completion_only = masked
        warnings.append(ALPACA_NOTE if schema == DataSchema.ALPACA else PROMPT_COMPLETION_NOTE)
    elif schema == DataSchema.MESSAGES:
        assistant_only = masked
        warnings.append(f"{_MESSAGES_NOTE}; {_NO_TEMPLATE_NOTE}" if masked else _NO_TEMPLATE_NOTE)
    elif schema == DataSchema.AUTO:
        completion_only = None if masked else False  # None: TRL masks prompt-completion rows, trains text whole
        # alpaca rows stop TRL whatever it finds, so their line, not the one on the columns TRL finds itself
        warnings.append(ALPACA_NOTE if rows_schema(plan) == DataSchema.ALPACA else AUTO_NOTE)
    if is_chat(plan):
        warnings.append(chat_rows_note(roles_renamed=prepared.chat_roles))
        layout = chat_layout(d.path)
        warnings += _layout_notes(layout, d.path, prepared.chat_roles)
        warnings += chat_file_notes(layout, d.path, "TRL", text_cells=_TEXT_CELLS)
    return {"dataset_text_field": "text", "completion_only_loss": completion_only,
            "assistant_only_loss": assistant_only}


def _warmup_steps(plan, warnings: list[str]) -> int | float:
    """SFTConfig.warmup_steps. With max_steps, the steps lorplan train warms up (ceil(ratio x steps), as
    TrainingArguments.get_warmup_steps computes it), which every transformers reads alike. Over epochs the run's
    length waits for the data, so the ratio: transformers 5 (training_args.py get_warmup_steps) reads a
    warmup_steps below 1 as a ratio of the run, transformers 4 as that many steps."""
    t = plan.training
    if t.max_steps:
        return math.ceil(t.warmup_ratio * t.max_steps)
    if t.warmup_ratio:
        warnings.append(f"warmup_steps: {t.warmup_ratio:g} is a ratio of the run's steps on transformers 5; "
                        f"transformers 4 (TRL takes 4.56 and up) reads it as {t.warmup_ratio:g} steps, which is no "
                        f"warmup and a first step at learning rate 0: there write warmup_ratio: "
                        f"{t.warmup_ratio:g} in its place")
    return t.warmup_ratio


def _training(plan, warnings: list[str]) -> dict[str, Any]:
    """SFTConfig: sequence length and packing, batch, schedule, optimizer, checkpointing, precision and output."""
    t = plan.training
    cfg: dict[str, Any] = {"max_length": t.seq_len, "packing": t.packing}
    if t.packing:
        cfg["packing_strategy"] = "wrapped"
        cfg["padding_free"] = False
        warnings.append("packing_strategy: wrapped concatenates the rows and cuts them into max_length blocks "
                        "across which they attend, as lorplan does; it keeps the short last block of each batch "
                        "of rows it maps, which lorplan drops")
    cfg.update({
        "per_device_train_batch_size": t.micro_batch,
        "gradient_accumulation_steps": t.gradient_accumulation,
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_steps": _warmup_steps(plan, warnings),
    })
    if t.max_steps:
        cfg["max_steps"] = t.max_steps
    else:
        cfg["num_train_epochs"] = t.epochs
        cfg["max_steps"] = -1
    eight_bit_on_cpu = _on_cpu(plan) and t.optimizer in EIGHT_BIT_OPTIMIZERS
    cfg["optim"] = HF_OPTIM[Optimizer.ADAMW if eight_bit_on_cpu else Optimizer(t.optimizer)]
    if t.optimizer == Optimizer.SGD_MOMENTUM:
        cfg["optim_args"] = f"momentum={_SGD_MOMENTUM}"
        warnings.append(f"optim_args: momentum={_SGD_MOMENTUM} reaches transformers 5's sgd; transformers 4's "
                        "Trainer ignores optim_args for sgd and trains plain SGD")
    cfg["weight_decay"] = t.weight_decay
    cfg["max_grad_norm"] = 1.0  # lorplan train clips at 1.0
    cfg["gradient_checkpointing"] = t.gradient_checkpointing  # TRL's default is true
    if t.gradient_checkpointing:
        cfg["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    cfg["bf16"] = not _on_cpu(plan) and t.precision == DType.BF16  # TRL's default is true unless fp16
    cfg["fp16"] = not _on_cpu(plan) and t.precision == DType.FP16
    if t.gradient_accumulation > 1 or plan.hardware.gpus > 1:
        warnings.append("the loss: TRL divides the summed loss of the gradient_accumulation_steps micro-batches (of "
                        "every GPU) by their trained tokens, so each token weighs the same; lorplan train averages "
                        "each micro-batch's mean loss: the same step where the micro-batches hold as many trained "
                        "tokens")
    cfg["use_liger_kernel"] = False
    loss = plan.estimate.loss if plan.estimate is not None else None
    if loss is not None and loss != LossKernel.STANDARD:
        warnings.append(f"TRL has no switch for the plan's {loss} loss; its own chunked LM head (always on) "
                        "likewise never holds the whole logits")
    cfg["use_cpu"] = _on_cpu(plan)
    cfg["trust_remote_code"] = plan.model.trust_remote_code
    cfg["seed"] = t.seed
    cfg["output_dir"] = t.output_dir
    cfg["save_steps"] = t.save_steps
    cfg["logging_steps"] = t.logging_steps
    return cfg


def _sharding(plan, warnings: list[str]) -> None:
    """TRL's config has no GPU count or sharding: `trl sft` launches through accelerate, whose config carries it."""
    hw = plan.hardware
    if hw.gpus > 1 or hw.sharding != Sharding.NONE:
        warnings.append(f"TRL's config holds no GPU count or sharding ({hw.gpus} GPUs, {hw.sharding}): write them "
                        "with lorplan export --to accelerate and run trl sft --config THIS.yaml "
                        "--accelerate_config ACCELERATE.yaml")


def sft_dataset(plan, warnings: list[str], prepared: Prepared = AS_WRITTEN) -> dict[str, Any]:
    """How TRL reads the plan's data: {"datasets": [datasets.load_dataset's arguments: the builder ("json", "csv",
    ...) as path, data_files, split], "test_split_size": the held-out fraction or None, and SFTConfig's
    eval_strategy (and eval_steps)}, with what TRL reads otherwise than lorplan added to `warnings`. The TRL export
    writes it as its datasets: entry, the Unsloth script (lorplan.core.export.unsloth) as its load_dataset call.
    prepared: what the script does to the data before TRL sees it (Prepared; the TRL export: nothing)."""
    return _dataset(plan, warnings, prepared)


def sft_config(plan, warnings: list[str], prepared: Prepared = AS_WRITTEN) -> dict[str, Any]:
    """SFTConfig's arguments for the plan, in key order: the loss masks (dataset_text_field,
    completion_only_loss, assistant_only_loss), then sequence length and packing, batch, schedule, optimizer,
    checkpointing, precision, seed and output; what TRL trains otherwise than lorplan train added to `warnings`.
    The one mapping of the plan's training values to TRL: the TRL export writes it into its YAML, the Unsloth
    script passes it to SFTConfig(...). prepared: what the script does to the data before TRL sees it (Prepared)."""
    return {**_loss_masking(plan, warnings, prepared), **_training(plan, warnings)}


def cpu_changes(plan) -> list[str]:
    """One line, for a plan without GPUs, naming what lorplan train (and the export) replace on the CPU; none
    otherwise."""
    return _cpu_warnings(plan)


def export_trl(plan, spec=None) -> ExportResult:
    """The plan as a TRL SFT config (`trl sft --config THIS.yaml`), with what TRL cannot express as warnings."""
    warnings = common_lora_warnings(plan, "TRL", patterns=False, layers=False, bias=False)
    # the parts run in this order, so the warnings come out in the order of the keys they concern
    cfg = {**_model_and_lora(plan, warnings), **_quantization(plan, warnings, spec), **sft_dataset(plan, warnings),
           **sft_config(plan, warnings)}
    _sharding(plan, warnings)
    fmt = ExportFormat.TRL
    text = dump_yaml("TRL SFT config written by lorplan (trl sft --config THIS.yaml)", cfg, warnings)
    return ExportResult(fmt.value, {output_name(fmt): text}, tuple(warnings))
