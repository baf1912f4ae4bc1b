"""The axolotl export's data part: the dataset entry per schema (its type fields), the split, loss masking,
and how sequences are cut and packed (lorplan.core.export.axolotl writes the rest of the config)."""

from __future__ import annotations

import copy
from typing import Any

from lorplan.core.export.common import (
    ChatLayout,
    chat_file_notes,
    chat_layout,
    is_json_file,
    padded_header_note,
    rows_key,
    rows_key_note,
)
from lorplan.core.vocab import DataSchema, TrainOn

# The dataset entry's type fields per schema (axolotl utils/schemas/datasets.py). Pre-tokenized data has none:
# axolotl reads input_ids / labels when no type is given.
_DATASET_TYPE: dict[DataSchema, dict[str, Any]] = {
    DataSchema.TEXT: {"type": "completion", "field": "text"},
    DataSchema.PROMPT_COMPLETION: {
        "type": {
            "field_instruction": "prompt",
            "field_output": "completion",
            "format": "{instruction}",
            "no_input_format": "{instruction}",
        },
    },
    DataSchema.ALPACA: {"type": "alpaca"},
    DataSchema.MESSAGES: {
        "type": "chat_template",
        # the column and message keys are the data file's (_chat_fields): axolotl src/axolotl/utils/schemas
        # /datasets.py reads message_property_mappings ({template key: the message's key}; the older
        # message_field_role / message_field_content are still taken, deprecated, and folded into it), and
        # prompt_strategies/chat_template.py's transform_message builds each turn from it
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        # axolotl src/axolotl/prompt_strategies/chat_template.py: ChatTemplatePrompter maps each message's role
        # through `roles` (target: [sources]), which replaces its default table (human/user, assistant/gpt,
        # system, tool) and passes an unlisted role on as written: this is lorplan's table (lorplan.core.data
        # .schema), so a developer message reaches the template as system, as lorplan renders it
        "roles": {
            "system": ["system", "developer"],
            "user": ["user", "human"],
            "assistant": ["assistant", "gpt", "function_call"],
            "tool": ["tool", "observation"],
        },
        # the same file: get_conversation_thread reads message_field_training from each message, and a value that
        # is not null decides that turn alone (should_train = it, over roles_to_train and train_on_inputs): an
        # assistant turn with OpenAI's "weight": 0 is then not trained, whatever train_on_inputs says, as in lorplan
        "message_field_training": "weight",
    },
    DataSchema.TOKENIZED: {},
}
# The same file: axolotl 0.21's get_conversation_thread joins a content of parts through _convert_content_parts,
# each dict part's text (or content, or value) one after another, as lorplan joins text parts; it takes a part of
# any type, so an image or audio part is read as no text where lorplan skips the row with a reason
_PARTS_NOTE = (
    "chat rows: axolotl joins a content of text parts into one string as lorplan does (axolotl 0.21; older versions "
    "hand the list to the chat template as the file writes it), but trains a row with an image or audio part, that "
    "part read as no text, where lorplan skips the row with a reason")


# axolotl 0.21 utils/data/shared.py load_dataset_with_config hands datasets.load_dataset a local file's path as
# data_files and its split, name, streaming and trust_remote_code alone; the entry's `field` is a completion
# dataset's text column (prompt_strategies/completion.py), not datasets' json builder's
_NO_FIELD = ("axolotl's dataset entry passes no key to datasets' `field`, which names the list (its own field is a "
             "completion dataset's text column)")


def _chat_fields(entry: dict[str, Any], layout: ChatLayout, warnings: list[str]) -> None:
    """field_messages and message_property_mappings as the data file writes its chats (ShareGPT's conversations
    of {from, value}, OpenAI's messages of {role, content}); `roles` reads human and gpt, and each role value
    the file spells otherwise than lorplan's table (Human, GPT: lorplan reads roles lower-cased, axolotl's roles
    match them as written and pass an unlisted one on to the template as it is written)."""
    entry["field_messages"] = layout.column
    entry["message_property_mappings"] = {"role": layout.role_key, "content": layout.content_key}
    for value in layout.roles:
        target = next((t for t, sources in entry["roles"].items() if value.lower() in sources), None)
        if target is not None and value not in entry["roles"][target]:
            entry["roles"][target].append(value)
    if layout.problem is not None:
        warnings.append(f"chat rows: {layout.problem}: written for OpenAI-style rows (field_messages: messages, "
                        "message_property_mappings role: role, content: content); for ShareGPT rows write "
                        "field_messages: conversations and message_property_mappings role: from, content: value")
    elif layout.mixed is not None:
        warnings.append(f"chat rows: {layout.mixed}: axolotl reads {layout.column} with {layout.role_key} / "
                        f"{layout.content_key} alone (a row without the column stops it: \"Messages is null\"; "
                        "a message without the keys is a turn without role or content): write every row one way")


def _dataset(plan, warnings: list[str]) -> dict[str, Any]:
    d = plan.data
    entry: dict[str, Any] = {"path": d.path}
    if is_json_file(d.path):
        entry["ds_type"] = "json"
        if (key := rows_key(d.path)) is not None:
            warnings.append(rows_key_note(d.path, key, "axolotl", _NO_FIELD))
    warnings += padded_header_note(d.path, "axolotl")
    schema = d.schema
    if schema == DataSchema.AUTO:
        warnings.append("data.schema is auto: written as type completion (field text); set the real type")
        schema = DataSchema.TEXT
    if schema == DataSchema.TOKENIZED:
        warnings.append("pre-tokenized data: axolotl reads input_ids/labels when no dataset type is given")
    entry.update(copy.deepcopy(_DATASET_TYPE[schema]))
    if schema == DataSchema.MESSAGES:
        layout = chat_layout(d.path)
        _chat_fields(entry, layout, warnings)
        warnings += chat_file_notes(layout, d.path, "axolotl", text_cells=None)  # its chat_template parses JSON text
        warnings.append(_PARTS_NOTE)
    return entry


def data_config(plan, warnings: list[str]) -> dict[str, Any]:
    """The dataset, its split and loss masking, and how sequences are cut and packed."""
    t = plan.training
    return {
        "datasets": [_dataset(plan, warnings)],
        "val_set_size": plan.data.eval_split,
        "train_on_inputs": plan.data.train_on == TrainOn.ALL,
        "sequence_len": t.seq_len,
        "sample_packing": t.packing,
        "pad_to_sequence_len": t.packing,
    }
