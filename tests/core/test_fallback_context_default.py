"""A config.json outside the fast path without a context key (max_position_embeddings, n_positions, max_seq_len):
the fallback spec read none (0: no limit), though the model transformers builds from it has its configuration
class's default (DistilBERT 512 position embeddings, GPT-Neo 2048). `lorplan plan --seq-len 4096` priced a
DistilBERT whose position table holds 512 and exited 0, the default length was 2048 where the model takes 512, and
lorplan train would fail at the first step. The fallback's child now reports the built config's context, and the
spec takes it where the file gives none, named as a default ("max_position_embeddings absent from config.json:
DistilBertConfig's default") as the fast path names its classes' (core.memory.bounds.context_default). `lorplan
profile --model` counts against the same limit (it is handed plan's spec). Real configs saved by transformers,
real child builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_builders import copy_tokenizer

from tests.cli.test_input_edges import _run


def _without_context(folder: Path, config) -> str:
    config.save_pretrained(folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["max_position_embeddings"]
    path.write_text(json.dumps(cfg))
    return str(folder)


@pytest.fixture(autouse=True)
def private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def distilbert(tmp_path) -> str:
    from transformers import DistilBertConfig

    return _without_context(copy_tokenizer(tmp_path / "distil"),
                            DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=4, hidden_dim=64))


@pytest.fixture
def gpt_neo(tmp_path) -> str:
    from transformers import GPTNeoConfig

    return _without_context(tmp_path / "neo", GPTNeoConfig(
        vocab_size=1000, hidden_size=32, num_layers=2, num_heads=4, attention_types=[[["global", "local"], 1]],
        window_size=16, bos_token_id=1, eos_token_id=2))


def test_the_spec_has_the_class_default_named_as_one(distilbert, gpt_neo):
    from transformers import DistilBertConfig, GPTNeoConfig

    from lorplan.core.memory.bounds import context_default, context_key, default_seq_len
    from lorplan.core.model import load_spec

    for folder, cls in ((distilbert, DistilBertConfig), (gpt_neo, GPTNeoConfig)):
        spec = load_spec(folder)
        assert spec.source == "fallback"
        assert spec.max_position_embeddings == cls().max_position_embeddings  # the built model's, not 0
        assert context_default(spec) == context_key(spec) == \
            f"max_position_embeddings absent from config.json: {cls.__name__}'s default"
    assert default_seq_len(load_spec(distilbert)) == 512


def test_plan_refuses_a_length_beyond_the_default_and_profile_agrees(distilbert, tmp_path, capsys):
    rc, _, err = _run(capsys, "plan", "--model", distilbert, "--rank", "8", "--seq-len", "4096")
    assert rc == 2 and "beyond" in err and "of 512 tokens" in err, err  # exit 0 before: no limit
    assert "max_position_embeddings absent from config.json: DistilBertConfig's default" in err
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": "word " * 5, "label": i % 2}) + "\n" for i in range(20)))
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", distilbert, "--json")
    assert rc == 0, err
    assert json.loads(out)["seq_len"] == 512  # plan's default length for it, not 2048


def test_a_context_in_config_json_is_still_the_spec_s(gpt_neo):
    from lorplan.core.memory.bounds import context_default, context_key
    from lorplan.core.model import load_spec

    path = Path(gpt_neo) / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "max_position_embeddings": 300}))
    spec = load_spec(gpt_neo)
    assert spec.max_position_embeddings == 300
    assert context_default(spec) == "" and context_key(spec) == "max_position_embeddings"


def test_recommend_suggests_a_length_within_the_default(distilbert, tmp_path, capsys):
    # recommend profiled --data without its spec (model_limit read config.json alone: no context, no limit), took
    # the profile's suggestion (the rows' 900-odd tokens) as the plan's length, then refused it against the spec's
    # 512 with "--seq-len 960 is beyond ...", a flag the user never gave (exit 2)
    data = tmp_path / "long.jsonl"
    data.write_text("".join(json.dumps({"text": "word " * 900, "label": i % 2}) + "\n" for i in range(40)))
    plan = tmp_path / "plan.toml"
    rc, out, err = _run(capsys, "recommend", "--model", distilbert, "--data", str(data), "--probes", "none",
                        "--write", str(plan))
    assert rc == 0, err
    assert "--seq-len" not in err
    import tomllib

    assert tomllib.loads(plan.read_text())["training"]["seq_len"] == 512  # the data's length, capped at the model's
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", distilbert, "--json")
    assert rc == 0 and json.loads(out)["suggested_seq_len"] == 512, err  # lorplan profile's, as plan's spec has it


def test_a_context_config_json_names_under_the_class_s_own_name_is_not_called_a_default(tmp_path):
    # RwkvConfig (as KimiLinearConfig, BailingHybridConfig) maps max_position_embeddings to a name of its own
    # (attribute_map: context_length), which its config.json holds: the built config's max_position_embeddings
    # is the file's 4096, not the class's 1024, and was named "max_position_embeddings absent from config.json:
    # RwkvConfig's default"
    from transformers import RwkvConfig

    from lorplan.core.memory.bounds import context_default, context_key
    from lorplan.core.model import load_spec

    assert RwkvConfig.attribute_map["max_position_embeddings"] == "context_length" and RwkvConfig().context_length != 4096
    RwkvConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=2, context_length=4096).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["context_length"] == 4096 and "max_position_embeddings" not in cfg
    spec = load_spec(str(tmp_path))
    assert spec.source == "fallback" and spec.max_position_embeddings == 4096
    assert "default" not in context_default(spec)
    assert context_key(spec) == "context_length of the model's config"
