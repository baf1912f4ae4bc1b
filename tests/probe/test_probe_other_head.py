"""Probes of a model whose config.json names a head lorplan does not train (a token classifier, a question-answering
model): `lorplan probe start`, the planner's probes (runner.check_start) and `lorplan recommend --data`'s ladder
(and the planner's: recommend.launch.probe_blocker) loaded the spec without lorplan train's check, so each probe
would train the causal LM (or classifier) planned from that checkpoint, another model without its head. Now they
refuse in lorplan train's one line (core.model.head.other_head_refusal) before any probe starts: no run folder.
Nothing is built: the folder's weight and tokenizer files are placeholders (the refusal comes before they are read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.model import load_spec, resolve_model
from lorplan.probe.runner import check_start
from lorplan.recommend.launch import probe_blocker

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}
WORDS = "config.json names LlamaForTokenClassification, a token-classification model transformers builds with " \
        "AutoModelForTokenClassification, a head lorplan does not train"


def _inputs(tmp_path: Path, architectures: list[str]) -> tuple[Path, Path]:
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}?", "completion": f" A{i}."}) + "\n" for i in range(40)))
    return folder, data


def test_probe_start_refuses_it(tmp_path, capsys, state_home):
    folder, data = _inputs(tmp_path, ["LlamaForTokenClassification"])
    rc = main(["probe", "start", "--model", str(folder), "--data", str(data), "--ranks", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"lorplan probe start: error: --model {folder}: {WORDS}"), err[0]
    assert not state_home.exists() or not [p for p in state_home.iterdir() if not p.name.startswith(".")]


def test_the_planners_probes_are_refused_so(tmp_path, state_home):
    """check_start as the planner calls it (plan_keys, the plan's task): the same line."""
    folder, data = _inputs(tmp_path, ["LlamaForQuestionAnswering"])
    with pytest.raises(BadInput) as exc:
        check_start(str(folder), str(data), plan_keys=True, task="causal-lm")
    assert str(exc.value).startswith(f"--model {folder}: config.json names LlamaForQuestionAnswering, a "
                                     "question-answering model")


def test_probe_start_of_its_causal_lm_passes_the_check(tmp_path, state_home):
    """Named first, the causal LM is what the folder holds: check_start accepts it (the head named second says
    nothing)."""
    folder, data = _inputs(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"])
    assert check_start(str(folder), str(data)).task == "causal-lm"


def test_recommend_refuses_its_ladder(tmp_path, capsys, state_home):
    folder, data = _inputs(tmp_path, ["LlamaForTokenClassification"])
    rc = main(["recommend", "--model", str(folder), "--data", str(data), "--gpu-memory", "24GB"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"lorplan recommend: error: --model {folder}: {WORDS}"), err
    assert not any(line.startswith("lorplan recommend: error") for line in err[:-1])
    assert not state_home.exists() or not [p for p in state_home.iterdir() if not p.name.startswith(".")]


def test_the_planners_ladder_is_blocked(tmp_path):
    """probe_blocker, which the Recommend tab's ladder asks before it starts: the refusal is why it cannot run."""
    folder, _ = _inputs(tmp_path, ["LlamaForTokenClassification"])
    source = resolve_model(str(folder))
    blocked = probe_blocker(load_spec(source), source)
    assert blocked is not None and WORDS in blocked.reason
    folder.joinpath("config.json").write_text(json.dumps({**LLAMA, "architectures": ["LlamaForCausalLM"]}))
    assert probe_blocker(load_spec(source), source) is None
