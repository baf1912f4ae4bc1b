"""A plan's training.attention that the model's transformers class does not implement: Gemma 2 has no SDPA
(transformers 5: Gemma2PreTrainedModel._supports_sdpa = False, "sdpa does not support softcapping"), and SDPA is
lorplan's default. `lorplan train` ended in a traceback of transformers' ValueError from from_pretrained
(not the config's fault, so build_model re-raised it); now one line naming the plan's setting and what the model
supports, and the plan lorplan plan writes without --attention (eager, core.model.attention) trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run


@pytest.fixture(scope="module")
def gemma2(tmp_path_factory) -> Path:
    """A one-layer Gemma 2 with MiniLM's tokenizer files."""
    import torch
    from transformers import Gemma2Config, Gemma2ForCausalLM

    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path_factory.mktemp("gemma2") / "model")
    torch.manual_seed(0)
    cfg = Gemma2Config(vocab_size=30522, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=128,
                       pad_token_id=0, bos_token_id=101, eos_token_id=102)
    Gemma2ForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture
def data(prompt_completion_file) -> Path:
    return prompt_completion_file


def _plan(capsys, gemma2, data, tmp_path, *flags) -> Path:
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(gemma2), "--data", str(data), "--rank", "4", "--seq-len", "32",
                      "--write", str(plan), *flags)
    assert rc == 0, err
    return plan


def test_train_names_the_attention_gemma2_does_not_implement(gemma2, data, tmp_path, capsys, state_home):
    """A plan asking for SDPA (lorplan plan refuses it now: a plan written elsewhere, or edited) is refused by
    the plan's check against the model (core.plan.context) before the weights load."""
    plan = _plan(capsys, gemma2, data, tmp_path, "--attention", "flash")
    plan.write_text(plan.read_text().replace('attention = "flash"', 'attention = "sdpa"', 1))
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lorplan train: error: {plan}: training.attention = \"sdpa\": "), line
    assert "Gemma2ForCausalLM" in line and "supports eager, flash" in line, line


def test_train_asks_transformers_for_the_attention_it_runs(gemma2, data, tmp_path, capsys, state_home):
    """A flash plan, which Gemma 2 implements, runs SDPA on the CPU: build_model's check (4ab7a6d) names that."""
    plan = _plan(capsys, gemma2, data, tmp_path, "--attention", "flash")
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith('lorplan train: error: training.attention = "flash" (sdpa on the CPU): '), line
    assert "Gemma2ForCausalLM does not implement sdpa attention" in line, line


def test_the_default_gemma2_plan_is_eager_and_trains(gemma2, data, tmp_path, capsys, state_home):
    plan = _plan(capsys, gemma2, data, tmp_path)  # no --attention: eager, Gemma 2 has no SDPA
    assert 'attention = "eager"' in plan.read_text().splitlines()
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 0, err
    assert (tmp_path / "out" / "adapter").is_dir()
