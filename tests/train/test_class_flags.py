"""Which attentions and whether gradient checkpointing a transformers model class implements is read by one rule,
core.model.attention.class_flags (its attributes only: core imports no transformers), which the fallback's child
(what `lorplan plan` judges a model outside the catalog by) and `lorplan train` (train.model.class_attentions)
both use. Before, each wrote the rule out: the child read transformers 4's `_supports_flash_attn_2` where
`_supports_flash_attn` is absent, train read `_supports_flash_attn` only, so on transformers 4 plan refused flash
for a class without it and train took it (and from_pretrained refused it there)."""

from __future__ import annotations

import json

import pytest

from lorplan.core.model.attention import class_flags
from lorplan.core.vocab import Attention


class _V4NoFlash:
    """A transformers 4.x class without flash attention: its flag is `_supports_flash_attn_2`."""

    _supports_sdpa = True
    _supports_flash_attn_2 = False
    supports_gradient_checkpointing = True


class _V5NoSdpaNoCheckpointing:
    _supports_sdpa = False
    _supports_flash_attn = True
    _supports_flash_attn_2 = False  # a 5.x class reads _supports_flash_attn; the old name is not consulted
    supports_gradient_checkpointing = False


class _Unflagged:
    """No flag at all: implemented (the flags are set False where a class lacks something)."""


def test_the_rule_reads_the_flags_of_either_transformers():
    assert class_flags(_V4NoFlash).unsupported_attention == (Attention.FLASH,)
    assert class_flags(_V4NoFlash).gradient_checkpointing is True
    flags = class_flags(_V5NoSdpaNoCheckpointing)
    assert flags.unsupported_attention == (Attention.SDPA,) and flags.gradient_checkpointing is False
    assert class_flags(_Unflagged).unsupported_attention == () and class_flags(_Unflagged).gradient_checkpointing
    assert Attention.EAGER in class_flags(_V5NoSdpaNoCheckpointing).supported_attention


@pytest.mark.parametrize("cls", [_V4NoFlash, _V5NoSdpaNoCheckpointing, _Unflagged])
def test_train_reads_the_same_rule(cls):
    """Before: train read only `_supports_flash_attn`, and took flash for the 4.x class without it."""
    from lorplan.train.model import class_attentions

    assert set(class_attentions(cls)) == set(class_flags(cls).supported_attention)
    assert class_attentions(cls)[0] == Attention.EAGER  # train's messages list eager first


def test_the_child_reports_what_the_rule_reads_of_real_classes(tmp_path, capsys, monkeypatch):
    """The child's JSON for real classes that lack something (GPT-Neo: SDPA; OpenAI GPT: SDPA, flash and
    checkpointing) is class_flags' answer for the class it built. The child's main() is called in this process
    (a child's start and imports of torch and transformers saved, each; this test imports transformers here
    too): the fallback's child process itself is started by the fallback's own tests."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM, OpenAIGPTConfig, OpenAIGPTLMHeadModel

    from lorplan.core.model import _fallback_child

    configs = {GPTNeoForCausalLM: GPTNeoConfig(vocab_size=64, hidden_size=16, num_layers=2, num_heads=2,
                                               attention_types=[[["global", "local"], 1]], window_size=16),
               OpenAIGPTLMHeadModel: OpenAIGPTConfig(vocab_size=64, n_embd=16, n_layer=1, n_head=2)}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # main() sets it, as a child's own environment
    for cls, cfg in configs.items():
        folder = tmp_path / cls.__name__
        cfg.save_pretrained(folder)
        capsys.readouterr()
        code = _fallback_child.main([str(folder / "config.json")])
        out, err = capsys.readouterr()
        assert code == 0, err
        data = json.loads(out.strip().splitlines()[-1])
        assert data["class"] == cls.__name__
        flags = class_flags(cls)
        assert data["unsupported_attention"] == [a.value for a in flags.unsupported_attention]
        assert data["supports_gradient_checkpointing"] is flags.gradient_checkpointing
    assert class_flags(OpenAIGPTLMHeadModel).unsupported_attention  # the premise: it lacks something
    assert class_flags(OpenAIGPTLMHeadModel).gradient_checkpointing is False
