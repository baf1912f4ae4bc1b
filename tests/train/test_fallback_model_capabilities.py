"""A model type outside lorplan's catalog is built by the fallback's child (transformers on the meta device), and
what its class cannot do was found only at `lorplan train`: GPT-Neo and BLOOM have no SDPA (transformers 5:
`_supports_sdpa = False`), yet `lorplan plan` planned them with SDPA, lorplan's default, and train refused the
plan; CTRL cannot checkpoint (`supports_gradient_checkpointing = False`), yet `lorplan plan --grad-checkpointing`
planned it and train ended in transformers' ValueError traceback. The child now reports both facts, and plan
follows them as it follows core.model.attention's table for catalog classes: the same default (eager), note and
refusal. Real tiny models with random weights and MiniLM's tokenizer; the flags expected are read from the
transformers classes themselves, not written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.core.vocab import Attention
from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

SDPA, EAGER, FLASH = Attention.SDPA.value, Attention.EAGER.value, Attention.FLASH.value
_IDS = dict(pad_token_id=0, bos_token_id=101, eos_token_id=102)


def _save(folder: Path, model) -> Path:
    from tests.model_builders import copy_tokenizer

    copy_tokenizer(folder)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def gpt_neo(tmp_path_factory) -> Path:
    """A two-block GPT-Neo (no SDPA in transformers 5; flash yes)."""
    import torch
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    torch.manual_seed(0)
    cfg = GPTNeoConfig(vocab_size=30522, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                       attention_types=[[["global", "local"], 1]], window_size=16, max_position_embeddings=128,
                       **_IDS)
    return _save(tmp_path_factory.mktemp("gpt_neo") / "model", GPTNeoForCausalLM(cfg))


@pytest.fixture(scope="module")
def bloom(tmp_path_factory) -> Path:
    """A two-block BLOOM (neither SDPA nor flash in transformers 5)."""
    import torch
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    cfg = BloomConfig(vocab_size=30522, hidden_size=16, n_layer=2, n_head=2, **_IDS)
    return _save(tmp_path_factory.mktemp("bloom") / "model", BloomForCausalLM(cfg))


def _lacks(cls) -> list[str]:
    """The attentions transformers' class says it does not implement (core.model.attention.class_flags: what the
    fallback's child reports and lorplan train asks it)."""
    from lorplan.core.model.attention import class_flags

    return [a.value for a in class_flags(cls).unsupported_attention]


def test_the_classes_lack_what_these_tests_say():
    """The premise, from the installed transformers: if a later version adds SDPA to GPT-Neo, these tests must
    pick other models, not pass vacuously."""
    from transformers import BloomForCausalLM, CTRLLMHeadModel, GPTNeoForCausalLM, OPTForCausalLM

    assert _lacks(GPTNeoForCausalLM) == [SDPA]
    assert _lacks(BloomForCausalLM) == [SDPA, FLASH]
    assert CTRLLMHeadModel.supports_gradient_checkpointing is False
    assert _lacks(OPTForCausalLM) == [] and OPTForCausalLM.supports_gradient_checkpointing is not False


def test_the_fallback_spec_carries_what_the_class_implements(gpt_neo, bloom, tiny_ctrl, tmp_path):
    from transformers import OPTConfig

    from lorplan.core.model import load_spec
    from lorplan.core.model.attention import default_attention, supported_attention

    neo, blm, ctl = (load_spec(str(f)) for f in (gpt_neo, bloom, tiny_ctrl))
    assert neo.source == blm.source == ctl.source == "fallback"
    assert [a.value for a in supported_attention(neo)] == [EAGER, FLASH]
    assert [a.value for a in supported_attention(blm)] == [EAGER]
    assert default_attention(neo) == default_attention(blm) == Attention.EAGER
    assert not ctl.supports_gradient_checkpointing and neo.supports_gradient_checkpointing
    OPTConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2,
              word_embed_proj_dim=16).save_pretrained(tmp_path)
    opt = load_spec(str(tmp_path))  # a fallback class with every attention keeps SDPA
    assert opt.source == "fallback" and [a.value for a in supported_attention(opt)] == [SDPA, EAGER, FLASH]
    assert default_attention(opt) == Attention.SDPA and opt.supports_gradient_checkpointing


def test_plan_defaults_a_fallback_model_without_sdpa_to_eager_and_it_trains(gpt_neo, prompt_completion_file,
                                                                            tmp_path, capsys, state_home):
    """Before: the plan said sdpa and `lorplan train` refused it ('GPTNeoForCausalLM does not implement sdpa')."""
    plan = tmp_path / "plan.toml"
    rc, out, err = _run(capsys, "plan", "--model", str(gpt_neo), "--data", str(prompt_completion_file), "--rank",
                        "4", "--seq-len", "32", "--write", str(plan))
    assert rc == 0, err
    assert f'attention = "{EAGER}"' in plan.read_text().splitlines()
    notes = [ln for ln in (out + err).splitlines() if ln.startswith(f"note: --attention {EAGER}: ")]
    assert len(notes) == 1, out + err
    assert notes[0].startswith(f"note: --attention {EAGER}: {gpt_neo} (GPTNeoForCausalLM) does not implement "
                               f"{SDPA} attention (lorplan's default) in transformers; "), notes
    assert "--attention flash keeps none" in notes[0], notes  # GPT-Neo has flash
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 0, err
    assert (tmp_path / "out" / "adapter").is_dir()


@pytest.mark.parametrize(("attention", "supported"), [(SDPA, EAGER), (FLASH, EAGER)])
def test_plan_refuses_an_attention_the_fallback_class_lacks(bloom, tmp_path, capsys, attention, supported):
    plan = tmp_path / "plan.toml"
    rc, out, err = _run(capsys, "plan", "--model", str(bloom), "--rank", "4", "--attention", attention,
                        "--write", str(plan))
    assert rc == 2 and out == "" and not plan.exists(), (out, err)
    assert err.strip() == (f"lorplan plan: error: --attention {attention}: {bloom} (BloomForCausalLM) does "
                           f"not implement {attention} attention in transformers; it supports {supported}"), err


def test_a_plan_file_asking_sdpa_of_a_fallback_class_without_it_is_refused_before_loading(
        bloom, tmp_path, capsys, state_home):
    """A plan written elsewhere (or edited) is checked against the child's answer as plan files of catalog
    models are (core.plan.context), before lorplan train loads the weights."""
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(bloom), "--rank", "4", "--write", str(plan))
    assert rc == 0, err
    plan.write_text(plan.read_text().replace(f'attention = "{EAGER}"', f'attention = "{SDPA}"', 1))
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f'lorplan train: error: {plan}: training.attention = "{SDPA}": {bloom} (BloomForCausalLM) does not '
        f'implement {SDPA} attention in transformers; it supports {EAGER}: set training.attention = "{EAGER}" (or '
        f"lorplan plan --attention {EAGER})"), err


def test_plan_refuses_grad_checkpointing_for_a_class_without_it(tiny_ctrl, prompt_completion_file, tmp_path, capsys,
                                                                state_home):
    """Before: planned, then `lorplan train` ended in transformers' 'CTRLLMHeadModel does not support activation
    checkpointing' traceback. Without the flag the plan trains."""
    plan = tmp_path / "plan.toml"
    argv = ("plan", "--model", str(tiny_ctrl), "--data", str(prompt_completion_file), "--rank", "4", "--seq-len",
            "32", "--write", str(plan))
    rc, out, err = _run(capsys, *argv, "--grad-checkpointing")
    assert rc == 2 and out == "" and not plan.exists(), (out, err)
    assert err.strip() == (f"lorplan plan: error: --grad-checkpointing: {tiny_ctrl} (CTRLLMHeadModel) does not "
                           "implement gradient checkpointing in transformers: plan without --grad-checkpointing"), err
    rc, _, err = _run(capsys, *argv)
    assert rc == 0, err
    assert "gradient_checkpointing = false" in plan.read_text().splitlines()
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 0, err


def test_the_child_reports_the_class_flags(gpt_neo, capsys, monkeypatch):
    """The child's JSON line names what the class lacks (the parent never imports transformers). Its main() is
    called in this process (a child's start and imports saved: the tests above import transformers here too);
    the fallback's child process itself builds every spec above."""
    from lorplan.core.model import _fallback_child

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # main() sets it, as a child's own environment
    capsys.readouterr()
    assert _fallback_child.main([str(gpt_neo / "config.json")]) == 0
    said = capsys.readouterr()
    data = json.loads(said.out.strip().splitlines()[-1])
    assert data["unsupported_attention"] == [SDPA] and data["supports_gradient_checkpointing"] is True
