"""`lorplan plan --write --data` for a causal LM, as the README's causal-LM walk does it (a tiny Llama from a
config): a plan left at the default sequence length over short data says which --seq-len its profile suggests
(a sequence classifier's too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_builders import tiny_llama

from lorplan.cli import main
from lorplan.core.plan import read_plan

ARITHMETIC = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "arithmetic.jsonl"


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("walk") / "llama", context=4096)


def _write(model: Path, tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(model), "--rank", "4", "--data", str(ARITHMETIC), "--write", str(path),
                 "--force", *extra]) == 0
    return path


def test_a_default_seq_len_over_short_data_names_the_suggested_one(llama, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = read_plan(_write(llama, tmp_path))
    err = capsys.readouterr().err
    assert plan.training.seq_len == 2048  # the plan itself keeps the default
    note = next(line for line in err.splitlines() if line.startswith("note: seq len 2,048 is the default"))
    assert f"--data {ARITHMETIC}'s longest example is " in note and "--seq-len 64 (its suggested seq len" in note
    # following it gives a plan priced for this data, with no note
    smaller = read_plan(_write(llama, tmp_path, "--seq-len", "64"))
    assert smaller.training.seq_len == 64 and smaller.estimate.total_bytes < plan.estimate.total_bytes
    assert "note: seq len" not in capsys.readouterr().err


def test_a_given_seq_len_or_a_json_table_keeps_the_note_only_where_it_applies(llama, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _write(llama, tmp_path, "--seq-len", "2048")
    assert "note: seq len" not in capsys.readouterr().err  # chosen, not defaulted
    _write(llama, tmp_path, "--json")
    out, err = capsys.readouterr()
    assert json.loads(out)["rows"] and "note: seq len 2,048 is the default" in err


def test_a_classifier_plan_at_the_default_seq_len_names_the_suggested_one(tmp_path, capsys, monkeypatch):
    """A classifier's plan was written at its default 512 tokens (2.35 GiB for MiniLM here) with no note, while
    lorplan recommend --write wrote the profile's 64: the same note as a causal LM's now says so."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "cls.jsonl"
    data.write_text("".join(json.dumps({"text": f"row number {i} is fine", "label": i % 2}) + "\n" for i in range(60)))
    path = tmp_path / "c.toml"
    argv = ["plan", "--model", "sentence-transformers/all-MiniLM-L6-v2", "--rank", "8", "--data", str(data),
            "--write", str(path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    plan = read_plan(path)
    assert plan.training.seq_len == 512
    note = next(line for line in err.splitlines() if line.startswith("note: seq len 512 is the default"))
    assert f"--data {data}'s longest example is " in note and "--seq-len 64 (its suggested seq len" in note
    assert main([*argv, "--force", "--seq-len", "64"]) == 0
    assert "note: seq len" not in capsys.readouterr().err
    smaller = read_plan(path)
    assert smaller.training.seq_len == 64 and smaller.estimate.total_bytes < plan.estimate.total_bytes
