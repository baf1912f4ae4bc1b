"""The Unsloth script and the data file's chat layout. TRL's SFTTrainer hands each message's role to the chat
template as the file writes it (ShareGPT's conversations / from / value renamed to messages / role / content, the
values kept), so human and gpt turns are no assistant turns to a template, and assistant_only_loss stops on them;
a conversations column of {role, content} is no chat to it at all. The TRL YAML can only say so; the script can
rename the rows as lorplan reads them, and does: its own load_dataset and dataset.map lines run here with the real
datasets, and a real tokenizer's chat template (with generation markers, as TRL's assistant_only_loss reads them)
finds an assistant turn in every row."""

from __future__ import annotations

import ast
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
from model_builders import copy_tokenizer

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SYSTEM, USER, ASSISTANT = "Be brief.", "what is two and two", "four"
LAYOUTS = {
    "sharegpt": lambda i: {"conversations": [{"from": "system", "value": SYSTEM},
                                             {"from": "human", "value": f"{USER} {i}"},
                                             {"from": "gpt", "value": f"{ASSISTANT} {i}"}]},
    "openai-capitalised": lambda i: {"messages": [{"role": "System", "content": SYSTEM},
                                                  {"role": "Human", "content": f"{USER} {i}"},
                                                  {"role": "GPT", "content": f"{ASSISTANT} {i}"}]},
    # OpenAI's newer name for the system message, which lorplan reads as system (TRL hands it on as written)
    "openai-developer": lambda i: {"messages": [{"role": "developer", "content": SYSTEM},
                                                {"role": "user", "content": f"{USER} {i}"},
                                                {"role": "assistant", "content": f"{ASSISTANT} {i}"}]},
    "conversations-of-role": lambda i: {"conversations": [{"role": "system", "content": SYSTEM},
                                                          {"role": "user", "content": f"{USER} {i}"},
                                                          {"role": "assistant", "content": f"{ASSISTANT} {i}"}]},
}
# a template in the manner of those TRL swaps in for assistant_only_loss: the assistant turns inside generation
TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}"
            "{% endgeneration %}{% else %}{{ m['role'] }} {{ m['content'] }} {% endif %}{% endfor %}")


def _export(tmp_path: Path, rows: list[dict]):
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, data=replace(plan.data, path=str(data), schema="messages", train_on="completion"))
    return export_plan(plan, "unsloth")


def _dataset(tmp_path: Path, text: str):
    """The dataset as the script builds it: its own `dataset = ...` lines of main() (load_dataset, then any
    dataset.map), run with the real datasets and the script's module-level names (importing it runs nothing)."""
    from datasets import load_dataset

    script = tmp_path / "unsloth_train.py"
    script.write_text(text)
    spec = importlib.util.spec_from_file_location("unsloth_train_under_test", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    steps = [n for n in main.body if isinstance(n, ast.Assign)
             and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["dataset"]]
    names = {**vars(module), "load_dataset": load_dataset}
    for step in steps:
        exec(compile(ast.Module([step], []), str(script), "exec"), names)
    return names["dataset"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_script_trains_every_row_an_assistant_turn(tmp_path, layout):
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_convert_to_chatml

    result = _export(tmp_path, [LAYOUTS[layout](i) for i in range(20)])
    dataset = _dataset(tmp_path, result.files["unsloth_train.py"])
    assert len(dataset) == 20
    tokenizer = AutoTokenizer.from_pretrained(copy_tokenizer(tmp_path / "tok"))
    tokenizer.chat_template = TEMPLATE
    for i, row in enumerate(dataset):
        assert is_conversational(row)
        row = maybe_convert_to_chatml(row)  # what SFTTrainer does to each row first
        assert [(m["role"], m["content"]) for m in row["messages"]] == [
            ("system", SYSTEM), ("user", f"{USER} {i}"), ("assistant", f"{ASSISTANT} {i}")]
        said = tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=True,
                                             return_assistant_tokens_mask=True)
        assert sum(said["assistant_masks"]) > 0  # TRL's "no assistant tokens" RuntimeError is when this is 0
    # TRL's lines on these rows are gone from the script: it renames them
    assert not [w for w in result.warnings if "as written, where lorplan reads" in w or "conversations column" in w
                or "reads role developer as system" in w]
    assert "chat_messages" in result.files["unsloth_train.py"]


def test_the_trl_yaml_still_says_what_trl_does_with_those_rows(tmp_path):
    data = tmp_path / "chats.jsonl"
    data.write_text(json.dumps(LAYOUTS["sharegpt"](0)) + "\n")
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, data=replace(plan.data, path=str(data), schema="messages"))
    (line,) = [w for w in export_plan(plan, "trl").warnings if "as written, where lorplan reads" in w]
    assert "roles 'human', 'gpt'" in line


def test_openai_rows_of_known_roles_are_loaded_as_written(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"{USER} {i}"}, {"role": "assistant", "content": "x"}]}
            for i in range(5)]
    result = _export(tmp_path, rows)
    text = result.files["unsloth_train.py"]
    assert "chat_messages" not in text and "dataset.map" not in text
    assert _dataset(tmp_path, text)[0]["messages"][0] == {"role": "user", "content": f"{USER} 0"}


def test_rows_of_two_layouts_keep_their_line_and_get_no_map(tmp_path):
    rows = [LAYOUTS["sharegpt"](0), {"messages": [{"role": "user", "content": "a"},
                                                  {"role": "assistant", "content": "b"}]}]
    result = _export(tmp_path, rows)
    assert "dataset.map" not in result.files["unsloth_train.py"]
    assert [w for w in result.warnings if "a file mixing layouts loses one kind's chats" in w]
