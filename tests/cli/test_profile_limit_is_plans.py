"""`lorplan profile --model M` counts against the context `lorplan plan --model M` checks (bounds.check_context over
the spec plan loads), not a figure of its own. core.data.profile.model_limit fell back to the tokenizer's
model_max_length whenever the model's config.json named no context, so a GPT-Neo whose config.json leaves
max_position_embeddings out (the fallback spec plan builds reads no context from it, and plan takes any --seq-len)
was profiled against MiniLM's 512: `lorplan profile --seq-len 1000` noted "beyond the model's maximum of 512 (the
tokenizer's model_max_length)" where plan accepts 1000, and the default length was 512 where plan's is 2048. The
tokenizer's figure now stands only where lorplan has no config for the model, and the CLI hands the spec it
loaded to the profile. Real folder: a GPTNeoConfig saved by transformers with MiniLM's tokenizer files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from model_builders import copy_tokenizer

from tests.cli.test_input_edges import _run


@pytest.fixture(scope="module")
def gpt_neo(tmp_path_factory) -> str:
    from transformers import GPTNeoConfig

    folder = copy_tokenizer(tmp_path_factory.mktemp("gpt_neo"))
    GPTNeoConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=4,
                 attention_types=[[["global", "local"], 1]], window_size=16, bos_token_id=101,
                 eos_token_id=102).save_pretrained(folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["max_position_embeddings"]
    path.write_text(json.dumps(cfg))
    return str(folder)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": "word " * (10 + i)}) + "\n" for i in range(30)))
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_a_config_without_a_context_is_profiled_as_plan_plans_it(gpt_neo, data, capsys):
    from lorplan.core.memory.bounds import default_seq_len
    from lorplan.core.model import load_spec

    spec = load_spec(gpt_neo)
    # the premise: plan's spec has GPTNeoConfig's default (the built model's), not the tokenizer's 512
    assert spec.source == "fallback" and spec.max_position_embeddings == 2048
    assert json.loads((Path(gpt_neo) / "tokenizer_config.json").read_text())[
        "model_max_length"] == 512
    rc, _, err = _run(capsys, "plan", "--model", gpt_neo, "--rank", "8", "--seq-len", "1000")
    assert rc == 0, err  # plan takes 1000
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", gpt_neo, "--seq-len", "1000", "--json")
    assert rc == 0, err
    profile = json.loads(out)
    assert profile["seq_len"] == 1000
    assert not [n for n in profile["notes"] if "beyond the model's maximum" in n], profile["notes"]  # was 512
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", gpt_neo, "--json")
    assert rc == 0, err
    assert json.loads(out)["seq_len"] == default_seq_len(spec) == 2048  # was 512, the tokenizer's


def test_model_limit_of_a_config_without_a_context_is_none(gpt_neo, tmp_path):
    from lorplan.core.data.profile import model_limit

    assert model_limit(gpt_neo, tokenizer_max=512) is None  # no spec handed over, no build: config.json names none
    tokenizer_only = copy_tokenizer(tmp_path / "tok")  # no config at all: the tokenizer's figure stands
    limit = model_limit(str(tokenizer_only), tokenizer_max=512)
    assert limit is not None and limit.tokens == 512 and "tokenizer" in limit.source


def test_the_profile_counts_against_the_spec_it_is_given(gpt_neo, data):
    """profile_dataset(spec=...) takes the limit from the spec the caller loaded (lorplan profile passes the one
    its --seq-len check used), as bounds.context_tokens counts it, RoPE factor included."""
    from lorplan.core.data import profile_dataset
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.bounds import context_tokens
    from lorplan.core.model import load_spec

    spec = replace(load_spec(gpt_neo), max_position_embeddings=40, context_default="")  # as if config.json said 40
    p = profile_dataset(data, model=gpt_neo, spec=spec)
    assert p.seq_len == 40 and p.suggested_seq_len <= 40
    p = profile_dataset(data, model=gpt_neo, spec=spec, seq_len=100, rope_scaling=2.0)
    reach = context_tokens(spec, TrainingSetup(seq_len=100, rope_scaling=2.0))
    assert reach == 80
    assert p.notes[-1] == ("--seq-len 100 is beyond the model's maximum of 80 (max_position_embeddings of the "
                           "model's config × --rope-scaling 2)")
