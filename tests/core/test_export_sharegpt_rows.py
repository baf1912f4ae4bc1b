"""The axolotl and LLaMA-Factory exports and the data file's chat layout. lorplan reads chats from OpenAI-style
`messages` of {role, content} and from ShareGPT `conversations` of {from, value}; the exports wrote the first
alone, so a ShareGPT file failed in both tools (no `messages` column) or trained empty turns. They now read the
layout from the file's first rows (lorplan's own readers) and write the column and keys it uses: axolotl's
field_messages and message_property_mappings, LLaMA-Factory's columns and tags. A file lorplan cannot read gives
one warning line and the OpenAI layout."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.data import iter_examples
from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
TURNS = "chat rows whose turns do not alternate: LLaMA-Factory's sharegpt reader skips such a row"

SHAREGPT = [
    {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                       {"from": "gpt", "value": "Hello."}]},
    {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"},
                       {"from": "human", "value": "and 3+3?"}, {"from": "gpt", "value": "6"}]},
    # two user turns in a row: lorplan trains the reply, LLaMA-Factory skips the row
    {"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"},
                       {"from": "gpt", "value": "c"}]},
]
OPENAI = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."}]},
    {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
]
TOOLS = [  # ShareGPT with a function call and its result, as LLaMA-Factory's own examples write them
    {"conversations": [{"from": "human", "value": "Weather?"}, {"from": "function_call", "value": "{}"},
                       {"from": "observation", "value": "sunny"}, {"from": "gpt", "value": "Sunny."}]},
]
CAPITALISED = [  # lorplan reads roles lower-cased
    {"conversations": [{"from": "System", "value": "Be brief."}, {"from": "Human", "value": "Hi"},
                       {"from": "GPT", "value": "Hello."}]},
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _export(path: Path, fmt: str):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    plan = replace(plan, data=replace(plan.data, path=str(path), schema="messages"))
    result = export_plan(plan, fmt)
    (text,) = result.files.values()
    return yaml.safe_load(text), list(result.warnings), text


def _axolotl(path: Path):
    cfg, warnings, text = _export(path, "axolotl")
    return cfg["datasets"][0], warnings, text


def _llamafactory(path: Path):
    """The dataset_info.json entry the export writes beside its YAML (the data path is absolute), its warnings and
    the YAML."""
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, data=replace(plan.data, path=str(path), schema="messages"))
    result = export_plan(plan, "llamafactory")
    (text,) = result.files.values()
    assert not [w for w in result.warnings if w.startswith("register the data")]
    return json.loads(result.data_files["dataset_info.json"])["lorplan_train"], list(result.warnings), text


def _chat_lines(warnings: list[str]) -> list[str]:
    return [w for w in warnings if w.startswith("chat rows: ") and ("OpenAI-style" in w or "mostly use" in w
                                                                     or "role values" in w)]


def test_rows_are_what_lorplan_reads(tmp_path):
    """The files below are chats lorplan trains: every row of them is an example."""
    for name, rows in (("sg", SHAREGPT), ("oa", OPENAI), ("tools", TOOLS)):
        path = _write(tmp_path / f"{name}.jsonl", rows)
        assert len(list(iter_examples(path, schema="messages"))) == len(rows)


# ---- axolotl ----

def test_axolotl_reads_a_sharegpt_file_through_its_keys(tmp_path):
    entry, warnings, _ = _axolotl(_write(tmp_path / "sg.jsonl", SHAREGPT))
    assert entry["field_messages"] == "conversations"
    assert entry["message_property_mappings"] == {"role": "from", "content": "value"}
    roles = {source: target for target, sources in entry["roles"].items() for source in sources}
    for row in SHAREGPT:  # as axolotl's transform_message builds each turn: the mapped keys, the role mapped
        for msg in row[entry["field_messages"]]:
            turn = {k: msg[v] for k, v in entry["message_property_mappings"].items()}
            assert turn["content"] == msg["value"]
            assert roles[turn["role"]] in ("system", "user", "assistant")
    assert not _chat_lines(warnings)


def test_axolotl_reads_an_openai_file_as_before(tmp_path):
    entry, warnings, _ = _axolotl(_write(tmp_path / "oa.jsonl", OPENAI))
    assert entry["field_messages"] == "messages"
    assert entry["message_property_mappings"] == {"role": "role", "content": "content"}
    assert entry["message_field_training"] == "weight" and entry["type"] == "chat_template"
    assert not _chat_lines(warnings)


# ---- LLaMA-Factory ----

def test_llamafactory_entry_names_the_sharegpt_file_keys_and_roles(tmp_path):
    entry, _, _ = _llamafactory(_write(tmp_path / "sg.jsonl", SHAREGPT))
    assert entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations"}
    tags = entry["tags"]
    assert tags == {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                    "system_tag": "system"}
    named = {tags["user_tag"], tags["assistant_tag"], tags["system_tag"]}
    for row in SHAREGPT:  # every message is read by the entry: its column, its two keys, a tagged role
        for msg in row[entry["columns"]["messages"]]:
            assert set(msg) == {tags["role_tag"], tags["content_tag"]}
            assert msg[tags["role_tag"]] in named


def test_llamafactory_entry_for_an_openai_file_is_as_before(tmp_path):
    entry, _, _ = _llamafactory(_write(tmp_path / "oa.jsonl", OPENAI))
    assert entry["columns"] == {"messages": "messages"}
    assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                             "assistant_tag": "assistant", "system_tag": "system"}


def test_llamafactory_entry_tags_function_calls_and_observations_the_file_uses(tmp_path):
    entry, warnings, _ = _llamafactory(_write(tmp_path / "tools.jsonl", TOOLS))
    assert entry["tags"]["function_tag"] == "function_call"
    assert entry["tags"]["observation_tag"] == "observation"
    assert not [w for w in warnings if w.startswith(TURNS)]  # human, call, result, reply alternate: none skipped


def test_llamafactory_says_which_rows_its_reader_skips_for_their_turns(tmp_path):
    _, warnings, text = _llamafactory(_write(tmp_path / "sg.jsonl", SHAREGPT))
    (line,) = [w for w in warnings if w.startswith(TURNS)]
    assert "two user turns in a row" in line and "lorplan trains" in line and "\n" not in line
    assert line.endswith("(here: 1 of the data file's first 3 chat rows: line 3)")
    assert f"# lorplan: WARNING: {line}\n" in text


def test_llamafactory_says_nothing_of_turns_when_every_row_read_alternates(tmp_path):
    """The line counted 0 skipped rows, and was written all the same; now it stands only where some row is one."""
    _, warnings, text = _export(_write(tmp_path / "oa.jsonl", OPENAI), "llamafactory")
    assert not [w for w in warnings if w.startswith(TURNS)]
    assert "turns do not alternate" not in text
    _, warnings, _ = _export(_write(tmp_path / "sg.jsonl", SHAREGPT), "llamafactory")  # row 3: two user turns
    assert len([w for w in warnings if w.startswith(TURNS)]) == 1


# ---- mixed and unreadable files ----

def test_a_mixed_file_is_written_for_its_most_common_layout_with_one_line(tmp_path):
    path = _write(tmp_path / "mixed.jsonl", SHAREGPT + OPENAI[:1])  # 3 ShareGPT rows, 1 OpenAI row
    entry, warnings, _ = _axolotl(path)
    assert entry["field_messages"] == "conversations"
    assert entry["message_property_mappings"] == {"role": "from", "content": "value"}
    (line,) = _chat_lines(warnings)
    assert "'messages' in 1 row," in line and "'role' in 3 messages" in line and "write every row one way" in line
    lf_entry, lf_warnings, _ = _llamafactory(path)
    assert lf_entry["columns"] == {"messages": "conversations"} and lf_entry["tags"]["role_tag"] == "from"
    (lf_line,) = _chat_lines(lf_warnings)
    # the OpenAI row's user and assistant spell roles no tag names beside human and gpt
    assert "'messages' in 1 row," in lf_line and "'user'" in lf_line and "'assistant'" in lf_line


def test_llamafactory_names_role_spellings_beside_the_tagged_one(tmp_path):
    rows = SHAREGPT[:2] + [{"conversations": [{"from": "user", "value": "x"}, {"from": "gpt", "value": "y"}]}]
    entry, warnings, _ = _llamafactory(_write(tmp_path / "spell.jsonl", rows))
    assert entry["tags"]["user_tag"] == "human"  # the most common
    (line,) = _chat_lines(warnings)
    assert "role values 'user'" in line


@pytest.mark.parametrize("content", [None, b"\x00\x01\x02binary", b"not json at all\n"])
def test_an_unreadable_file_is_one_line_and_the_openai_layout(content, tmp_path):
    path = tmp_path / "data.jsonl"
    if content is not None:
        path.write_bytes(content)
    entry, warnings, text = _axolotl(path)
    assert entry["field_messages"] == "messages"
    assert entry["message_property_mappings"] == {"role": "role", "content": "content"}
    (line,) = _chat_lines(warnings)
    assert str(path) in line and "field_messages: conversations" in line and "\n" not in line
    assert f"# lorplan: WARNING: {line}\n" in text
    lf_entry, lf_warnings, _ = _llamafactory(path)
    assert lf_entry["columns"] == {"messages": "messages"} and lf_entry["tags"]["role_tag"] == "role"
    (lf_line,) = _chat_lines(lf_warnings)
    assert str(path) in lf_line and "columns messages: conversations" in lf_line
    (turns,) = [w for w in lf_warnings if w.startswith(TURNS)]
    assert "here:" not in turns  # no rows were read to count


def test_a_file_of_other_rows_is_one_line(tmp_path):
    entry, warnings, _ = _axolotl(_write(tmp_path / "text.jsonl", [{"text": "hello"}]))
    assert entry["field_messages"] == "messages"
    (line,) = _chat_lines(warnings)
    assert "no chat row" in line


@pytest.mark.parametrize("schema", ["text", "prompt-completion", "alpaca"])
def test_other_schemas_read_no_chat_layout(schema, tmp_path):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, data=replace(plan.data, path=str(tmp_path / "missing.jsonl"), schema=schema))
    for fmt in ("axolotl", "llamafactory"):
        warnings = export_plan(plan, fmt).warnings
        assert not [w for w in warnings if w.startswith("chat rows: ")]


# ---- the tools' own readers, where installed ----

def _llamafactory_converter():
    pytest.importorskip("llamafactory")
    if importlib.util.find_spec("torchaudio") is None:  # imported by llamafactory.data for audio files only
        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub
    from llamafactory.data.converter import SharegptDatasetConverter
    from llamafactory.data.parser import get_dataset_list

    return get_dataset_list, SharegptDatasetConverter


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("rows", [SHAREGPT, OPENAI, TOOLS, CAPITALISED],
                         ids=["sharegpt", "openai", "tools", "capitalised"])
def test_llamafactory_converts_the_rows_the_entry_names(rows, tmp_path):
    """LLaMA-Factory's own parser reads the entry, and its sharegpt converter turns each alternating row into a
    prompt and a response, skipping the rows the turns line counts."""
    get_dataset_list, converter = _llamafactory_converter()
    entry, warnings, _ = _llamafactory(_write(tmp_path / "d.jsonl", rows))
    (attr,) = get_dataset_list(["lorplan_train"], {"lorplan_train": entry})
    convert = converter(attr, None)
    out = [convert(row) for row in rows]
    skipped = sum(not o["_response"] for o in out)
    lines = [w for w in warnings if w.startswith(TURNS)]
    assert lines == ([] if not skipped else [lines[0]])  # said only where the reader skips a row
    named = ", ".join(str(i + 1) for i, o in enumerate(out) if not o["_response"])
    assert all(line.endswith(f"(here: {skipped} of the data file's first {len(rows)} chat rows: line {named})")
               for line in lines)
    for row, o in zip(rows, out, strict=True):
        if o["_response"]:
            assert o["_response"][-1]["role"] == "assistant"
            assert o["_response"][-1]["content"] == next(iter(row.values()))[-1][entry["tags"]["content_tag"]]
    assert skipped == (1 if rows is SHAREGPT else 0)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("rows", [SHAREGPT, OPENAI, CAPITALISED], ids=["sharegpt", "openai", "capitalised"])
def test_axolotl_schema_takes_the_entry_and_its_strategy_builds_every_turn(rows, tmp_path):
    pytest.importorskip("axolotl")
    from axolotl.prompt_strategies.chat_template import ChatTemplatePrompter, ChatTemplateStrategy
    from axolotl.utils.schemas.datasets import SFTDataset

    entry, _, _ = _axolotl(_write(tmp_path / "d.jsonl", rows))
    checked = SFTDataset(**entry)
    assert checked.message_property_mappings == entry["message_property_mappings"]
    prompter = ChatTemplatePrompter(None, "{% for m in messages %}{{ m['content'] }}{% endfor %}",
                                    message_property_mappings=checked.message_property_mappings,
                                    field_messages=checked.field_messages, roles=checked.roles,
                                    message_field_training=checked.message_field_training)
    strategy = object.__new__(ChatTemplateStrategy)  # its __init__ checks a tokenizer's EOS, not used here
    strategy.prompter, strategy.split_thinking = prompter, False
    for row in rows:
        turns = strategy.get_conversation_thread(row)
        messages = next(iter(row.values()))
        assert [t["content"] for t in turns] == [m.get("content", m.get("value")) for m in messages]
        assert {t["role"] for t in turns} <= {"system", "user", "assistant"}


# ---- role spellings, files the tools load otherwise, and how much of the file is read ----


def test_axolotl_roles_take_the_file_s_capitalised_spellings(tmp_path):
    entry, _, _ = _axolotl(_write(tmp_path / "caps.jsonl", CAPITALISED))
    roles = {source: target for target, sources in entry["roles"].items() for source in sources}
    assert (roles["System"], roles["Human"], roles["GPT"]) == ("system", "user", "assistant")
    assert roles["human"] == "user" and roles["developer"] == "system"  # lorplan's table is kept


def test_llamafactory_tags_name_the_capitalised_spellings(tmp_path):
    entry, warnings, _ = _llamafactory(_write(tmp_path / "caps.jsonl", CAPITALISED))
    assert {k: entry["tags"][k] for k in ("user_tag", "assistant_tag", "system_tag")} == {
        "user_tag": "Human", "assistant_tag": "GPT", "system_tag": "System"}
    assert not [w for w in warnings if w.startswith(TURNS)]


def test_rows_lorplan_does_not_train_are_not_counted(tmp_path):
    """A row with a role lorplan does not know is dropped by lorplan too: it is no row LLaMA-Factory skips where
    lorplan trains, nor a layout to write."""
    bot = {"messages": [{"role": "bot", "content": "x"}, {"role": "user", "content": "y"}]}
    _, warnings, _ = _llamafactory(_write(tmp_path / "d.jsonl", SHAREGPT[:2] + [bot]))
    assert not [w for w in warnings if w.startswith(TURNS)]  # the two rows read alternate; bot's is not counted
    assert not _chat_lines(warnings)  # the dropped row's messages column is no second layout


def _csv(path: Path, column: str, rows: list[dict]) -> Path:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([column])
    for row in rows:
        writer.writerow([json.dumps(row[column])])
    path.write_text(buf.getvalue())
    return path


def test_chats_in_csv_cells_are_one_llamafactory_line_and_none_for_axolotl(tmp_path):
    path = _csv(tmp_path / "chat.csv", "conversations", SHAREGPT)
    entry, warnings, _ = _llamafactory(path)
    assert entry["columns"] == {"messages": "conversations"}
    (line,) = [w for w in warnings if "JSON text in a cell" in w]
    assert str(path) in line and "string indices must be integers" in line and "JSONL or Parquet" in line
    ax_entry, ax_warnings, _ = _axolotl(path)  # axolotl's chat_template parses a string of messages itself
    assert ax_entry["field_messages"] == "conversations"
    assert not [w for w in ax_warnings if "JSON text in a cell" in w]


def test_rows_under_a_json_object_s_key_are_one_line(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"conversations": OPENAI}))  # lorplan's rows; datasets' json loader: one row
    entry, warnings, _ = _llamafactory(path)
    assert entry["columns"] == {"messages": "messages"}
    (line,) = [w for w in warnings if "one JSON object whose list under 'conversations' holds the rows" in w]
    assert "LLaMA-Factory (datasets' json builder) as one row" in line and "top-level JSON array" in line
    _, ax_warnings, _ = _axolotl(path)
    assert len([w for w in ax_warnings if "one JSON object whose list under 'conversations'" in w]) == 1
    one = tmp_path / "one.json"
    one.write_text(json.dumps(OPENAI[0], indent=2))  # one chat, pretty-printed: datasets reads it as that row
    assert not [w for w in _llamafactory(one)[1] if "one JSON object" in w]


def test_a_json_array_is_read_to_its_first_rows_alone(tmp_path):
    """A JSON array's first rows (RowSource.head, through ijson): a break past them (or the rest of a 2 GB file)
    is not read. lorplan's reader reads the array whole, and said the file was invalid JSON."""
    from lorplan.core.data.readers import json_array_head
    from lorplan.core.export import common

    rows = [*SHAREGPT, 12345, *SHAREGPT] * 50  # 350 items, a number among them: no row
    path = tmp_path / "big.json"
    path.write_text(" \n" + json.dumps(rows, indent=1)[:-1] + ", {broken")
    layout = common.chat_layout(str(path))
    assert layout.problem is None and layout.column == "conversations" and layout.role_key == "from"
    assert layout.rows == 171  # the first 200 items: 28 groups of 7 (6 rows each), then 3 rows and 12345
    head = json_array_head(path, 400)
    assert head is None  # the break is reached: lorplan's reader reads the file and says why


def test_a_changed_file_is_read_again(tmp_path):
    path = _write(tmp_path / "d.jsonl", SHAREGPT)
    assert _axolotl(path)[0]["field_messages"] == "conversations"
    _write(path, OPENAI)
    assert _axolotl(path)[0]["field_messages"] == "messages"


@pytest.mark.filterwarnings("ignore")
def test_llamafactory_stops_on_a_csv_cell_and_reads_a_json_object_s_rows_as_one_row(tmp_path):
    """What the two lines say, through datasets' csv and json loaders (LLaMA-Factory's loader calls them by the
    file's extension) and its sharegpt converter."""
    get_dataset_list, converter = _llamafactory_converter()
    from datasets import load_dataset

    path = _csv(tmp_path / "chat.csv", "conversations", SHAREGPT)
    entry, _, _ = _llamafactory(path)
    (attr,) = get_dataset_list(["lorplan_train"], {"lorplan_train": entry})
    row = load_dataset("csv", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))[0]
    assert isinstance(row["conversations"], str)
    with pytest.raises(TypeError, match="string indices must be integers"):
        converter(attr, None)(row)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"conversations": OPENAI}))
    loaded = load_dataset("json", data_files=str(rows), split="train", cache_dir=str(tmp_path / "j"))
    assert loaded.num_rows == 1 and loaded.column_names == ["conversations"]


@pytest.mark.filterwarnings("ignore")
def test_axolotl_strategy_parses_a_csv_cell_of_messages(tmp_path):
    pytest.importorskip("axolotl")
    from axolotl.prompt_strategies.chat_template import ChatTemplatePrompter, ChatTemplateStrategy

    path = _csv(tmp_path / "chat.csv", "conversations", SHAREGPT)
    entry, _, _ = _axolotl(path)
    prompter = ChatTemplatePrompter(None, "{% for m in messages %}{{ m['content'] }}{% endfor %}",
                                    message_property_mappings=entry["message_property_mappings"],
                                    field_messages=entry["field_messages"], roles=entry["roles"])
    strategy = object.__new__(ChatTemplateStrategy)
    strategy.prompter, strategy.split_thinking = prompter, False
    turns = strategy.get_conversation_thread({"conversations": json.dumps(SHAREGPT[0]["conversations"])})
    assert [t["role"] for t in turns] == ["system", "user", "assistant"]
