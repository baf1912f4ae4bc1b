"""Schemas: which columns a dataset uses, and turning one row into an `Example` (or the reason it cannot be)."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from lorplan.core.data.example import SCHEMAS, Example, alpaca_prompt
from lorplan.core.data.readers import Bad, RowSource, has_lone_surrogates
from lorplan.core.errors import BadInput, UnknownSchema
from lorplan.core.jsontext import loads_json

DETECT_ROWS = 200  # the rows schema detection reads (open_records, detect_from_file)
# "developer" is OpenAI's newer name for the system message: the chat templates that know it (gpt-oss, Gemma 4)
# render a leading one exactly as a system message; those that do not drop it (Qwen2.5, Qwen3, Phi-3) or write a
# role header the model never saw (Llama 3), so it is read as "system". A chat message's role value, lowercased, ->
# the role lorplan reads (the exports compare the tools' readings with it).
CHAT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user",
                   "assistant": "assistant", "tool": "tool", "function_call": "assistant", "observation": "tool",
                   "developer": "system"}
_TEXT_PART = 'expected {"type": "text", "text": ...}'
_CALL_KEYS = ("tool_calls", "function_call")  # OpenAI's assistant tool call, and its older single-function form
# Chat Completions' text part, and the Responses API's (input_text in a user turn, output_text in an assistant's)
_TEXT_KINDS = ("text", "input_text", "output_text")
# OpenAI's fine-tuning guide ("multi-turn chat examples"): an assistant message's "weight" is 0 (do not train on
# this turn) or 1 (train on it, as with no weight); its API puts the key on assistant messages only.
_WEIGHT_RULE = "OpenAI's weight is 0 (do not train on this assistant turn) or 1, on assistant messages only"
_LABEL_COLUMN = "label"
_INTEGER = re.compile(r"-?[0-9]+")
_WHOLE_DECIMAL = re.compile(r"-?[0-9]+\.0*")  # "1.0": pandas' integer with missing values, in a CSV cell
# a CSV cell that reads as a number (what labels.ambiguous_name calls one): one that is not whole ("2.5", "1e-1")
# is no class label, as the JSON number 2.5 is
_CELL_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_LABEL_RULE = "a class label is a whole number (its class id) or a name"


def schema_of_columns(columns: Iterable[str]) -> str | None:
    """The schema a set of column names implies, or None. Checked in order: messages, tokenized, alpaca,
    prompt-completion, text."""
    cols = set(columns)
    if "messages" in cols or "conversations" in cols:
        return "messages"
    if "input_ids" in cols:
        return "tokenized"
    if "instruction" in cols and "output" in cols:
        return "alpaca"
    if "prompt" in cols and "completion" in cols:
        return "prompt-completion"
    if "text" in cols:
        return "text"
    return None


def detect_from_rows(rows: Iterable[tuple[int, Any]], where: str) -> str:
    """Vote over the first rows that are objects; raises BadInput naming `where` when no schema fits."""
    votes: Counter[str] = Counter()
    seen_columns: Counter[str] = Counter()
    first_bad = ""
    for n, (line, row) in enumerate(rows):
        if n >= DETECT_ROWS:
            break
        if isinstance(row, Bad):
            first_bad = first_bad or f"; line {line}: {row.reason}"
            continue
        seen_columns.update(row.keys())
        schema = schema_of_columns(row.keys())
        if schema:
            votes[schema] += 1
    if votes:
        return votes.most_common(1)[0][0]
    if not seen_columns:
        raise BadInput(f"--data {where}: no readable row in the first {DETECT_ROWS} rows{first_bad}")
    cols = ", ".join(c for c, _ in seen_columns.most_common(8))
    raise UnknownSchema(
        f"--data {where}: no known schema in columns ({cols}); expected text, prompt+completion, "
        "instruction+output, messages or input_ids"
    )


def detect_from_file(path: str | os.PathLike[str]) -> str:
    """The schema of the data file or folder at `path`, from its first rows as detect_from_rows votes, read by
    RowSource.head: a JSON array, and a JSON object of 16 MiB and up whose list holds the rows ({"data": [...]}),
    are not read past them. Raises BadInput as RowSource and detect_from_rows do."""
    return detect_from_rows(RowSource(path).head(DETECT_ROWS), str(path))


def check_schema(name: str) -> str:
    if name not in SCHEMAS:
        raise BadInput(f"--schema {name!r}: expected one of auto, {', '.join(SCHEMAS)}")
    return name


def to_example(line: int, row: Any, schema: str, *, text_cells: bool = False) -> Example | Bad:
    """Normalise one row for `schema`, or say why it is unusable (missing field, wrong type, empty).

    text_cells: every value of the row is text (CSV, TSV), so a `label` cell such as "1.0" is the number pandas
    wrote for an integer column with missing values (read_label)."""
    if isinstance(row, Bad):
        return row
    try:
        label, problem = read_label(row.get(_LABEL_COLUMN), text_cells=text_cells)
        lab = {"label": label, "label_problem": problem}
        if schema == "text":
            return Example(line, schema, text=_text(row, "text"), **lab)
        if schema == "prompt-completion":
            prompt = _text(row, "prompt", allow_empty=True)
            return Example(line, schema, prompt=prompt, completion=_text(row, "completion"), **lab)
        if schema == "alpaca":
            instruction = _text(row, "instruction")
            input_text = _text(row, "input", allow_empty=True, optional=True)
            return Example(line, schema, prompt=alpaca_prompt(instruction, input_text),
                           completion=_text(row, "output"), **lab)
        if schema == "messages":
            messages, untrained = _messages(row)
            return Example(line, schema, messages=messages, untrained_turns=untrained, **lab)
        if schema == "tokenized":
            ids = _int_list(row, "input_ids")
            if not ids:
                return Bad("empty input_ids")
            labels = _int_list(row, "labels", optional=True)
            if labels is not None and len(labels) != len(ids):
                return Bad(f"labels has {len(labels)} items, input_ids has {len(ids)}")
            return Example(line, schema, input_ids=ids, labels=labels, **lab)
    except _RowError as exc:
        return Bad(str(exc))
    raise BadInput(f"--schema {schema!r}: expected one of {', '.join(SCHEMAS)}")


class _RowError(Exception):
    pass


def _type_name(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", list: "a list",
            dict: "an object", str: "a string"}.get(type(value), type(value).__name__)


def _text(row: dict, key: str, *, allow_empty: bool = False, optional: bool = False) -> str | None:
    if key not in row or (optional and row[key] is None):
        if optional:
            return None
        raise _RowError(f"missing field {key!r}")
    value = row[key]
    if not isinstance(value, str):
        raise _RowError(f"field {key!r} is {_type_name(value)}, expected a string")
    if not allow_empty and not value.strip():
        raise _RowError(f"empty {key}")
    _check_unicode(value, f"field {key!r}")
    return value


def _check_unicode(text: str, what: str) -> None:
    # JSON may escape a lone surrogate ("\ud800"): valid JSON, but no tokenizer can encode it.
    if has_lone_surrogates(text):
        raise _RowError(f"{what} holds a lone surrogate (invalid Unicode)")


def read_label(value: Any, *, text_cells: bool = False) -> tuple[int | str | None, str | None]:
    """(label, problem) for a row's `label` value: an integer is a class id; a whole float (1.0, what pandas
    writes for an integer column with missing values) is that integer; a string of digits (" 3 ") is the integer,
    in a CSV cell a whole decimal ("1.0") too, any other text a name; null, an empty string or no column: no label.
    Any other value is no class label and comes back as (None, the reason): a number that is not whole (2.5), NaN
    or infinity, a boolean, a list or an object; in a CSV cell (text_cells), where a number is text, a cell that
    reads as a number that is not whole ("2.5", "1e-1") too, named as the cell writes it."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"label {json.dumps(value)} is a boolean; {_LABEL_RULE}"
    if isinstance(value, int):
        return value, None
    if isinstance(value, (float, Decimal)):
        if math.isfinite(value) and value == int(value):
            return int(value), None
        return None, f"label {_number(value)} is not a whole number; {_LABEL_RULE}"
    if isinstance(value, str):
        # digits alone are a class id ("3", " -1 "); "²" or "--1" pass str.isdigit but are no int: names
        text = value.strip()
        if text_cells and _CELL_NUMBER.fullmatch(text) and _fraction(text):
            return None, f"label {text} is not a whole number; {_LABEL_RULE}"
        if _INTEGER.fullmatch(text) or (text_cells and _WHOLE_DECIMAL.fullmatch(text)):
            try:
                return int(text.split(".")[0]), None
            except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits): a name
                pass
        return text or None, None
    return None, f"label is {_type_name(value)}; {_LABEL_RULE}"


def _fraction(text: str) -> bool:
    """Whether a cell that reads as a number is one that is not whole, exactly (no float rounding: "1e-99999" is
    not whole, "1e99999" is). An exponent past what Decimal holds ("1e99999999999999999999999") is left a name."""
    try:
        number = Decimal(text)
        return number != number.to_integral_value()
    except InvalidOperation:
        return False


def _number(value: float | Decimal) -> str:
    """A number as the file spells it (JSON's NaN and Infinity, Python's repr otherwise)."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    return str(value)


def _maybe_json(value: Any) -> Any:
    # CSV cells hold lists as JSON text; loads_json: nesting too deep is a ValueError, not a RecursionError.
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return loads_json(value)
        except ValueError:
            return value
    return value


def _int_list(row: dict, key: str, *, optional: bool = False) -> tuple[int, ...] | None:
    if key not in row or (optional and row[key] in (None, "")):  # "" is an empty CSV cell
        if optional:
            return None
        raise _RowError(f"missing field {key!r}")
    value = _maybe_json(row[key])
    if not isinstance(value, (list, tuple)):
        raise _RowError(f"field {key!r} is {_type_name(value)}, expected a list of integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _RowError(f"field {key!r} holds a non-integer")
    return tuple(value)


def _messages(row: dict) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
    """The row's (role, content) pairs, and the indices of the assistant messages whose weight is 0."""
    key = "messages" if "messages" in row else "conversations"
    if key not in row:
        raise _RowError("missing field 'messages'")
    value = _maybe_json(row[key])
    if not isinstance(value, (list, tuple)):
        raise _RowError(f"field {key!r} is {_type_name(value)}, expected a list of messages")
    out = []
    untrained = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            raise _RowError(f"message {i} is {_type_name(msg)}, expected an object")
        role = msg.get("role", msg.get("from"))
        content = msg.get("content", msg.get("value"))
        if not isinstance(role, str) or role.lower() not in CHAT_ROLES:
            raise _RowError(f"message {i} has no known role (got {role!r})")
        if call := next((k for k in _CALL_KEYS if msg.get(k)), None):
            # rendering the call is each template's own format (Qwen2.5: <tool_call> JSON); lorplan has none for it,
            # and reading the content alone would train a turn without its call ("" or [] a turn of nothing)
            said = "without content" if content in (None, "", [], ()) else "beside its content"
            raise _RowError(f"message {i} is a tool call ({call}) {said}, which lorplan does not train on")
        if _weight(msg, i, CHAT_ROLES[role.lower()], role) == 0:
            untrained.append(i)
        if isinstance(content, (list, tuple)):
            content = _text_parts(content, i)
        elif not isinstance(content, str):
            raise _RowError(f"message {i} content is {_type_name(content)}, expected a string")
        else:
            _check_unicode(content, f"message {i} content")
        out.append((CHAT_ROLES[role.lower()], content))
    if not out:
        raise _RowError("no messages")
    assistant = [i for i, (r, _) in enumerate(out) if r == "assistant"]
    if not assistant:
        raise _RowError("no assistant message")
    if len(untrained) == len(assistant):
        # as a row with no assistant message: nothing of it is a reply to learn (train_on "all" masks them too)
        raise _RowError("every assistant message has weight 0 (do not train on it): no assistant turn to train on")
    return tuple(out), tuple(untrained)


def _weight(msg: dict, i: int, role: str, written_role: str) -> int | None:
    """Message `i`'s OpenAI weight: 0, 1, or None when it has none. null is no weight: a Parquet file gives
    every message of a column the same fields, so the messages without a weight read as null."""
    weight = msg.get("weight")
    if weight is None:
        return None
    if role != "assistant":
        raise _RowError(f"message {i} ({written_role}) has a weight; {_WEIGHT_RULE}")
    if isinstance(weight, bool) or not isinstance(weight, int) or weight not in (0, 1):  # 1.0, "0", true: no
        if isinstance(weight, (float, Decimal)):
            shown = _number(weight)
        elif isinstance(weight, (bool, int, str)):
            shown = json.dumps(weight)
        else:
            shown = _type_name(weight)
        raise _RowError(f"message {i} weight is {shown}; {_WEIGHT_RULE}")
    return weight


def _text_parts(parts: list | tuple, i: int) -> str:
    """Message `i`'s content given as OpenAI-style parts ([{"type": "text", "text": ...}, ...]) as one string: the
    texts one after another, as the chat templates that take parts write them (Qwen2.5-VL's; Gemma 3's trims each
    part too). The Responses API's input_text and output_text parts are text parts too. A part of another type
    (image_url, input_audio, refusal) makes the row unusable."""
    texts = []
    for j, part in enumerate(parts):
        what = f"message {i} content part {j}"
        if not isinstance(part, dict):
            raise _RowError(f"{what} is {_type_name(part)}, {_TEXT_PART}")
        kind = part.get("type")
        if kind is None:
            raise _RowError(f"{what} has no type, {_TEXT_PART}")
        if kind not in _TEXT_KINDS:
            article = "an" if str(kind)[:1].lower() in ("a", "e", "i", "o", "u") else "a"
            raise _RowError(f"{what} is {article} {kind!r} part; lorplan trains on text parts only")
        text = part.get("text")
        if not isinstance(text, str):
            raise _RowError(f"{what} text is {_type_name(text)}, expected a string")
        _check_unicode(text, what)
        texts.append(text)
    return "".join(texts)
