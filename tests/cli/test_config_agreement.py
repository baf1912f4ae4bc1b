"""One judgement of a model's config.json for every command: a config that `lorplan plan --model F` refuses is
refused by `lorplan profile --model F` with the same line, so a user learns it from the first command run.

Before: profile's model_limit (core.data.profile) and its is_classifier / check_seq_len (cli.profile) caught every
LorplanError of load_spec, so a config.json holding "hidden_size": "32" or "model_type": "nope_model" was profiled
with exit 0 against the tokenizer's length limit, and the config was refused only by plan, or by train after it.
A folder of tokenizer files alone (no config.json) is no config to judge: profile counts with it, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from tests.cli.test_input_edges import _run

LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522,
         "max_position_embeddings": 256}
DROP = object()
DAMAGE = {
    "size as text": {"hidden_size": "32"},
    "negative size": {"num_hidden_layers": -1},
    "missing size": {"vocab_size": DROP},
    "no model_type": {"model_type": DROP},
    "unknown model_type": {"model_type": "nope_model", "architectures": DROP},
}


def _folder(tmp_path: Path, change: dict | None = None) -> Path:
    """A model folder without weights (plan and profile read no weights): MiniLM's tokenizer files and a tiny
    Llama's config.json with `change` applied (DROP removes a key)."""
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "my model")
    cfg = {k: v for k, v in {**LLAMA, **(change or {})}.items() if v is not DROP}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.fixture
def data(prompt_completion_file) -> Path:
    return prompt_completion_file


def _refusal(capsys, *argv) -> str:
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, (argv, rc, err)
    return err.strip()


@pytest.mark.parametrize("flags", [(), ("--seq-len", "64"), ("--json",), ("--train-on-all",)],
                         ids=["plain", "seq-len", "json", "train-on-all"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_profile_refuses_the_config_plan_refuses_with_its_line(tmp_path, data, capsys, state_home, damage, flags):
    folder = _folder(tmp_path, DAMAGE[damage])
    planned = _refusal(capsys, "plan", "--model", str(folder))
    assert planned.startswith(f"lorplan plan: error: config.json at {folder / 'config.json'}"), planned
    profiled = _refusal(capsys, "profile", "--data", str(data), "--model", str(folder), *flags)
    assert profiled == planned.replace("lorplan plan:", "lorplan profile:", 1)


def test_model_limit_refuses_the_config_plan_refuses(tmp_path):
    # the Data tab and recommend profile through core.data.profile_dataset, which reads the limit here
    from lorplan.core.data.profile import model_limit

    folder = _folder(tmp_path, DAMAGE["size as text"])
    with pytest.raises(BadInput, match="'hidden_size' must be a positive integer, not '32'"):
        model_limit(str(folder))


def test_a_sound_config_and_a_tokenizer_only_folder_still_profile(tmp_path, data, capsys, state_home):
    from lorplan.core.data.profile import model_limit
    from tests.model_builders import copy_tokenizer

    folder = _folder(tmp_path)
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", str(folder), "--json")
    assert rc == 0 and json.loads(out)["seq_len"] == 256, err  # the config's context caps the default 2048
    tokenizer_only = copy_tokenizer(tmp_path / "tokenizer only")
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", str(tokenizer_only), "--json")
    assert rc == 0 and json.loads(out)["examples"] == 8, err
    limit = model_limit(str(tokenizer_only), tokenizer_max=512)
    assert limit is not None and limit.tokens == 512 and "tokenizer" in limit.source


def test_an_architecture_only_transformers_builds_is_profiled_against_its_build(tmp_path, data, capsys, state_home):
    # a model_type transformers knows and the fast path does not: profile builds it as plan does (the fallback;
    # tests/cli/test_profile_fallback_model.py) and profiles against its context
    folder = _folder(tmp_path, {"model_type": "opt", "architectures": DROP})
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", str(folder), "--json")
    assert rc == 0 and json.loads(out)["seq_len"] == 256, err
