"""A .json data file whose rows are the list under one JSON object's key ({"data": [...]}, {"version": 1, "data":
[...]}), which lorplan reads row by row and datasets' json builder as one row of the object's keys unless its
`field` names the key. The Unsloth script passes field: its own load lines run here with the real datasets and every
row comes out as lorplan reads it, whatever the schema and however many rows (one too). TRL's YAML (DatasetConfig),
axolotl 0.21's dataset entry and LLaMA-Factory 0.9.5's dataset_info.json cannot pass it: one line each, for every
schema and row count, naming the key. Files whose rows are the file's own (a JSON array, JSONL, one pretty-printed
chat) get neither."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.data import iter_examples, readers
from lorplan.core.data.readers import RowSource
from lorplan.core.export import export_plan
from lorplan.core.export.common import rows_key
from lorplan.core.plan import read_plan
from tests.core.test_export_unsloth_alpaca import _main_steps

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SCRIPT = "unsloth_train.py"
ROWS = {
    "text": [{"text": "The sky is blue."}, {"text": "Grass is green.\nSnow is white."}, {"text": "日本語 😀"}],
    "prompt-completion": [{"prompt": "2 + 2 =", "completion": " 4"}, {"prompt": "Capital of France?",
                                                                     "completion": " Paris."},
                          {"prompt": "Say {x}", "completion": " \"x\""}],
    "alpaca": [{"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
               {"instruction": "Say hello.", "input": "", "output": "Hello!"},
               {"instruction": "Name a colour.", "input": "", "output": "Blue."}],
    "messages": [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
                 {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                               {"role": "assistant", "content": "4"}]},
                 {"messages": [{"role": "user", "content": "bye"}, {"role": "assistant", "content": "see you"}]}],
}
# ShareGPT rows, whose roles the script's chat_messages renames as lorplan reads them
SHAREGPT = [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
            {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "2+2?"},
                               {"from": "gpt", "value": "4"}]}]
SCHEMAS = list(ROWS)
LINE = "is one JSON object whose list under 'data' holds the rows"


def _under_key(path: Path, rows: list[dict], extra: bool) -> Path:
    """The rows as {"data": rows}, or {"version": 1, "data": rows} (extra), pretty-printed."""
    path.write_text(json.dumps({"version": 1, "data": rows} if extra else {"data": rows}, indent=2,
                               ensure_ascii=False), encoding="utf-8")
    return path


def _plan(tmp_path: Path, data: Path, schema: str):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")  # a CPU plan: its SFTConfig builds here
    return replace(plan, data=replace(plan.data, path=str(data), schema=schema, train_on="completion",
                                      eval_split=0.0),
                   training=replace(plan.training, output_dir=str(tmp_path / "out")))


def _script_dataset(text: str, tmp_path: Path):
    """The dataset the script's own lines make (test_export_unsloth_alpaca._main_steps: its module-level names,
    and main()'s assignments to `dataset`, load_dataset then its map and filter lines, run in order)."""
    return _main_steps(text, tmp_path, {"dataset"})["dataset"]


def _as_read(schema: str, row: dict):
    """A row of the script's dataset as lorplan's Example of that schema holds it."""
    if schema == "text":
        return row["text"]
    if schema == "messages":
        return tuple((m["role"], m["content"]) for m in row["messages"])
    return row["prompt"], row["completion"]  # prompt-completion, and alpaca made prompt/completion by the script


def _lorplan(schema: str, path: Path) -> list:
    def value(ex):
        if schema == "text":
            return ex.text
        if schema == "messages":
            return tuple(ex.messages)
        return ex.prompt, ex.completion
    return [value(ex) for ex in iter_examples(path, schema=schema)]


@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_unsloth_script_reads_every_row_under_the_key_as_lorplan_does(tmp_path, schema, count, extra):
    """Before, the script loaded the file as one row (columns data, or version and data): 0 rows after the alpaca
    filter, a KeyError or a chat of the wrong column for the others."""
    data = _under_key(tmp_path / "rows.json", ROWS[schema][:count], extra)
    result = export_plan(_plan(tmp_path, data, schema), "unsloth")
    text = result.files[SCRIPT]
    dataset = _script_dataset(text, tmp_path)
    ours = _lorplan(schema, data)
    assert len(ours) == count
    assert len(dataset) == count and [_as_read(schema, row) for row in dataset] == ours
    assert re.search(r"^ +field='data',$", text, re.M)
    assert not [w for w in result.warnings if LINE in w]  # the script reads the rows: no line on it


def test_sharegpt_rows_under_the_key_get_the_scripts_role_renaming(tmp_path):
    """Before, chat rows under a key got no chat_messages map (their own line said the tool read one row): now the
    script reads the rows, and renames human and gpt as lorplan reads them."""
    data = _under_key(tmp_path / "chat.json", SHAREGPT, extra=True)
    text = export_plan(_plan(tmp_path, data, "messages"), "unsloth").files[SCRIPT]
    assert "def chat_messages(row):" in text
    dataset = _script_dataset(text, tmp_path)
    assert [_as_read("messages", row) for row in dataset] == _lorplan("messages", data)
    assert dataset[0]["messages"][0]["role"] == "user"


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("fmt", ["trl", "axolotl", "llamafactory"])
def test_tools_that_cannot_name_the_key_say_so_in_one_line(tmp_path, fmt, schema, count):
    """One line, for every schema and row count (before: chat rows alone, and only for a list of two rows or
    more), naming the file, the key, the tool and what to do; written into the file as a comment too."""
    data = _under_key(tmp_path / "rows.json", ROWS[schema][:count], extra=count == 1)
    result = export_plan(_plan(tmp_path, data, schema), fmt)
    (line,) = [w for w in result.warnings if LINE in w]
    tool = {"trl": "TRL", "axolotl": "axolotl", "llamafactory": "LLaMA-Factory"}[fmt]
    assert line.startswith(f"data: {data} ") and f"{tool} (datasets' json builder) as one row" in line
    assert "trains none of lorplan's rows" in line and line.endswith("write the rows as JSONL or as a top-level "
                                                                     "JSON array")
    (text,) = result.files.values()
    assert f"# lorplan: WARNING: {line}\n" in text


@pytest.mark.parametrize("fmt", ["trl", "axolotl", "llamafactory", "unsloth"])
def test_files_whose_rows_are_their_own_get_no_line_and_no_field(tmp_path, fmt):
    array = tmp_path / "array.json"
    array.write_text(json.dumps(ROWS["text"]))
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in ROWS["text"]))
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps(ROWS["messages"][0], indent=2))  # one chat: datasets reads it as that row too
    for path, schema in ((array, "text"), (jsonl, "text"), (chat, "messages")):
        assert rows_key(str(path)) is None
        result = export_plan(_plan(tmp_path, path, schema), fmt)
        assert not [w for w in result.warnings if "holds the rows" in w], path
        assert not re.search(r"^ +field=", "".join(result.files.values()), re.M)


def test_trls_dataset_entry_has_no_field_and_its_loader_reads_one_row(tmp_path):
    """The reason for TRL's line, from TRL 1.16's own code: DatasetConfig takes no field (a YAML key it lacks is a
    TypeError), and get_dataset on the exported entry loads one row where lorplan reads three."""
    from trl.scripts.utils import DatasetConfig, DatasetMixtureConfig, get_dataset

    assert "field" not in {f.name for f in dataclasses.fields(DatasetConfig)}
    data = _under_key(tmp_path / "rows.json", ROWS["text"], extra=True)
    cfg = yaml.safe_load(export_plan(_plan(tmp_path, data, "text"), "trl").files["trl.yaml"])
    loaded = get_dataset(DatasetMixtureConfig(datasets=cfg["datasets"]))["train"]
    assert len(loaded) == 1 and sorted(loaded.column_names) == ["data", "version"]
    assert len(_lorplan("text", data)) == 3


def test_the_key_is_read_however_the_file_is_read(tmp_path, monkeypatch):
    """RowSource.list_key from the whole read, the streamed rows() and the streamed head alike; a key with a dot in
    it is the key, not a path."""
    path = tmp_path / "dotted.json"
    path.write_text(json.dumps({"meta": {"n": 2}, "rows.v1": ROWS["text"][:2]}))
    for threshold in (1 << 62, 0):  # read whole, and as a file of _STREAM_BYTES and up
        monkeypatch.setattr(readers, "_STREAM_BYTES", threshold)
        source = RowSource(path)
        assert len(list(source.rows())) == 2 and source.list_key == "rows.v1"
        head = RowSource(path)
        assert len(head.head(1)) == 1 and head.list_key == "rows.v1", threshold
    from datasets import load_dataset

    assert load_dataset("json", data_files=str(path), field="rows.v1", split="train")["text"] == [
        r["text"] for r in ROWS["text"][:2]]


def _source(module: str) -> ast.Module:
    """An installed tool's module, parsed from its file without importing it (axolotl's and LLaMA-Factory's data
    packages import their whole training stack)."""
    package, *parts = module.split(".")
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"{package} is not installed")
    (root,) = spec.submodule_search_locations
    return ast.parse(Path(root, *parts[:-1], parts[-1] + ".py").read_text(encoding="utf-8"))


def _calls(module: str, function: str) -> list[ast.Call]:
    """The calls to load_dataset in `function` of an installed tool's `module`."""
    tree = _source(module)
    (fn,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    return [n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "load_dataset"]


def test_axolotls_load_path_passes_no_field():
    """The reason for axolotl's line, from axolotl 0.21's code: a local file is loaded with data_files and the
    kwargs load_dataset_with_config builds (split, name, streaming, trust_remote_code), none from the entry's
    other keys (its `field` is a completion dataset's text column)."""
    (fn,) = [n for n in ast.walk(_source("axolotl.utils.data.shared"))
             if isinstance(n, ast.FunctionDef) and n.name == "load_dataset_with_config"]
    (kwargs,) = [n.value for n in ast.walk(fn) if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "load_dataset_kwargs" for t in n.targets)]
    assert {k.value for k in kwargs.keys} == {"split", "name", "streaming", "trust_remote_code"}
    calls = _calls("axolotl.utils.data.shared", "_load_from_local_path")
    assert calls and all({k.arg for k in call.keywords} <= {"data_files", None}  # None: **load_dataset_kwargs
                         for call in calls)


def test_llamafactorys_dataset_entry_and_loader_pass_no_field():
    """The reason for LLaMA-Factory's line, from LLaMA-Factory 0.9.5's code: DatasetAttr (a dataset_info.json
    entry) has no field, and _load_single_dataset's load_dataset takes no builder keyword."""
    tree = _source("llamafactory.data.parser")
    (attr,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "DatasetAttr"]
    names = {n.target.id for n in attr.body if isinstance(n, ast.AnnAssign)}
    assert "file_name" not in names and "field" not in names and {"subset", "split", "folder"} <= names
    calls = _calls("llamafactory.data.loader", "_load_single_dataset")
    assert calls and all({k.arg for k in call.keywords} == {"path", "name", "data_dir", "data_files", "split",
                                                           "cache_dir", "token", "num_proc", "streaming"}
                         for call in calls)


@pytest.mark.parametrize("rows", [ROWS["messages"][:1], SHAREGPT[:1]], ids=["openai", "sharegpt"])
def test_one_chat_row_under_the_key_its_schema_names_is_read_as_a_row(tmp_path, rows):
    """{"messages": [{"messages": [...]}]}: the key is the chat column's own name, and the list one row long, yet
    the list's item is a row (no role or from), not a message: lorplan reads one row under the key, and the script
    passes field so that datasets does too (without it, one row whose column holds that list)."""
    column = next(iter(rows[0]))
    data = tmp_path / "chat.json"
    data.write_text(json.dumps({column: rows}, indent=2))
    assert rows_key(str(data)) == column
    text = export_plan(_plan(tmp_path, data, "messages"), "unsloth").files[SCRIPT]
    assert re.search(rf"^ +field='{column}',$", text, re.M)
    dataset = _script_dataset(text, tmp_path)
    assert [_as_read("messages", row) for row in dataset] == _lorplan("messages", data) and len(dataset) == 1
