"""Unsloth export: a training script, `unsloth_train.py`, since Unsloth reads no config file. It loads the base with
FastLanguageModel.from_pretrained, adds the adapter with FastLanguageModel.get_peft_model, trains with TRL's
SFTTrainer (which Unsloth patches) and saves the adapter into training.output_dir.

The trainer's arguments and the data loading are the TRL export's (lorplan.core.export.trl sft_config and
sft_dataset): one mapping of the plan's training values, with its warnings. The keyword names are Unsloth
2026.10.9's (unsloth/models/loader.py FastLanguageModel.from_pretrained, unsloth/models/llama.py
FastLlamaModel.get_peft_model); what they cannot say is a warning, written into the script as a comment.

Plans are data: every plan value is written as a Python literal (repr, read back with ast.literal_eval before it
is written), never pasted into code, and the script runs nothing when imported (its work is in main()).
"""

from __future__ import annotations

import ast
import math
from typing import Any

from lorplan.core.export import ExportResult, _printable, kbit, output_name, warning_comment
from lorplan.core.export.common import (
    ChatLayout,
    chat_layout,
    common_lora_warnings,
    csv_header,
    padded_names,
    rope_scaling_warning,
    rows_key,
)
from lorplan.core.export.trl import (
    ALPACA_COLUMNS,
    Prepared,
    conversations_note,
    cpu_changes,
    is_chat,
    lorplan_roles,
    renamed_roles,
    renamed_roles_note,
    rows_schema,
    sft_config,
    sft_dataset,
)
from lorplan.core.vocab import (
    TORCH_DTYPE,
    Attention,
    DataSchema,
    DType,
    ExportFormat,
    LoraBias,
    LoraInit,
    Sharding,
)

UNSLOTH_VERSION = "2026.10.9"
# get_peft_model's accepted_modules (unsloth/models/llama.py): the projections its fused LoRA kernels patch; any
# other name trains through peft's own layers ("Unsloth hasn't optimized for this")
FAST_TARGETS = ("lm_head", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# _redirect_embedding_targets (unsloth/models/_utils.py): these targets become modules_to_save, trained whole
EMBEDDINGS = ("embed_tokens", "lm_head")


class _Code(str):
    """A piece of code the exporter writes itself (never plan text): `torch.bfloat16`."""


_DTYPE_CODE = {name: _Code(f"torch.{name}") for name in TORCH_DTYPE.values()}
_ALPACA_CELLS = _Code("ALPACA_CELLS")  # the script's own table of CSV converters (_ALPACA_ROWS)
_CODE = (*_DTYPE_CODE.values(), _ALPACA_CELLS)


def _plain(value: Any) -> Any:
    """`value` with a vocabulary member as its spelling (a str), tuples as lists and mappings as dicts."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _literal(value: Any) -> str:
    """`value` as a Python literal: repr, checked by reading it back with ast.literal_eval, so that no plan text
    (a model id with quotes, a newline, `__import__('os')`) can become code. Tuples and mappings are written as
    lists and dicts."""
    if isinstance(value, _Code):
        assert value in _CODE, value
        return str(value)
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"no Python literal for {value!r}")
    text = repr(value)
    if ast.literal_eval(text) != value or type(ast.literal_eval(text)) is not type(value):
        raise ValueError(f"no Python literal for {value!r}")
    return text


def _call(callee: str, args: dict[str, Any], indent: str, *, first: str | None = None) -> str:
    """`callee(first, key=literal, ...)` one argument a line; keys are the exporter's own identifiers."""
    lines = [f"{callee}("]
    if first is not None:
        lines.append(f"{indent}    {first},")
    for key, value in args.items():
        assert key.isidentifier(), key
        lines.append(f"{indent}    {key}={_literal(value)},")
    lines.append(f"{indent})")
    return "\n".join(lines)


def _precision(plan) -> DType:
    """The dtype the script loads and trains in: fp32 on the CPU, as lorplan train runs it (and the TRL export)."""
    return DType.FP32 if plan.hardware.gpus == 0 else DType(plan.training.precision)


def _checkpointing(plan) -> str | bool:
    """use_gradient_checkpointing for from_pretrained and get_peft_model: Unsloth's own ("unsloth", its default:
    activations offloaded to CPU memory, plain checkpointing below 512 tokens, _utils.py
    apply_unsloth_gradient_checkpointing) where the plan checkpoints, which _MEMORY_NOTE counts on; True would
    switch it off for transformers' checkpointing."""
    return "unsloth" if plan.training.gradient_checkpointing else False


def _from_pretrained(plan, warnings: list[str]) -> dict[str, Any]:
    """FastLanguageModel.from_pretrained's arguments. Unsloth's load_in_4bit defaults to True, so each flag is
    written; its 4-bit is always NF4 with double quantization (loader.py's BitsAndBytesConfig)."""
    q, t = plan.quantization, plan.training
    cpu = plan.hardware.gpus == 0
    four, eight = q.load_in_4bit and not cpu, q.load_in_8bit and not cpu
    precision = _precision(plan)
    if four and q.bnb_4bit_quant_type != "nf4":
        warnings.append(f"Unsloth's 4-bit is always nf4 with double quantization: the plan's "
                        f"{q.bnb_4bit_quant_type} is trained as nf4")
    elif four and not q.bnb_4bit_use_double_quant:
        warnings.append("Unsloth's 4-bit always uses double quantization: its quantization constants take a little "
                        "less memory than the plan counts")
    if four and q.bnb_4bit_compute_dtype != TORCH_DTYPE[precision]:
        warnings.append(f"Unsloth computes 4-bit layers in dtype ({TORCH_DTYPE[precision]}, the training "
                        f"precision), not {q.bnb_4bit_compute_dtype}")
    if precision == DType.FP32 and not (four or eight):
        warnings.append("float32 base weights: Unsloth skips its fused LoRA kernels on them and trains through "
                        "peft's layers")
    if t.attention != Attention.SDPA:
        warnings.append(f"Unsloth chooses its attention kernels itself (flash-attention, xformers or SDPA, as "
                        f"installed); the plan's {t.attention} is not written")
    args: dict[str, Any] = {
        "model_name": plan.model.source,
        "max_seq_length": t.seq_len,
        "dtype": _DTYPE_CODE[TORCH_DTYPE[precision]],
        "load_in_4bit": four,
        "load_in_8bit": eight,
        "load_in_16bit": not (four or eight) and precision != DType.FP32,
        "full_finetuning": False,
        "revision": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code is True,
        "use_gradient_checkpointing": _checkpointing(plan),
        "random_state": t.seed,
    }
    if plan.model.rope_scaling is not None:
        args["rope_scaling"] = {"rope_type": "linear", "factor": plan.model.rope_scaling}
        warnings += rope_scaling_warning(plan, "Unsloth", "written as from_pretrained's rope_scaling (Unsloth "
                                         "also scales RoPE itself when max_seq_length is beyond the model's context)")
    return args


def _targets(modules: tuple[str, ...], warnings: list[str]) -> str | list[str]:
    if tuple(modules) == ("all-linear",):
        return "all-linear"
    embeddings = [m for m in modules if m.rsplit(".", 1)[-1] in EMBEDDINGS]
    if embeddings:
        warnings.append(f"target_modules {', '.join(embeddings)}: Unsloth moves embedding targets to "
                        "modules_to_save and trains the whole matrix, not a LoRA on it (more memory than planned)")
    slow = [m for m in modules if m not in FAST_TARGETS and m not in embeddings]
    if slow:
        warnings.append(f"target_modules {', '.join(slow)}: Unsloth has fused LoRA kernels for "
                        f"{', '.join(FAST_TARGETS)} alone; these train through peft's layers, slower")
    return list(modules)


# validate_init_lora_weights (unsloth/models/_utils.py): the initialisations it refuses on a bitsandbytes base
_DENSE_ONLY_INITS = (LoraInit.PISSA, LoraInit.CORDA, LoraInit.LOFTQ, LoraInit.ORTHOGONAL)


def _init(plan, warnings: list[str]) -> bool | str:
    """init_lora_weights as FastLanguageModel takes it: bools and peft's names (validate_init_lora_weights), except
    what get_peft_model stops on (after the base has loaded): eva (its fused LoRA path, NotImplementedError), corda
    (needs peft's preprocess_corda run first, which the script does not), pissa / corda / loftq / orthogonal on a
    quantized base and orthogonal at an odd rank (ValueError); those are written as true, with a warning."""
    value, r = plan.lora.init_lora_weights, plan.lora.r
    q = plan.quantization
    quantized = (q.load_in_4bit or q.load_in_8bit) and plan.hardware.gpus > 0
    base = value.split("_niter_")[0] if isinstance(value, str) else None
    why = None
    if value == LoraInit.EVA:
        why = "Unsloth's FastLanguageModel refuses it (NotImplementedError)"
    elif base == LoraInit.CORDA:
        why = "Unsloth's get_peft_model stops on it unless peft's preprocess_corda ran first (ValueError)"
    elif quantized and base in _DENSE_ONLY_INITS:
        why = "Unsloth's get_peft_model stops on it over a quantized base (ValueError)"
    elif base == LoraInit.ORTHOGONAL and r % 2:
        why = f"Unsloth's get_peft_model stops on it at an odd rank, r = {r} (ValueError)"
    if why is None:
        return value
    warnings.append(f"init_lora_weights = \"{value}\": {why}; written as true (peft's default initialisation)")
    return True


def _get_peft_model(plan, warnings: list[str]) -> dict[str, Any]:
    """FastLanguageModel.get_peft_model's arguments (after the model)."""
    lo, t = plan.lora, plan.training
    if lo.bias != LoraBias.NONE:
        warnings.append(f"bias = {lo.bias!r}: Unsloth's fused LoRA kernels take bias \"none\" alone; it trains "
                        "through peft's layers, slower")
    others = [m for m in lo.modules_to_save if m not in EMBEDDINGS and "norm" not in m.lower()]
    if others:
        warnings.append(f"modules_to_save {', '.join(others)}: Unsloth's FastLanguageModel trains only lm_head, "
                        "embed_tokens and normalisation layers whole and stops on others (TypeError); train them "
                        "with lorplan train")
    args: dict[str, Any] = {
        "r": lo.r,
        "target_modules": _targets(lo.target_modules, warnings),
        "lora_alpha": int(lo.alpha) if isinstance(lo.alpha, float) and lo.alpha.is_integer() else lo.alpha,
        "lora_dropout": lo.dropout,
        "bias": str(lo.bias),
        "layers_to_transform": list(lo.layers_to_transform) or None,
        "use_gradient_checkpointing": _checkpointing(plan),
        "random_state": t.seed,
        "use_rslora": lo.use_rslora,
        "modules_to_save": list(lo.modules_to_save) or None,
        "init_lora_weights": _init(plan, warnings),
    }
    if lo.use_dora:  # no parameter of its own: get_peft_model hands **kwargs to peft's LoraConfig
        args["use_dora"] = True
        warnings.append("use_dora: Unsloth trains DoRA through peft's own layers, not its fused LoRA kernels")
    return args


def _hardware(plan, warnings: list[str]) -> None:
    hw = plan.hardware
    if hw.gpus == 0:
        warnings.append("hardware.gpus = 0: Unsloth trains without a GPU through its CPU backend (transformers, "
                        "peft and TRL as they are), not its kernels")
    if hw.gpus > 1 or hw.sharding != Sharding.NONE:
        warnings.append(f"the script is one process: the plan's {hw.gpus} GPUs and {hw.sharding} sharding are not "
                        "in it; launch it with `accelerate launch --config_file ACCELERATE.yaml THIS.py` "
                        "(lorplan export --to accelerate) where Unsloth supports that setup")


_CHAT_MESSAGES = '''# lorplan reads these role values as the chat template's roles, where TRL hands them to the template as
# written (a Llama 3 or Qwen template knows no human or gpt turn): the rows become messages of these roles
ROLES = {roles}


def chat_messages(row):
    """The row's chat as messages of {{role, content}}, each role as lorplan reads it (ROLES)."""
    return {{"messages": [{{"role": ROLES.get(str(message.get({role})).lower(), message.get({role})),
                           "content": message.get({content})}} for message in row[{column}]]}}
'''


def _renamed_chat(plan) -> ChatLayout | None:
    """The chat layout of chat rows whose role values lorplan reads as other roles (ShareGPT's human and gpt, a
    capitalised User, OpenAI's developer as system), or held in a conversations column of {role, content}
    messages (no chat to TRL), which the script writes as lorplan reads them (_chat_roles: Prepared.chat_roles);
    None for other data, and for rows one map cannot read alike: a file mixing layouts, chats as JSON text in CSV
    cells (TRL's line on each stays)."""
    if not is_chat(plan):
        return None
    layout = chat_layout(plan.data.path)
    if layout.problem or layout.mixed or layout.text_cells:
        return None
    said = renamed_roles_note(layout) is not None or conversations_note(layout, plan.data.path) is not None
    if not said and not renamed_roles(layout, developer=True):  # messages TRL reads as lorplan does
        return None
    return layout


def _chat_roles(layout: ChatLayout | None) -> tuple[str, str]:
    """For chat rows the script renames (_renamed_chat's layout): its chat_messages function, which writes them as
    lorplan reads them into a messages column of {role, content}, and its dataset.map line; ("", "") for None."""
    if layout is None:
        return "", ""
    code = _CHAT_MESSAGES.format(roles=_literal(lorplan_roles()), role=_literal(layout.role_key),
                                 content=_literal(layout.content_key), column=_literal(layout.column))
    return code + "\n\n", f"    dataset = dataset.map(chat_messages, remove_columns=[{_literal(layout.column)}])\n"


_ALPACA_ROWS = """# lorplan reads alpaca rows ({names}) as its Stanford Alpaca prompt and the output as the
# completion, and trains none of the rows it cannot read so; TRL reads no alpaca columns: the rows become
# prompt/completion here, as lorplan reads them
ALPACA_COLUMNS = {columns}
# the prompt's text before, between and after the instruction and the input (a row whose input is missing, null
# or empty has none)
PROMPT_WITH_INPUT = {with_input}
PROMPT_WITHOUT_INPUT = {without_input}
{cells}

def alpaca_usable(row):
    \"\"\"Whether lorplan trains the row: an instruction and an output of more than whitespace, strings, and an
    input that is missing, null or a string.\"\"\"
    instruction, text, output = row.get("instruction"), row.get("input"), row.get("output")
    return (isinstance(instruction, str) and instruction.strip() != "" and isinstance(output, str)
            and output.strip() != "" and (text is None or isinstance(text, str)))


def alpaca_prompt_completion(row):
    \"\"\"The row as lorplan reads it: its Stanford Alpaca prompt, and the output as the completion.\"\"\"
    text = row.get("input")
    if text:
        before, between, after = PROMPT_WITH_INPUT
        prompt = before + row["instruction"] + between + text + after
    else:
        before, after = PROMPT_WITHOUT_INPUT
        prompt = before + row["instruction"] + after
    return {{"prompt": prompt, "completion": row["output"]}}
"""
# pandas (datasets' csv builder) reads a column of numbers as numbers (007 as 7) and NA, null, None or an empty
# cell as null; lorplan reads every cell as its text
_CSV_CELLS = """# CSV cells as their text, as lorplan reads them (pandas would read 007 as 7, and NA or None as null)
ALPACA_CELLS = {{{table}}}
"""
_ALPACA_MAP = (
    "    dataset = dataset.filter(alpaca_usable)\n"
    "    dataset = dataset.map(alpaca_prompt_completion,\n"
    "                          remove_columns=[c for c in dataset.column_names if c in ALPACA_COLUMNS])\n")


# Unsloth 2026.10.9 (unsloth/models/rl_replacements.py sft_trainer_prepare_dataset) opens SFTTrainer's
# _prepare_dataset with a look at the first row's dataset_text_field column whenever that is set, so prompt/completion
# rows stop there on SFTConfig's "text" (KeyError: 'text'); with None it reads their prompt and completion, and TRL
# reads no text column of such rows
_PROMPT_COMPLETION_ROWS = (DataSchema.PROMPT_COMPLETION, DataSchema.ALPACA)


def _alpaca_pieces() -> tuple[tuple[str, str, str], tuple[str, str]]:
    """lorplan's Stanford Alpaca prompt (lorplan.core.data.example.alpaca_prompt) as the text around the
    instruction and input: (before, between, after) for a row with an input, (before, after) without."""
    from lorplan.core.data.example import alpaca_prompt

    instruction, text = "\x00instruction\x00", "\x00input\x00"
    before, rest = alpaca_prompt(instruction, text).split(instruction)
    between, after = rest.split(text)
    plain_before, plain_after = alpaca_prompt(instruction, None).split(instruction)
    return (before, between, after), (plain_before, plain_after)


def _quoted(name: str) -> str:
    """One of the exporter's own column names (ALPACA_COLUMNS) as a string literal in double quotes."""
    assert name in ALPACA_COLUMNS, name
    return f'"{name}"'


def _cells(padded: dict[str, str]) -> str:
    """The script's ALPACA_CELLS for a CSV file: pandas applies converters before the columns are renamed
    (_renamed_columns), so they name the header's columns as written (those as literals read back)."""
    written = {stripped: name for name, stripped in padded.items()}
    quote = _literal if any(c in written for c in ALPACA_COLUMNS) else _quoted
    return _CSV_CELLS.format(table=", ".join(f"{quote(written.get(c, c))}: str" for c in ALPACA_COLUMNS))


def _alpaca_rows(schema: DataSchema, source: dict[str, Any], padded: dict[str, str]) -> tuple[str, str]:
    """For alpaca rows (data.schema alpaca, or auto on a file lorplan reads as alpaca), which TRL stops on: the
    script's functions that write them as prompt/completion as lorplan reads them (its rendered prompt, the output;
    the rows lorplan skips left out) and its dataset lines; CSV cells read as text (`source`, load_dataset's
    arguments, gains the converters). The rows are then TRL's prompt-completion rows (Prepared.alpaca: sft_config
    masks and words them so). schema: rows_schema(plan); padded: the CSV header's names the script renames
    (_header_renames). ("", "") for other data."""
    if schema != DataSchema.ALPACA:
        return "", ""
    csv = source.get("path") == "csv"
    if csv:
        source.update(keep_default_na=False, converters=_ALPACA_CELLS)
    with_input, without_input = _alpaca_pieces()
    code = _ALPACA_ROWS.format(names=", ".join(ALPACA_COLUMNS), columns=f"({', '.join(map(_quoted, ALPACA_COLUMNS))})",
                               with_input=_literal(with_input), without_input=_literal(without_input),
                               cells=_cells(padded) if csv else "")
    return code + "\n\n", _ALPACA_MAP


def _rows_under_key(source: dict[str, Any], key: str | None) -> dict[str, Any]:
    """load_dataset's arguments (`source`), with field naming the key where the .json data file's rows are the list
    under one JSON object's key (common.rows_key, whatever their schema and count: Prepared.rows_key): datasets'
    json builder (packaged_modules/json/json.py) then reads that list's items as the rows, as lorplan does, where
    it reads the file as one row of the object's keys unless told."""
    return source if key is None else {**source, "field": key}


def _header_renames(plan) -> dict[str, str]:
    """For a CSV or TSV data file whose header has names with spaces around them (common.padded_names), which
    lorplan reads stripped and datasets' csv builder (pandas) as written: those names as written -> as lorplan
    reads them, which the script renames (_renamed_columns: Prepared.padded_header). {} for other data, and for a
    header where the renamed names would repeat one another (no renaming gives datasets lorplan's columns: TRL's
    line stays)."""
    padded = padded_names(plan.data.path)
    names = [padded.get(n, n) for n in csv_header(plan.data.path)]
    if not padded or len(set(names)) != len(names):
        return {}
    return padded


def _renamed_columns(padded: dict[str, str]) -> str:
    """The script's line renaming the header's padded columns (_header_renames) to lorplan's names right after
    load_dataset (a literal mapping read at export time); "" for none."""
    if not padded:
        return ""
    return ("    # the header's names with spaces around them, as lorplan reads them (datasets keeps the spaces)\n"
            f"    dataset = dataset.rename_columns({_literal(padded)})\n")


_MEMORY_NOTE = ("memory: lorplan's figures follow transformers' and peft's code paths; Unsloth's kernels (fused LoRA, "
                "its gradient checkpointing and cross-entropy) use less, so the plan's bytes are an upper bound here")

_DOC = '''"""Train the plan's LoRA adapter with Unsloth and TRL's SFTTrainer, then save it into OUTPUT_DIR.

Run: python THIS.py (importing it runs nothing). Written by lorplan for unsloth {version}; the warnings
above name "TRL" for TRL's SFTTrainer, which Unsloth patches and this script trains with.
"""'''


def script(plan, warnings: list[str], plan_file: str | None, spec=None) -> str:
    """The text of unsloth_train.py for `plan`; adds to `warnings` what Unsloth cannot say. spec: the plan's model's,
    for the up-cast's figures (None: read here, kbit)."""
    warnings += common_lora_warnings(plan, "Unsloth", patterns=False, layers=True, bias=True)
    warnings += cpu_changes(plan)
    _hardware(plan, warnings)
    load = _from_pretrained(plan, warnings)
    peft = _get_peft_model(plan, warnings)
    # what the script does to the data before TRL sees it, which TRL's lines then say as done
    chat, key, padded, schema = _renamed_chat(plan), rows_key(plan.data.path), _header_renames(plan), rows_schema(plan)
    prepared = Prepared(rows_key=key is not None, padded_header=bool(padded), alpaca=schema == DataSchema.ALPACA,
                        chat_roles=chat is not None, seeded_split=True)  # held_out below passes the plan's seed
    data = sft_dataset(plan, warnings, prepared)
    sft = sft_config(plan, warnings, prepared)
    for name in ("eval_strategy", "eval_steps"):  # SFTConfig's; sft_dataset gives them with the held-out split
        if name in data:
            sft[name] = data[name]
    chat_code, chat_map = _chat_roles(chat)
    (source,) = data["datasets"]
    source = _rows_under_key(dict(source), key)
    rename = _renamed_columns(padded)
    alpaca_code, alpaca_map = _alpaca_rows(schema, source, padded)
    if schema in _PROMPT_COMPLETION_ROWS:
        sft["dataset_text_field"] = None
    warnings.append(_MEMORY_NOTE)
    # unsloth/models/_utils.py prepare_model_for_kbit_training, which get_peft_model runs, is unsloth_zoo's
    # training_utils.py prepare_model_for_training(train_layernorms=False, train_embedding=False, train_lm_head=False):
    # with LoRA it casts the trainable LoRA weights alone to fp32 and leaves the frozen base in its dtype
    warnings += kbit.priced_less_note(plan, "Unsloth calls no peft prepare_model_for_kbit_training: its own "
                                      "preparation (unsloth_zoo training_utils.py prepare_model_for_training, run "
                                      "by get_peft_model) casts the LoRA weights alone to fp32 and leaves the base's "
                                      f"unquantized weights in {plan.training.precision}", spec=spec)
    split = data["test_split_size"]
    where = f"plan {_printable(plan_file)}" if plan_file else "the planner's plan"
    ind = "    "
    held_out = (f"{ind}held_out = dataset.train_test_split(test_size={_literal(split)}, "
                f"seed={_literal(plan.training.seed)})\n"
                f"{ind}dataset, eval_dataset = held_out[\"train\"], held_out[\"test\"]\n"
                if split else f"{ind}eval_dataset = None\n")
    return (
        # "coding: utf-8" first: Python reads the first "coding:" or "coding=" in lines 1-2 as the file's encoding
        # (PEP 263), and the plan's file name here or a path in the line below could name another (utf-7 turns
        # "+ACI-" in a literal into a quote)
        f"# Unsloth training script written by lorplan (coding: utf-8) from {where} (python THIS.py)\n"
        + warning_comment(warnings)
        + _DOC.format(version=UNSLOTH_VERSION) + "\n\n"
        + f"OUTPUT_DIR = {_literal(plan.training.output_dir)}\n\n\n"
        + chat_code
        + alpaca_code
        + "def main():\n"
        + f"{ind}from unsloth import FastLanguageModel  # first: Unsloth patches transformers and TRL as it loads\n\n"
        + f"{ind}import torch\n"
        + f"{ind}from datasets import load_dataset\n"
        + f"{ind}from trl import SFTConfig, SFTTrainer\n\n"
        + f"{ind}model, tokenizer = " + _call("FastLanguageModel.from_pretrained", load, ind) + "\n"
        + f"{ind}model = " + _call("FastLanguageModel.get_peft_model", peft, ind, first="model") + "\n"
        + f"{ind}dataset = " + _call("load_dataset", source, ind) + "\n"
        + rename
        + chat_map
        + alpaca_map
        + held_out
        + f"{ind}config = " + _call("SFTConfig", sft, ind) + "\n"
        + f"{ind}trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=dataset,\n"
        + f"{ind}                     eval_dataset=eval_dataset, args=config)\n"
        + f"{ind}trainer.train()\n"
        + f"{ind}model.save_pretrained(OUTPUT_DIR)  # the adapter\n"
        + f"{ind}tokenizer.save_pretrained(OUTPUT_DIR)\n\n\n"
        + "if __name__ == \"__main__\":\n"
        + f"{ind}main()\n"
    )


def export_unsloth(plan, plan_file: str | None = None, spec=None) -> ExportResult:
    """The plan as an Unsloth training script (unsloth_train.py), with what Unsloth cannot express as warnings
    (also its header's `# lorplan: WARNING:` lines). plan_file: the plan's file name for the header (None: the
    planner's plan)."""
    warnings: list[str] = []
    text = script(plan, warnings, plan_file, spec)
    fmt = ExportFormat.UNSLOTH
    return ExportResult(fmt.value, {output_name(fmt): text}, tuple(warnings))
