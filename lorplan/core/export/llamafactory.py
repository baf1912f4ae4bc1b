"""LLaMA-Factory YAML export (hiyouga/LLaMA-Factory src/llamafactory/hparams/{finetuning,model,data}_args.py).

LLaMA-Factory spells all-linear as `lora_target: all`, defaults alpha to 2·rank and double quantization to
true, and turns gradient checkpointing off with `disable_gradient_checkpointing`; every value is written out.
It has no rank_pattern, alpha_pattern, layer subset or LoRA bias: those become warnings.
It reads the data through a dataset_info.json entry: the export writes its own, in a folder beside the YAML (_data).
The config is built table by table (model and LoRA, quantization, data, training, sharding); each part appends
what LLaMA-Factory cannot express to the shared warnings.
Checked against LLaMA-Factory 0.9.5 through its own hparams.get_train_args, with the newest transformers it
allows (5.6.0, what pip installs beside it).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from lorplan.core.export import DATA_FOLDER, ExportResult, dump_yaml, kbit, output_name
from lorplan.core.export.common import (
    ChatLayout,
    chat_file_notes,
    chat_layout,
    common_lora_warnings,
    model_config,
    optimizer_warnings,
    padded_header_note,
    rows_key,
    rows_key_note,
)
from lorplan.core.export.rope import FULL_ATTENTION, SLIDING_ATTENTION, RopeLayout, config_edit, rope_layout
from lorplan.core.units import count_text, counted
from lorplan.core.vocab import (
    HF_OPTIM,
    LLAMAFACTORY_FLASH_ATTN,
    TORCH_DTYPE,
    ZERO_STAGE,
    DataSchema,
    DType,
    ExportFormat,
    Sharding,
    TrainOn,
)

DATASET, DATASET_INFO = "lorplan_train", "dataset_info.json"  # the dataset's name, and the file naming it
# The dataset_info.json entry's columns per schema (LLaMA-Factory data/README.md); auto is written as text, and
# chats as the data file writes them (_chat_entry).
_COLUMNS: dict[DataSchema, dict[str, Any]] = {
    DataSchema.TEXT: {"formatting": "alpaca", "columns": {"prompt": "text"}},
    DataSchema.PROMPT_COMPLETION: {"formatting": "alpaca", "columns": {"prompt": "prompt", "response": "completion"}},
    DataSchema.ALPACA: {"formatting": "alpaca"},
    DataSchema.MESSAGES: {"formatting": "sharegpt"},  # columns and tags: _chat_entry
    DataSchema.TOKENIZED: {},
}
# The sharegpt entry's tag for each role value lorplan reads (lower-cased; lorplan.core.data.schema): the tags name
# one value each (src/llamafactory/data/parser.py, DatasetAttr), and data/converter.py (SharegptDatasetConverter)
# skips a row holding a value no tag names. developer has none: the entry's one system_tag is system.
_ROLE_TAG = {"human": "user_tag", "user": "user_tag", "gpt": "assistant_tag", "assistant": "assistant_tag",
             "system": "system_tag", "observation": "observation_tag", "tool": "observation_tag",
             "function_call": "function_tag"}
# The values the entry names where the file shows none: ShareGPT's (LLaMA-Factory's own defaults, data/README.md)
# or OpenAI's. observation_tag and function_tag are written only for a file that uses them: unwritten, they are
# LLaMA-Factory's observation and function_call.
_DEFAULT_TAGS = {True: {"user_tag": "human", "assistant_tag": "gpt", "system_tag": "system"},
                 False: {"user_tag": "user", "assistant_tag": "assistant", "system_tag": "system"}}


def _chat_entry(layout: ChatLayout, warnings: list[str]) -> dict[str, Any]:
    """The sharegpt entry's columns and tags as the data file writes its chats: the messages column, the role and
    content keys, and the role values its first rows use (the most common one where several name one role)."""
    seen: dict[str, list[str]] = {}
    for value in layout.roles:  # most common first
        if (tag := _ROLE_TAG.get(value.lower())) is not None:
            seen.setdefault(tag, []).append(value)
    tags = {"role_tag": layout.role_key, "content_tag": layout.content_key, **_DEFAULT_TAGS[layout.sharegpt]}
    tags.update({tag: values[0] for tag, values in seen.items()})
    if layout.problem is not None:
        warnings.append(f"chat rows: {layout.problem}: the entry is written for OpenAI-style rows (columns "
                        "messages: messages, tags role/content, user/assistant/system); for ShareGPT rows write "
                        "columns messages: conversations and tags role_tag from, content_tag value, user_tag "
                        "human, assistant_tag gpt, system_tag system")
    unread = [value for values in seen.values() for value in values[1:]]
    if layout.mixed is not None or unread:
        said = [layout.mixed] if layout.mixed is not None else []
        if unread:
            said.append(f"role values {', '.join(map(repr, unread))} beside the ones the tags name")
        warnings.append(f"chat rows: {'; '.join(said)}: the entry reads column {layout.column} with "
                        f"{layout.role_key} / {layout.content_key} and one value per role tag, and LLaMA-Factory "
                        "stops on a row or message without them and skips a row with a role no tag names: write "
                        "every row one way")
    return {"columns": {"messages": layout.column}, "tags": tags}


# data/converter.py (SharegptDatasetConverter) indexes the column's value as a list of messages
_TEXT_CELLS = "its sharegpt converter stops on it (TypeError: string indices must be integers)"


def _skipped_by_turns(layout: ChatLayout, tags: dict[str, str]) -> list[int]:
    """The lines of the chat rows read that LLaMA-Factory's sharegpt reader skips for their turns alone
    (data/converter.py, SharegptDatasetConverter): after a leading system_tag message, user or observation turns
    must alternate with assistant or function turns, from the first to an even count. Only rows the entry reads as
    written count: a row in another column or with other keys (it stops there: the layout's `mixed` line), one
    whose chat is JSON text in a CSV cell (it stops there too: the text-cells line) and one with a role value no
    tag names (it skips that for the role: _chat_entry's line, or the developer one) are not judged by the
    entry's tags whatever their order, and their own lines say why."""
    firsts = {tags["user_tag"], tags.get("observation_tag", "observation")}
    seconds = {tags["assistant_tag"], tags.get("function_tag", "function_call")}
    named = firsts | seconds | {tags["system_tag"]}
    skipped = []
    for line, roles, as_layout in layout.chats:
        if not as_layout or not set(roles) <= named:
            continue
        turns = roles[1:] if roles and roles[0] == tags["system_tag"] else roles
        alternate = all(role in (firsts if i % 2 == 0 else seconds) for i, role in enumerate(turns))
        if not (alternate and len(turns) % 2 == 0):
            skipped.append(line)
    return skipped


def _lines(lines: list[int]) -> str:
    """"line 3", "lines 2 and 4", "lines 2, 4, 6 and 9", the first _NAMED_LINES of more and how many others."""
    shown = [str(line) for line in lines[:_NAMED_LINES]]
    if len(lines) > _NAMED_LINES:
        shown.append(counted(len(lines) - _NAMED_LINES, "other"))
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    return f"line{'s' if len(lines) > 1 else ''} {listed}"


_NAMED_LINES = 5  # the lines the turns line names, at most


def _turns_note(layout: ChatLayout, tags: dict[str, str]) -> str | None:
    """The line on the rows LLaMA-Factory skips for their turns, with their count among the rows read and their
    lines; None when none of those rows is one (the line stands, uncounted, for a file whose rows were not
    read)."""
    counted_rows = ""
    if layout.problem is None:
        if not (skipped := _skipped_by_turns(layout, tags)):
            return None
        counted_rows = (f" (here: {count_text(len(skipped))} of the data file's first "
                        f"{count_text(layout.rows)} chat rows: {_lines(skipped)})" if layout.rows > 1 else
                        f" (here: the data file's one chat row read, {_lines(skipped)})")
    return ("chat rows whose turns do not alternate: LLaMA-Factory's sharegpt reader skips such a row (logging "
            "\"Skipping this abnormal example.\"): after a leading system message, user (or observation) and "
            "assistant (or function_call) turns must alternate from a user turn to an assistant turn (not two user "
            "turns in a row, a system turn later on or a user turn last), where lorplan trains the row's assistant "
            "turns" + counted_rows)


# What transformers 4 (4.55 to 4.57) builds from a rope_scaling (configure_rope's or config.json's), for the text
# configs transformers 5 keeps RoPE per layer type (rope.py's PER_LAYER_TYPE_BASES), as transformers 4.57.6 reads
# them: each layer type's base (config.json's key, the class default) and the scaling on the full-attention layers
# alone (Gemma3TextModel's and Gemma3nTextModel's rotary_emb_local: rope_local_base_freq, default RoPE; Olmo3Model's
# rotary_embs["sliding_attention"]: rope_theta, default RoPE). It reads no rope_parameters. Its ModernBERT configs have no rope_scaling attribute: configure_rope
# logs "Current model does not support RoPE scaling." and returns, and the model trains unscaled.
_TRANSFORMERS4_BASES: dict[str, dict[str, tuple[str, float]]] = {
    "gemma3_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                    SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "gemma3n_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                     SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "olmo3": {FULL_ATTENTION: ("rope_theta", 10_000.0), SLIDING_ATTENTION: ("rope_theta", 10_000.0)},
}
_NO_ROPE_SCALING_ON_4 = frozenset({"modernbert", "modernbert-decoder"})
# configure_rope's rope_scaling trains on transformers 4 with a factor of its own (a packed plan's cutoff_len is
# seq_len + 1: ceil(513 / 256) is 3 where the plan scales by 2), where a config.json rope_scaling is the plan's: for
# one RoPE for every layer, and for Gemma 3 and Gemma 3n as the hub writes them (transformers 4 reads the bases from
# the flat keys lorplan train's do), transformers 4.55 to 5.6 read it alike (checked on 4.57.6 and 5.6.0: the
# inv_freq lorplan train builds, both layer types)
_OWN_FACTOR_ON_4 = ("it sets the factor itself, to ceil(cutoff_len / the model's max_position_embeddings), which may "
                  "differ from the plan's")
# transformers 5 up to 5.6 (LLaMA-Factory 0.9.5's newest) keeps one RoPE for every Olmo 3 layer (a flat
# rope_parameters): a config.json rope_scaling scales its sliding-window layers too, which lorplan train's
# transformers does not; transformers 4.57.6 builds the edit as lorplan train (Olmo3Model.rotary_embs: the
# full-attention layers scaled, the sliding-window ones default RoPE, both on config.json's rope_theta: checked
# there), so the edit is for transformers 4, with the bases line (_transformers4_bases_note)
_ONE_ROPE_ON_5_6 = frozenset({"olmo3"})


def _bases(layout: RopeLayout, text: dict) -> tuple[dict[str, float], dict[str, float | None]] | None:
    """The RoPE base per layer type transformers 4 gives the model (_TRANSFORMERS4_BASES) and lorplan train's
    (the layout's), where transformers 4 scales the full-attention layers alone as lorplan train does; None where
    it scales no layer type so or the model is not one it keeps per layer type."""
    keys = _TRANSFORMERS4_BASES.get(layout.model_type or "")
    per_layer = layout.per_layer or {}
    if keys is None or layout.scaled != (FULL_ATTENTION,) or set(per_layer) != set(keys):
        return None
    ours = {kind: _float((per_layer[kind] or {}).get("rope_theta")) for kind in keys}
    theirs = {kind: _float(text.get(key)) or default for kind, (key, default) in keys.items()}
    return theirs, ours


def _float(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_ANY_TRANSFORMERS = "any transformers LLaMA-Factory 0.9.5 takes (4.55 to 5.6)"


def _option_unread(layout: RopeLayout, cfg: dict | None) -> tuple[str, str]:
    """Why LLaMA-Factory's rope_scaling option does not train the plan's scaling on transformers 4 (on 5 it fails to
    load any model), and the transformers a config.json edit (rope.config_edit) trains it with. configure_rope's
    factor is its own, ceil(cutoff_len / max_position_embeddings), on every model; where transformers 4 also
    builds the layers or bases other than lorplan train, that is the reason given. The edit is read as lorplan
    train scales the model by transformers 4.55 to 5.6 alike for one RoPE for every layer and for a model whose
    bases transformers 4 reads as lorplan train's (Gemma 3 as the hub writes it); by transformers 4 alone for Olmo
    3 (its bases on 4: _transformers4_bases_note); by transformers 5 for the rest."""
    five = "transformers 5 (LLaMA-Factory 0.9.5 takes up to 5.6)"
    if layout.per_layer is None:
        return _OWN_FACTOR_ON_4, _ANY_TRANSFORMERS
    if layout.model_type in _ONE_ROPE_ON_5_6:
        return _OWN_FACTOR_ON_4, ("transformers 4 (LLaMA-Factory 0.9.5 takes 4.55 and up; transformers 5 up to 5.6 "
                                "keeps one RoPE for every layer of this model, so there the edit scales the "
                                "sliding-window layers too)")
    if layout.model_type in _NO_ROPE_SCALING_ON_4:
        return ("the model's config has no rope_scaling there: LLaMA-Factory logs \"Current model does not support "
                "RoPE scaling.\" and trains it unscaled"), five
    bases = _bases(layout, cfg or {})
    if bases is None:
        return "it keeps no RoPE per layer type for the model as transformers 5 does", five
    theirs, ours = bases
    if theirs == ours:
        return _OWN_FACTOR_ON_4, _ANY_TRANSFORMERS
    return (f"it reads the layers' RoPE bases from flat keys, not this config's rope_parameters: "
            f"{_listed(theirs)}, where lorplan train's are {_listed(ours)}"), five


def _transformers4_bases_note(layout: RopeLayout, cfg: dict | None) -> list[str]:
    """For a model whose config.json edit trains lorplan's scaling on transformers 4 alone (Olmo 3), where
    transformers 4 gives its layers other RoPE bases than lorplan train's: the line saying so."""
    if layout.model_type not in _ONE_ROPE_ON_5_6 or (bases := _bases(layout, cfg or {})) is None:
        return []
    theirs, ours = bases
    other = [_LAYERS[kind] for kind in theirs if theirs[kind] != ours[kind]]
    if not other:
        return []
    # transformers 4.57.6's Olmo3Model gives both layer types config.json's rope_theta: one base of lorplan train's
    # for both is one key (checked there, with the rope_scaling edit: inv_freq of both rotary_embs equal lorplan
    # train's)
    (base, *more) = set(ours.values())
    fix = (f"; add \"rope_theta\": {json.dumps(base)} to the model's config.json (a local copy) too and "
           "transformers 4 builds lorplan train's bases" if base is not None and not more else "")
    return [f"on transformers 4, where the config.json rope_scaling trains the plan's scaling of this model, its "
            f"layers take RoPE bases {_listed(theirs)} (config.json's rope_theta, 10,000 without it, for both), "
            f"where lorplan train's (transformers 5) take {_listed(ours)}: the {' and '.join(other)} layers train "
            f"on other frequencies{fix}"]


_LAYERS = {FULL_ATTENTION: "full-attention", SLIDING_ATTENTION: "sliding-window"}


def _listed(bases: dict[str, float | None]) -> str:
    return ", ".join(f"{kind} {'none' if value is None else f'{value:,.0f}'}" for kind, value in bases.items())


def _model_and_lora(plan, warnings: list[str]) -> dict[str, Any]:
    """The base model, the LoRA stage and the adapter (PiSSA is LLaMA-Factory's only named initialisation)."""
    lo = plan.lora
    cfg: dict[str, Any] = {
        "model_name_or_path": plan.model.source,
        "model_revision": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code,
        "stage": _stage(plan),
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": lo.r,
        "lora_alpha": lo.alpha,
        "lora_dropout": lo.dropout,
        "lora_target": "all" if tuple(lo.target_modules) == ("all-linear",) else ",".join(lo.target_modules),
    }
    layout = rope_layout(plan) if plan.model.rope_scaling is not None else RopeLayout()
    if plan.model.rope_scaling is not None and layout.text_config:
        # configure_rope sets rope_scaling on the config AutoConfig loads, the top one, which a multimodal model's
        # language model does not read (Gemma3Config has no rope_scaling: "Current model does not support RoPE
        # scaling", and it trains unscaled)
        warnings.append(f"rope_scaling left out: LLaMA-Factory sets it on the model's top config, which "
                        f"the language model of {plan.model.source!r} does not read (it reads text_config): "
                        f"{config_edit(plan, layout)} (a local copy) to train the plan's RoPE scaling")
    elif plan.model.rope_scaling is not None:
        # configure_rope's rope_scaling loads on transformers 4 alone (it sets a float max_position_embeddings,
        # which transformers 5's typed configs refuse: StrictDataclassFieldValidationError), with a factor of its
        # own, ceil(cutoff_len / max_position_embeddings) (none where cutoff_len is within it); with no
        # rope_scaling in the YAML LLaMA-Factory leaves the config alone, and transformers reads the edit as
        # lorplan train scales the model (_option_unread: which transformers)
        why, versions = _option_unread(layout, model_config(plan))
        warnings.append(f"rope_scaling left out: LLaMA-Factory's rope_scaling fails to load {plan.model.source!r} "
                        f"on transformers 5 (it sets a float max_position_embeddings), and on 4 {why}: "
                        f"{config_edit(plan, layout)} (a local copy) to train the plan's RoPE scaling, with {versions}")
        warnings += _transformers4_bases_note(layout, model_config(plan))
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
    return cfg


def _quantization(plan, warnings: list[str]) -> dict[str, Any]:
    """bitsandbytes loading; the 4-bit compute dtype is not LLaMA-Factory's to set (it follows the precision)."""
    q, t = plan.quantization, plan.training
    if not (q.load_in_4bit or q.load_in_8bit):
        return {}
    wanted = TORCH_DTYPE[t.precision]
    if q.load_in_4bit and q.bnb_4bit_compute_dtype != wanted:
        warnings.append(f"LLaMA-Factory takes the 4-bit compute dtype from the precision ({wanted}), "
                        f"not {q.bnb_4bit_compute_dtype}")
    return {
        "quantization_method": "bnb",
        "quantization_bit": 4 if q.load_in_4bit else 8,
        "quantization_type": q.bnb_4bit_quant_type,
        "double_quantization": q.bnb_4bit_use_double_quant,
    }


def _schema(plan) -> DataSchema:
    """The schema the export writes the data as: the plan's, with auto written as text."""
    return DataSchema.TEXT if plan.data.schema == DataSchema.AUTO else plan.data.schema


def _stage(plan) -> str:
    """LLaMA-Factory's stage: pt for text (and auto, written as text), sft for the rest. Its sft drops a row
    without a response ("Dropped invalid example"), so text rows trained with sft trained nothing."""
    return "pt" if _schema(plan) == DataSchema.TEXT else "sft"


# Checked token for token against lorplan's encoder (lorplan.core.data.encode) through LLaMA-Factory 0.9.5's own
# get_dataset (tests/core/test_export_llamafactory_data.py). Its `default` template wraps a prompt as
# "Human: ...</s>\nAssistant:" and a completion as "...</s>\n": not what lorplan trains.
_TEXT_STAGE_NOTE = (
    "stage: pt trains each text then EOS on every token, as lorplan does, but starts it with BOS only when the "
    "tokenizer's add_bos_token is set (Llama 2, Mistral): a tokenizer whose post-processor adds BOS (Llama 3) "
    "trains without it there; packed, it cuts the concatenated texts into cutoff_len blocks as lorplan does")
_PROMPT_COMPLETION_NOTE = (
    "template: empty trains the prompt's tokens then the completion's, loss on the completion "
    "(train_on_prompt: every token), with no text of its own, but adds no EOS, which lorplan appends and trains "
    "(so the model learns to stop), and no BOS, which lorplan keeps where the tokenizer adds one (Llama): for "
    "lorplan's tokens, end each completion with the EOS token's text (e.g. </s>, <|endoftext|>) and start each "
    "prompt with the BOS token's where the tokenizer adds one. LLaMA-Factory tokenizes prompt and completion "
    "apart, lorplan as one string: they differ only where a token would span the join")
_ALPACA_NOTE = (
    "template: alpaca frames rows like lorplan's Stanford Alpaca prompt, with three differences: a newline after "
    "\"### Response:\", the input appended to the instruction on a new line (no \"### Input:\" block, and the "
    "shorter task sentence), and \"\\n\\n\" trained after the EOS; for lorplan's exact text, write rows as "
    "prompt/completion (the rendered prompt, the output) with data.schema = \"prompt-completion\"")
_MESSAGES_NOTE = (
    "template is unset: LLaMA-Factory builds one from the tokenizer's chat template (parse_template), as lorplan "
    "renders chats; name LLaMA-Factory's own (llama3, qwen, mistral, ...) if its parse fails. A tokenizer without "
    "a chat template gets the empty template there (the turns' text run together, no EOS), where lorplan writes "
    "\"<|role|>\\n\" before each turn")


# LLaMA-Factory src/llamafactory/data/parser.py (DatasetAttr): a sharegpt entry's tags name one string per role
# and no per-message field; data/converter.py (SharegptDatasetConverter) takes a leading system_tag message as the
# system and skips a row holding any other role ("Invalid role tag", "Skipping this abnormal example."), and
# passes content on as written, which data/formatter.py (StringFormatter.apply) refuses when it is no string
_CHAT_ROWS_NOTE = (
    "chat rows: LLaMA-Factory's sharegpt reader skips a row with a developer message (lorplan reads it as "
    "system; the entry has one system_tag), trains an assistant turn marked \"weight\": 0 (lorplan does not: the "
    "entry has no per-message field) and stops on a content of text parts (its formatter expects a string; "
    "lorplan joins the texts): write such rows with string content, role system and no weight-0 turns")


def _template(schema: DataSchema, warnings: list[str]) -> str | None:
    """The chat template that trains the plan's text (None: LLaMA-Factory parses the tokenizer's own)."""
    if schema == DataSchema.TEXT:
        warnings.append(_TEXT_STAGE_NOTE)
        return "empty"  # pt reads no template; empty keeps LLaMA-Factory from parsing or replacing one
    if schema == DataSchema.PROMPT_COMPLETION:
        warnings.append(_PROMPT_COMPLETION_NOTE)
        return "empty"
    if schema == DataSchema.ALPACA:
        warnings.append(_ALPACA_NOTE)
        return "alpaca"
    if schema == DataSchema.MESSAGES:
        warnings.append(_MESSAGES_NOTE)
        warnings.append(_CHAT_ROWS_NOTE)
        return None
    return "empty"  # pre-tokenized: LLaMA-Factory needs text columns (warned)


# data/loader.py _load_single_dataset hands datasets.load_dataset a file's builder, data_files and split (name and
# data_dir are a hub dataset's) and no builder keyword; dataset_info.json's entry (data/parser.py DatasetAttr) has
# columns, tags, split and the like, none naming a list inside the file
_NO_FIELD = "dataset_info.json has no key for datasets' `field`, which names the list, and its loader passes none"


def _data(plan, warnings: list[str], data_files: dict[str, str]) -> dict[str, Any]:
    """The dataset, template and cutoff. LLaMA-Factory reads a dataset by its name in dataset_dir's
    dataset_info.json, and the data at os.path.join(dataset_dir, file_name) (data/parser.py get_dataset_list,
    data/loader.py _load_single_dataset): a data path lorplan reads (absolute, lorplan.core.export.paths) is
    registered in a dataset_info.json of the export's own, in data_files (written in a folder beside the YAML, which
    dataset_dir names: DATA_FOLDER), never in one of the user's; a path found nowhere, written as typed, stays
    relative to the folder LLaMA-Factory runs in, so dataset_dir is its folder and a warning gives the entry to
    register there."""
    d, t = plan.data, plan.training
    data_path = Path(d.path)
    schema = _schema(plan)
    ours = data_path.is_absolute()
    if ours:
        dataset_dir = DATA_FOLDER
    else:
        dataset_dir = str(data_path.parent) if str(data_path.parent) else "."
    entry = {"file_name": d.path if ours else data_path.name, **copy.deepcopy(_COLUMNS[schema])}
    chat_notes: list[str] = []
    if schema == DataSchema.MESSAGES:
        layout = chat_layout(d.path)
        entry.update(_chat_entry(layout, chat_notes))
        if (turns := _turns_note(layout, entry["tags"])) is not None:
            chat_notes.append(turns)
        chat_notes += chat_file_notes(layout, d.path, "LLaMA-Factory", text_cells=_TEXT_CELLS)
    if ours:  # ASCII JSON: LLaMA-Factory opens the file in the locale's encoding
        data_files[DATASET_INFO] = json.dumps({DATASET: entry}, indent=2) + "\n"
    else:
        warnings.append(f"register the data in {dataset_dir}/{DATASET_INFO} as " + json.dumps({DATASET: entry}))
    warnings += chat_notes
    if (key := rows_key(d.path)) is not None:
        warnings.append(rows_key_note(d.path, key, "LLaMA-Factory", _NO_FIELD))
    warnings += padded_header_note(d.path, "LLaMA-Factory")
    if d.schema in (DataSchema.AUTO, DataSchema.TOKENIZED):
        warnings.append(f"data.schema {d.schema!r}: LLaMA-Factory needs text columns; check the entry in "
                        f"{DATASET_INFO}")
    cfg = {
        "dataset": DATASET,
        "dataset_dir": dataset_dir,
        "template": _template(schema, warnings),
        # LLaMA-Factory's DataArguments.__post_init__ takes one token off cutoff_len when packing
        "cutoff_len": t.seq_len + 1 if t.packing else t.seq_len,
        "packing": t.packing,
        "val_size": d.eval_split,
    }
    if _stage(plan) == "sft":  # pt trains every token and refuses train_on_prompt (get_train_args: "except SFT")
        cfg["train_on_prompt"] = d.train_on == TrainOn.ALL
    return cfg


def _training(plan, warnings: list[str]) -> dict[str, Any]:
    """Batch, schedule, optimizer, checkpointing, attention and precision."""
    t = plan.training
    cfg: dict[str, Any] = {
        "per_device_train_batch_size": t.micro_batch,
        "gradient_accumulation_steps": t.gradient_accumulation,
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_ratio": t.warmup_ratio,
    }
    # transformers 5.0 to 5.6 (the newest LLaMA-Factory 0.9.5 allows) still read warmup_ratio, with a deprecation
    # warning, and 4.x reads it alone (its warmup_steps is an int), so warmup_ratio is the key every version takes
    warnings.append(f"on a transformers without warmup_ratio (removed after 5.6), write warmup_steps: "
                    f"{t.warmup_ratio} instead (a float below 1 is a ratio there)")
    if t.max_steps is not None:
        cfg["max_steps"] = t.max_steps
    else:
        cfg["num_train_epochs"] = t.epochs
    cfg["optim"] = HF_OPTIM[t.optimizer]
    cfg["weight_decay"] = t.weight_decay
    cfg["disable_gradient_checkpointing"] = not t.gradient_checkpointing
    cfg["flash_attn"] = LLAMAFACTORY_FLASH_ATTN[t.attention]
    cfg["bf16"] = t.precision == DType.BF16
    cfg["fp16"] = t.precision == DType.FP16
    cfg["seed"] = t.seed
    cfg["output_dir"] = t.output_dir
    cfg["save_steps"] = t.save_steps
    cfg["logging_steps"] = t.logging_steps
    return cfg


def _sharding(plan, warnings: list[str]) -> dict[str, Any]:
    """DeepSpeed through LLaMA-Factory's bundled ZeRO configs; FSDP is accelerate's (a warning says how)."""
    sharding = plan.hardware.sharding
    if sharding in ZERO_STAGE:
        warnings.append("deepspeed points at LLaMA-Factory's bundled examples/deepspeed config")
        return {"deepspeed": f"examples/deepspeed/ds_z{ZERO_STAGE[sharding]}_config.json"}
    if sharding == Sharding.FSDP:
        warnings.append("LLaMA-Factory runs FSDP through accelerate: launch with the accelerate export "
                        "(accelerate launch --config_file ... src/train.py this.yaml)")
    return {}


def export_llamafactory(plan, spec=None) -> ExportResult:
    """The plan as a LLaMA-Factory config (`llamafactory-cli train THIS.yaml`), with warnings for the rest."""
    warnings = common_lora_warnings(plan, "LLaMA-Factory", patterns=False, layers=False, bias=False)
    warnings += optimizer_warnings(plan, "LLaMA-Factory")
    # the parts run in this order, so the warnings come out in the order of the keys they concern
    data_files: dict[str, str] = {}
    cfg = {**_model_and_lora(plan, warnings), **_quantization(plan, warnings),
           **_data(plan, warnings, data_files), **_training(plan, warnings), **_sharding(plan, warnings)}
    # LLaMA-Factory calls no prepare_model_for_kbit_training: model/patcher.py patch_model runs
    # model/model_utils/checkpointing.py prepare_model_for_training, which up-casts the 1-D norm weights alone and
    # only with upcast_layernorm (off by default), and model/adapter.py init_adapter casts the trainable weights
    warnings += kbit.priced_less_note(plan, "LLaMA-Factory calls no prepare_model_for_kbit_training and leaves the "
                                      f"base's unquantized weights in {plan.training.precision} (its "
                                      "model/model_utils/checkpointing.py up-casts the norms' weights alone, and "
                                      "only with upcast_layernorm, off by default)", spec=spec)
    fmt = ExportFormat.LLAMAFACTORY
    text = dump_yaml("LLaMA-Factory config written by lorplan (llamafactory-cli train THIS.yaml)", cfg, warnings)
    return ExportResult(fmt.value, {output_name(fmt): text}, tuple(warnings), data_files=data_files)
