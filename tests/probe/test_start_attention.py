"""`lorplan probe start` without --attention probed every model with SDPA, which transformers 5's Gemma 2 does not
implement (Gemma2ForCausalLM._supports_sdpa = False), so a Gemma 2 run started and each of its probes failed when
the model loaded. It now takes the model's attention as `lorplan plan` does (core.model.attention: SDPA, eager for
Gemma 2, with the same note) and refuses an --attention the model lacks before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.vocab import Attention
from lorplan.probe.runs import RunDir
from tests.model_builders import copy_tokenizer

SDPA, EAGER, FLASH = Attention.SDPA.value, Attention.EAGER.value, Attention.FLASH.value


@pytest.fixture
def gemma2(tmp_path) -> Path:
    """A Gemma 2 folder as check_start reads it: its config.json, weights and tokenizer files (the probes are
    cancelled before they load it)."""
    folder = copy_tokenizer(tmp_path / "gemma2")
    (folder / "config.json").write_text(json.dumps({
        "model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "vocab_size": 30522, "hidden_size": 16,
        "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
        "head_dim": 8, "max_position_embeddings": 128}))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


@pytest.fixture
def data(prompt_completion_file) -> Path:
    return prompt_completion_file


def _start(gemma2, data, *flags) -> list[str]:
    return ["probe", "start", "--model", str(gemma2), "--data", str(data), "--ranks", "4", "--steps", "2",
            "--device", "cpu", *flags]


def test_gemma2_is_probed_with_eager_and_says_why(gemma2, data, state_home, capsys):
    assert main([*_start(gemma2, data), "--json"]) == 0
    captured = capsys.readouterr()
    started = json.loads(captured.out)
    try:
        assert RunDir(Path(started["path"])).plan().attention == EAGER
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
    notes = [line for line in captured.err.splitlines() if line.startswith(f"note: --attention {EAGER}: ")]
    assert len(notes) == 1 and "(Gemma2ForCausalLM) does not implement sdpa attention" in notes[0], captured.err
    assert "priced" not in notes[0]  # a probe prices nothing


def test_an_attention_gemma2_lacks_is_refused_before_anything_starts(gemma2, data, state_home, capsys):
    assert main(_start(gemma2, data, "--attention", SDPA)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan probe start: error: --attention {SDPA}: {gemma2} (Gemma2ForCausalLM) does not "
                   f"implement {SDPA} attention in transformers; it supports {EAGER}, {FLASH}"), err
    assert not state_home.exists() or not any(state_home.iterdir())


def test_a_model_with_sdpa_is_probed_with_it(tiny_llama, data, state_home, capsys):
    assert main([*_start(tiny_llama, data), "--json"]) == 0
    captured = capsys.readouterr()
    started = json.loads(captured.out)
    try:
        assert RunDir(Path(started["path"])).plan().attention == SDPA
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
    assert "--attention" not in captured.err
