"""What the YAML exporters share: the optimizer warning, dataset file types and the LoRA features a tool lacks.

How each tool spells an optimizer, dtype or attention implementation is in lorplan.core.vocab.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from lorplan.core.jsontext import loads_json
from lorplan.core.units import counted
from lorplan.core.vocab import ExportFormat, LoraBias, Optimizer, Task


def optimizer_warnings(plan, tool: str) -> list[str]:
    """transformers' optim names have no SGD with momentum: it is written as plain sgd, with this warning."""
    if plan.training.optimizer == Optimizer.SGD_MOMENTUM:
        return [f"{tool}: optimizer sgd-momentum is written as sgd; add momentum through the tool's optim args"]
    return []


# `lorplan plan --rope-scaling F` is linear position interpolation (Chen et al. 2023, arXiv 2306.15595): the type
# every tool spells the same way ("linear" in transformers' rope_parameters, axolotl and LLaMA-Factory).
ROPE_SCALING_TYPE = "linear"


def model_config(plan) -> dict | None:
    """The plan's model's config.json, read offline from the catalog, the model's folder or the Hugging Face cache;
    None when lorplan finds no config naming the model exactly (a misspelled name that only resolves
    approximately counts as none) or the file holds no object."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model.resolve import resolve_model
    from lorplan.core.model.sources import read_config

    try:
        source = resolve_model(plan.model.source)
        if source.note is not None:
            return None
        cfg = read_config(source.config_path)
    except (BadInput, OSError, ValueError):  # a name no file system takes (a NUL byte, too long): no config
        return None
    return cfg if isinstance(cfg, dict) else None


def model_rope_theta(plan) -> float | None:
    """The plan's model's RoPE base (config.json's rope_theta, or rope_parameters.rope_theta as transformers 5
    writes it), read by model_config; None when lorplan finds no config naming the model exactly or the config
    has no rope_theta."""
    cfg = model_config(plan)
    if cfg is None:
        return None
    for where in (cfg, cfg.get("text_config")):
        if not isinstance(where, dict):
            continue
        params = where.get("rope_parameters")
        theta = where.get("rope_theta", params.get("rope_theta") if isinstance(params, dict) else None)
        if isinstance(theta, (int, float)) and not isinstance(theta, bool):
            return float(theta)
    return None


def rope_scaling_warning(plan, tool: str, how: str) -> list[str]:
    """One line when the plan extends RoPE and `tool` takes it in its own way (`how`)."""
    factor = plan.model.rope_scaling
    if factor is None:
        return []
    return [f"{tool}: the plan extends RoPE by {factor:g} (linear, for seq_len {plan.training.seq_len}); {how}"]


def is_json_file(path: str) -> bool:
    return Path(path).suffix.lower() in (".json", ".jsonl")


# The rows chat_layout reads: those lorplan's schema detection reads (lorplan.core.data.schema)
CHAT_LAYOUT_ROWS = 200
# lorplan reads a row's chats from `messages`, else `conversations`, and each message's role from `role`, else
# `from`, its content from `content`, else `value` (lorplan.core.data.schema._messages)
_CHAT_KEYS = {"column": ("messages", "conversations"), "role": ("role", "from"), "content": ("content", "value")}


class ChatRow(NamedTuple):
    """One chat row ChatLayout read: its line (as lorplan's readers number rows), its role values as written, in
    order, and whether it writes its chats in the layout's column with the layout's role and content keys in every
    message (a tool entry written for the layout reads it as written; the others are the layout's `mixed`), as a
    list, not JSON text in a cell (datasets reads a string there: ChatLayout.text_cells)."""

    line: int
    roles: tuple[str, ...]
    as_layout: bool


@dataclass(frozen=True)
class ChatLayout:
    """How a chat data file writes its rows, from its first rows that lorplan trains (as its readers and schema
    read them): the column holding the messages, each message's role and content keys, and the role values as
    written (most common first). problem: why no chat row was read (the layout is then OpenAI's, the exports'
    default); mixed: the other columns or keys some rows use, which one tool entry cannot read beside the first
    (None when all agree); rows: the chat rows read; chats: those rows, each with its line and role values (ChatRow);
    text_cells: the chats are JSON text in the cells of a CSV or TSV file (lorplan parses them). A file whose rows
    are the list of one JSON object is rows_key's."""

    column: str = "messages"
    role_key: str = "role"
    content_key: str = "content"
    roles: tuple[str, ...] = ()
    rows: int = 0
    problem: str | None = None
    mixed: str | None = None
    chats: tuple[ChatRow, ...] = field(default=(), repr=False)  # each chat row read, in file order
    text_cells: bool = False

    @property
    def sharegpt(self) -> bool:
        """Whether the messages are ShareGPT's {from, value} (else OpenAI's {role, content})."""
        return self.role_key == "from"


def _first_key(obj: dict, keys: tuple[str, str]) -> str | None:
    return next((k for k in keys if k in obj), None)


@dataclass(frozen=True)
class DataHead:
    """What the exports read in the data file's first rows, all from one RowSource.head (a JSON array, and a JSON
    object of 16 MiB and up whose list holds the rows, are not read past them): the chat layout of the first
    CHAT_LAYOUT_ROWS (chat_layout), the key of the JSON object whose list holds the rows (RowSource.list_key,
    rows_key) and the schema lorplan detects in them (lorplan.core.data.schema.detect_from_rows, as
    detect_from_file; None where none fits or the file cannot be read); and a CSV or TSV file's header as written
    (RowSource.header: the names that reader strips for the rows' keys, surrounding spaces kept; csv_header), ()
    for other files, a header that is not UTF-8 and one that cannot be read."""

    layout: ChatLayout
    list_key: str | None = None
    schema: str | None = None
    header: tuple[str, ...] = ()


_HEADS: dict[tuple, DataHead] = {}  # (path, its size and mtime) -> its head: the planner exports per keypress
_KEPT = 8

def _per_version(kept: dict[tuple, Any], path: str, read: Callable[[str], Any]) -> Any:
    """read(path), kept in `kept` per file version (its size and modification time; the last _KEPT versions)."""
    try:
        stat = Path(path).stat()
        key: tuple | None = (str(path), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError):
        key = None
    if key is not None and key in kept:
        return kept[key]
    value = read(path)
    if key is not None:
        if len(kept) >= _KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = value
    return value


def data_head(path: str) -> DataHead:
    """The DataHead of the data file at `path`; never raises. Kept per file version: the planner's export dialog
    exports each format at every change, and one export asks for the layout, the key and the schema."""
    return _per_version(_HEADS, path, _read_head)


def chat_layout(path: str) -> ChatLayout:
    """The chat layout of the data file at `path`, from its first CHAT_LAYOUT_ROWS rows read by lorplan's own
    readers, counting the rows lorplan trains as chats (the keys lorplan reads, in its order); never raises: a
    file lorplan cannot read, or one without a chat row among them, gives the default layout with `problem` saying
    why. From data_head."""
    return data_head(path).layout


def rows_key(path: str) -> str | None:
    """The key of the one JSON object whose list holds the rows of the .json data file at `path` ({"data": [...]}
    or {"version": 1, "data": [...]}: "data"), which lorplan reads row by row, however many, and datasets' json
    builder as one row of the object's keys unless its `field` names the key; None for any other file (a JSON
    array, JSONL, a JSON object that is one row such as a pretty-printed chat) and one lorplan cannot read. From
    data_head."""
    if Path(path).suffix.lower() != ".json":
        return None
    return data_head(path).list_key


def _read_head(path: str) -> DataHead:
    from lorplan.core.data.readers import RowSource
    from lorplan.core.data.schema import DETECT_ROWS, detect_from_rows
    from lorplan.core.errors import BadInput

    source = None
    try:
        source = RowSource(path)
        rows = source.head(max(CHAT_LAYOUT_ROWS, DETECT_ROWS))
    except (BadInput, OSError, ValueError) as exc:  # missing, unreadable, binary, a name no file system takes
        problem = ChatLayout(problem=str(exc).removeprefix("--data ").splitlines()[0])
        return DataHead(problem, header=_utf8_header(source))
    try:
        schema: str | None = detect_from_rows(rows, str(path))  # as detect_from_file reads the file
    except BadInput:
        schema = None
    return DataHead(_chat_layout_of(rows[:CHAT_LAYOUT_ROWS], path), source.list_key, schema, _utf8_header(source))


def _utf8_header(source) -> tuple[str, ...]:
    """RowSource.header as DataHead keeps it: () where the reader read none, or a name holds bytes that are not
    UTF-8 (escaped by the reader: a tool reading the file as UTF-8 has no such name)."""
    from lorplan.core.data.readers import has_lone_surrogates

    header = getattr(source, "header", None) or ()
    return () if any(has_lone_surrogates(name) for name in header) else header


def csv_header(path: str) -> tuple[str, ...]:
    """The names in the header (first record) of the CSV or TSV data file at `path` as written, surrounding spaces
    kept; () for any other file, and one whose header cannot be read or is not UTF-8. The header lorplan's reader
    (RowSource) reads the rows with, before it strips the names, from data_head (read once per file version)."""
    from lorplan.core.data.readers import EXTENSIONS

    if EXTENSIONS.get(Path(path).suffix.lower()) not in ("csv", "tsv"):
        return ()
    return data_head(path).header


def padded_names(path: str) -> dict[str, str]:
    """Each name in the CSV or TSV header of the data file at `path` (csv_header) that has spaces around it, as
    written -> as lorplan reads it (stripped); datasets' csv builder (pandas) keeps the spaces, so a tool reading
    the file through it finds no column of lorplan's name. A name of spaces alone is left out (no column to
    name). {} for other files and headers without such names."""
    return {name: name.strip() for name in csv_header(path) if name != name.strip() and name.strip()}


def padded_header_note(path: str, tool: str) -> list[str]:
    """One line for a CSV or TSV data file whose header has names with spaces around them (padded_names), which
    `tool` reads with the spaces; none otherwise."""
    padded = padded_names(path)
    if not padded:
        return []
    return [f"data: the header of {path} writes {', '.join(map(repr, padded))} with spaces around the names; "
            f"lorplan reads them as {', '.join(map(repr, padded.values()))}, {tool} (datasets' csv builder) with "
            f"the spaces, so it finds no such columns: write the header without the spaces"]


def rows_key_note(path: str, key: str, tool: str, why: str) -> str:
    """The line for an export whose tool cannot be told rows_key's `key` (`why`): it reads none of lorplan's rows."""
    return (f"data: {path} is one JSON object whose list under {key!r} holds the rows, which lorplan reads row by "
            f"row and {tool} (datasets' json builder) as one row of the object's keys, so it trains none of "
            f"lorplan's rows: {why}; write the rows as JSONL or as a top-level JSON array")


def _chat_layout_of(rows: list[tuple[int, Any]], path: str) -> ChatLayout:
    """The ChatLayout of the data file at `path` from its first rows as RowSource.head reads them."""
    from lorplan.core.data.readers import Bad
    from lorplan.core.data.schema import to_example

    counts: dict[str, Counter] = {what: Counter() for what in (*_CHAT_KEYS, "roles")}
    messages: list[tuple[int, tuple[str, ...], set[tuple[str, str | None]]]] = []  # line, role values, its keys
    text_cells = False
    for line, row in rows:
        if isinstance(row, Bad) or not isinstance(row, dict):
            continue
        column = _first_key(row, _CHAT_KEYS["column"])
        value = row.get(column) if column else None
        in_text = isinstance(value, str)
        if in_text:  # a CSV cell holds the list as JSON text
            try:
                value = loads_json(value)  # nested too deeply for json is a ValueError, not a RecursionError
            except ValueError:
                continue
            text_cells = True
        if not isinstance(value, list) or isinstance(to_example(line, row, "messages"), Bad):
            continue  # no chat, or one lorplan does not train (an unknown role, no assistant turn)
        counts["column"][column] += 1
        said = []
        keys = {("column", column)} | ({("cell", "JSON text")} if in_text else set())  # text: never the layout
        for msg in value:
            for what in ("role", "content"):
                key = _first_key(msg, _CHAT_KEYS[what])
                keys.add((what, key))
                if key:
                    counts[what][key] += 1
            role = msg.get("role", msg.get("from"))
            counts["roles"][role] += 1
            said.append(role)
        messages.append((line, tuple(said), keys))
    if not messages:
        return ChatLayout(problem=f"{path}: no chat row (messages or conversations) in its first "
                                  f"{CHAT_LAYOUT_ROWS} rows")
    first = {what: (c.most_common(1)[0][0] if c else _CHAT_KEYS[what][0])
             for what, c in counts.items() if what != "roles"}
    others = [f"{what} {key!r} in {counted(n, 'row' if what == 'column' else 'message')}"
              for what, c in counts.items() if what != "roles"
              for key, n in c.items() if key != first[what]]
    mixed = None
    if others:
        mixed = (f"the first {len(messages)} chat rows of {path} mostly use column {first['column']!r} of "
                 f"{{{first['role']}, {first['content']}}} messages, but also " + ", ".join(others))
    return ChatLayout(first["column"], first["role"], first["content"],
                      tuple(r for r, _ in counts["roles"].most_common()), len(messages), None, mixed,
                      tuple(ChatRow(line, roles, keys <= set(first.items())) for line, roles, keys in messages),
                      text_cells)


def chat_file_notes(layout: ChatLayout, path: str, tool: str, *, text_cells: str | None) -> list[str]:
    """What `tool`, loading the data file with datasets' csv loader, reads otherwise than lorplan: chats written as
    JSON text in CSV cells (datasets reads a string; `text_cells` says what the tool then does, None where it parses
    the text itself). Rows under a JSON object's key, whatever their schema, are rows_key's."""
    notes = []
    if layout.text_cells and text_cells is not None:
        notes.append(f"chat rows: {path} holds each chat as JSON text in a cell, which lorplan parses and {tool} "
                     f"(datasets' csv loader) reads as a string: {text_cells}; save the rows as JSONL or Parquet")
    return notes


def common_lora_warnings(plan, tool: str, *, patterns: bool, layers: bool, bias: bool) -> list[str]:
    """What a tool without rank/alpha patterns, a layer subset or LoRA bias cannot express."""
    lo = plan.lora
    out: list[str] = []
    if not patterns and lo.rank_pattern:
        out.append(f"{tool} has no rank_pattern: the per-module ranks {dict(lo.rank_pattern)} are not applied "
                   f"(every module gets r={lo.r})")
    if not patterns and lo.alpha_pattern:
        out.append(f"{tool} has no alpha_pattern: the per-module alphas {dict(lo.alpha_pattern)} are not applied")
    if not layers and lo.layers_to_transform:
        out.append(f"{tool} has no layers_to_transform: adapters go on every layer, not only "
                   f"{list(lo.layers_to_transform)}")
    if not bias and lo.bias != LoraBias.NONE:
        out.append(f"{tool} always uses bias=\"none\": lora.bias = {lo.bias!r} is not applied")
    return out


# The trainers whose config trains a causal language model only (axolotl's, LLaMA-Factory's and TRL's SFT configs,
# and the Unsloth script, whose trainer is TRL's SFTTrainer:
# a `label` column and num_labels have no key there), so a classifier's plan would train something else
CAUSAL_ONLY = {ExportFormat.AXOLOTL: "axolotl", ExportFormat.LLAMAFACTORY: "LLaMA-Factory", ExportFormat.TRL: "TRL",
               ExportFormat.UNSLOTH: "Unsloth"}


# The formats that write the plan's training.attention as an attention implementation (axolotl's and TRL's
# attn_implementation, LLaMA-Factory's flash_attn): their export of a plan whose model's class lacks that attention
# would fail to load in the tool, so `lorplan export` refuses it (core.plan.context.plan_attention_refusal). The
# others write none (peft's adapter config, accelerate's launch config, the Unsloth script, whose library picks its
# kernels itself). tests/cli/test_export_attention.py checks this against what each exporter writes.
WRITES_ATTENTION = frozenset({ExportFormat.AXOLOTL, ExportFormat.LLAMAFACTORY, ExportFormat.TRL})

# The formats that write the plan's training.gradient_checkpointing (axolotl's and TRL's gradient_checkpointing,
# LLaMA-Factory's disable_gradient_checkpointing, the Unsloth script's use_gradient_checkpointing): their export of
# a plan that checkpoints a class that cannot (CTRL) would fail in the tool as lorplan train would, so `lorplan
# export` refuses it. peft's adapter config and accelerate's launch config write none.
# tests/cli/test_grad_checkpointing_everywhere.py checks this against what each exporter writes.
WRITES_GRADIENT_CHECKPOINTING = frozenset({ExportFormat.AXOLOTL, ExportFormat.LLAMAFACTORY, ExportFormat.TRL,
                                           ExportFormat.UNSLOTH})

# The plan settings a model's class may lack (core.plan.context.CLASS_SETTINGS, by plan key): what an export note
# calls the setting ("--to peft writes no attention setting, ...") and the formats that write it.
WRITES_SETTING = {"training.attention": ("attention", WRITES_ATTENTION),
                  "training.gradient_checkpointing": ("gradient checkpointing", WRITES_GRADIENT_CHECKPOINTING)}


def classifier_refusal(plan, fmt: str) -> str | None:
    """Why `fmt` cannot carry this plan (a sequence classifier for a trainer that trains causal LMs only), in one
    sentence naming the formats that do carry it, else None."""
    if plan.model.task == Task.CAUSAL_LM or fmt not in CAUSAL_ONLY:
        return None
    return (f"{CAUSAL_ONLY[ExportFormat(fmt)]} trains no sequence classifier from its config (it would train the "
            "model as a causal language model on the text); a classifier's plan exports --to peft, or trains with "
            "`lorplan train`")


# A causal-LM plan of a masked language model (config.json's architectures naming *ForMaskedLM alone:
# ModernBertForMaskedLM, BertForMaskedLM) is refused for every causal-only format (CAUSAL_ONLY), as a classifier's
# is: LLaMA-Factory 0.9.5's stages (pt, sft, rm, ppo, dpo, kto) and axolotl load the model with
# AutoModelForCausalLM, which has no ModernBERT class and builds a BERT as BertLMHeadModel, its attention
# bidirectional, so next-token prediction sees the token it predicts; TRL 1.16 loads config.json's class
# (ModernBertForMaskedLM) and peft's causal-LM LoRA (task CAUSAL_LM, also the default of Unsloth's get_peft_model,
# not installed here) fails on it ("object has no attribute 'prepare_inputs_for_generation'"). lorplan plans such a model as a sequence classifier. `lorplan export`
# and `lorplan train` refuse the plan earlier by its spec (core.plan.context.plan_task_refusal, which covers
# every encoder); this is the export's own check, from config.json alone.


def masked_lm_refusal(plan, fmt: str) -> str | None:
    """Why `fmt` (a causal-only format: CAUSAL_ONLY) cannot carry a causal-LM plan of a masked language model, in
    one sentence, else None. The model is a masked LM when its config.json's architectures name only *ForMaskedLM
    classes."""
    if plan.model.task != Task.CAUSAL_LM or fmt not in CAUSAL_ONLY:
        return None
    cfg = model_config(plan)
    names = cfg.get("architectures") if cfg is not None else None
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n.endswith("ForMaskedLM")
                                                      for n in names)):
        return None
    return (f"{CAUSAL_ONLY[ExportFormat(fmt)]} trains causal language models only (each token predicts the next), "
            f"and {plan.model.source!r} is a masked language model ({', '.join(names)}); plan it as a sequence "
            "classifier (task = \"sequence-classification\", as `lorplan plan` writes it), which exports --to peft "
            "or trains with `lorplan train`")
