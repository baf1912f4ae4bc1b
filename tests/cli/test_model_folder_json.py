"""The JSON files of a user's model folder (config.json, tokenizer_config.json, tokenizer.json,
special_tokens_map.json) and of a probe's adapter (adapter_config.json) damaged one at a time: each is one line
naming the file (exit 2), never a traceback, and never a wait for ever.

Before: `lorplan profile --model FOLDER` read them in core.data.fast_tokenizer with json.loads catching
ValueError, so nesting too deep was a RecursionError traceback; a pipe in the file's place blocked the read for
ever; the other damage went on to transformers, whose lines name no file ("cannot load (Expecting value: line 1
column 1 (char 0))", "('list' object has no attribute 'get')", Python's advice to call
sys.set_int_max_str_digits()). `lorplan train` caught transformers' OSError and ValueError only: a tokenizer.json
nested too deeply, or holding a list or a string, was a RecursionError, TypeError or AttributeError traceback.
recommend.pattern.load_adapter: a RecursionError, a ValueError from int("x") or an OverflowError from int(1e400)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from tests.cli.test_input_edges import _run

FILES = ("config.json", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json")
DAMAGE = {
    "empty": (lambda old: b"", "is empty"),
    "not UTF-8": (lambda old: b'{"a": "\xff"}', "is not UTF-8 text (byte 7: b'\\xff')"),
    "BOM": (lambda old: b"\xef\xbb\xbf" + old, "starts with a UTF-8 byte-order mark (BOM)"),
    "nested": (lambda old: b"[" * 100_000 + b"]" * 100_000, "nested too deeply for Python's json module"),
    "long number": (lambda old: old.rstrip()[:-1] + b', "n": ' + b"9" * 5000 + b"}",
                    "a number of 5000 digits, more than the 4300 json reads"),
    "a list": (lambda old: b"[1, 2]", "is not a JSON object"),
    "a string": (lambda old: b'"hello"', "is not a JSON object"),
}


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> Path:
    """A tiny Llama with MiniLM's real tokenizer files (tests/model_builders.py), built once."""
    from tests.model_builders import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("llama") / "model")


@pytest.fixture
def model(llama, tmp_path) -> Path:
    """A fresh copy of the tiny Llama to damage."""
    import shutil

    return Path(shutil.copytree(llama, tmp_path / "my model"))


@pytest.fixture
def data(prompt_completion_file) -> Path:
    return prompt_completion_file


def _one_line(capsys, argv, says: str) -> str:
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and "Traceback" not in err, (argv, rc, err)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors == err.splitlines()[-1:], err  # notes may come before it, nothing after
    assert says in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("name", FILES)
def test_profile_names_a_damaged_json_file_of_the_model(model, data, capsys, state_home, name, damage):
    make, says = DAMAGE[damage]
    path = model / name
    path.write_bytes(make(path.read_bytes()))
    line = _one_line(capsys, ["profile", "--data", str(data), "--model", str(model)], says)
    assert line.startswith(f"lorplan profile: error: {name} at {path} "), line


@pytest.mark.parametrize("name", ["config.json", "tokenizer_config.json", "special_tokens_map.json"])
def test_profile_does_not_wait_on_a_pipe_in_a_json_files_place(model, data, tmp_path, name):
    # transformers skips a file that is not a regular one; lorplan read it and waited for a writer for ever
    (model / name).unlink()
    os.mkfifo(model / name)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "lorplan", "profile", "--data", str(data), "--model", str(model)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "examples         8" in proc.stdout, proc.stdout


@pytest.mark.parametrize("damage", ["nested", "a list", "a string", "empty"])
def test_train_names_a_damaged_tokenizer_json(model, data, tmp_path, capsys, state_home, damage):
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan)]) == 0
    capsys.readouterr()
    make, says = DAMAGE[damage]
    path = model / "tokenizer.json"
    path.write_bytes(make(path.read_bytes()))
    line = _one_line(capsys, ["train", str(plan)], says)
    assert line.startswith(f"lorplan train: error: tokenizer.json at {path} "), line


def _adapters(tmp_path: Path) -> list[Path]:
    import torch

    from tests.recommend.test_pattern import write_adapter

    g = torch.Generator().manual_seed(0)
    tensors = {"encoder.layer.0.query": (torch.randn(4, 16, generator=g), torch.randn(16, 4, generator=g))}
    return [write_adapter(tmp_path / f"run{i}", tensors, 4) for i in range(2)]


@pytest.mark.parametrize(("text", "says"), [
    ("[" * 100_000 + "]" * 100_000, "adapter_config.json is not valid JSON (arrays or objects nested too deeply"),
    ("[]", "adapter_config.json is not a JSON object"),
    ('{"r": "8"}', "adapter_config.json's 'r' must be a positive whole number, not '8'"),
    ('{"r": 1e400}', "adapter_config.json's 'r' must be a positive whole number, not inf"),
    ('{"r": -4}', "adapter_config.json's 'r' must be a positive whole number, not -4"),
    ('{"r": 4, "lora_alpha": "x"}', "adapter_config.json's 'lora_alpha' must be a positive number, not 'x'"),
    ('{"r": 4, "lora_alpha": 1e400}', "adapter_config.json's 'lora_alpha' must be a positive number, not inf"),
    ('{"r": 4, "rank_pattern": {"query": "2"}}',
     "adapter_config.json's 'rank_pattern' must map module names to positive numbers, not {'query': '2'}"),
    ('{"r": 4, "alpha_pattern": []}', None),  # an empty list reads as no pattern, as before
    ('{"r": 4, "alpha_pattern": [1]}',
     "adapter_config.json's 'alpha_pattern' must map module names to positive numbers, not [1]"),
], ids=["nested", "list", "r string", "r inf", "r negative", "alpha string", "alpha inf", "rank_pattern string",
        "alpha_pattern empty list", "alpha_pattern list"])
def test_a_damaged_adapter_config_is_one_line_naming_it(tmp_path, text, says):
    from lorplan.recommend.pattern import load_adapter

    folder = _adapters(tmp_path)[0]
    (folder / "adapter_config.json").write_text(text)
    if says is None:
        assert load_adapter(folder).rank == 4
        return
    with pytest.raises(BadInput) as exc:
        load_adapter(folder)
    assert str(exc.value).startswith(f"adapter {folder}: ") and says in str(exc.value), str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("name", "change", "says"), [
    ("generation_config.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply for Python's json module"),
    ("generation_config.json", b"[]", "is not a JSON object"),
    ("config.json", {"tie_word_embeddings": "yes"}, "(TypeError: Field 'tie_word_embeddings' expected bool, got str"),
    ("config.json", {"hidden_act": 5}, "(TypeError: Field 'hidden_act' expected str, got int"),
    ("config.json", {"rope_parameters": "x"}, "(TypeError: Field 'rope_parameters' with value 'x'"),
    ("config.json", {"hidden_act": "nope"}, "(KeyError: 'nope')"),
], ids=["generation nested", "generation list", "tie string", "act number", "rope string", "act unknown"])
def test_train_names_a_model_file_transformers_cannot_load(model, data, tmp_path, capsys, state_home, name, change,
                                                           says):
    # lorplan's planner reads none of these values, so the plan is written; transformers' load was a traceback
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan)]) == 0
    capsys.readouterr()
    path = model / name
    if isinstance(change, dict):
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    else:
        path.write_bytes(change)
    line = _one_line(capsys, ["train", str(plan)], says)
    where = f"{name} at {path} " if name != "config.json" else f"transformers cannot load it from {path} "
    assert where in line, line


def test_profile_reads_tokenizer_json_only_when_transformers_fails(model, data, capsys, state_home):
    # a real tokenizer.json is megabytes (about 0.1 s of json for Llama 3's): a folder left to transformers (here by
    # its chat template) has it read by transformers only, and by lorplan's reader after transformers failed on it
    from lorplan.core.data.fast_tokenizer import load_fast

    config = model / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "chat_template": "{{ messages }}"}))
    path = model / "tokenizer.json"
    path.write_bytes(DAMAGE["nested"][0](b""))
    assert load_fast(model) is None  # not read: it would be BadInput
    line = _one_line(capsys, ["profile", "--data", str(data), "--model", str(model)], DAMAGE["nested"][1])
    assert line.startswith(f"lorplan profile: error: tokenizer.json at {path} "), line


@pytest.mark.parametrize("damage", ["empty", "BOM", "not UTF-8"])
def test_train_loads_a_model_whose_generation_config_transformers_skips(model, data, tmp_path, capsys, state_home,
                                                                        damage):
    # transformers finds no JSON in it (OSError), makes a generation config from config.json and loads the model
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan)]) == 0
    path = model / "generation_config.json"
    path.write_bytes(DAMAGE[damage][0](path.read_bytes()))
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 0 and "generation_config.json" not in err, err


def test_only_a_model_built_from_its_config_is_blamed_on_config_json(model, tmp_path):
    # from_pretrained's own checks of the load's arguments are not config.json's: Gemma 2 has no SDPA attention
    from transformers import AutoModelForCausalLM, Gemma2Config, Gemma2ForCausalLM

    from lorplan.train.model import _built_from_config

    def error(folder, **kwargs):
        with pytest.raises(Exception) as exc:
            AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **kwargs)
        return exc.value

    gemma = tmp_path / "gemma2"
    Gemma2ForCausalLM(Gemma2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, head_dim=8)).save_pretrained(gemma)
    sdpa = error(gemma, attn_implementation="sdpa")
    assert isinstance(sdpa, ValueError) and "scaled_dot_product_attention" in str(sdpa)
    assert not _built_from_config(sdpa)
    config = model / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "hidden_act": "nope"}))
    assert _built_from_config(error(model))
