"""State-space models (Mamba, Mamba2) and Mamba hybrids (FalconH1: Mamba2 mixers beside attention; Bamba).

peft 0.21 refuses LoRA on `out_proj` and `conv1d` of the model types it calls Mamba-based
(peft/tuners/tuners_utils.py `_check_lora_target_modules_mamba`, peft#2556: mamba_ssm's fused kernels read those
weights directly, so an adapter there is never run), and its "all-linear" still selects out_proj there: lorplan
plan's default targets were refused by `lorplan train` with peft's ValueError traceback. lorplan's memory model has
no term for a state-space mixer's activations, and said nothing. Real tiny models with random weights and MiniLM's
tokenizer; real peft decides what it wraps and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

_IDS = dict(pad_token_id=0, bos_token_id=101, eos_token_id=102, vocab_size=30522)
_MAMBA2 = dict(state_size=8, expand=2, head_dim=8, num_heads=8, n_groups=1, chunk_size=64)


def _build(kind: str, folder: Path) -> Path:
    import torch
    import transformers as tf

    from tests.model_builders import copy_tokenizer

    copy_tokenizer(folder)
    torch.manual_seed(0)
    if kind == "mamba":
        model = tf.MambaForCausalLM(tf.MambaConfig(hidden_size=32, state_size=8, num_hidden_layers=2, **_IDS))
    elif kind == "mamba2":
        model = tf.Mamba2ForCausalLM(tf.Mamba2Config(hidden_size=32, num_hidden_layers=2, **_MAMBA2, **_IDS))
    elif kind == "falcon_h1":
        model = tf.FalconH1ForCausalLM(tf.FalconH1Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=8, mamba_d_ssm=64, mamba_n_heads=8, mamba_d_head=8, mamba_n_groups=1, mamba_d_state=8,
            mamba_chunk_size=64, max_position_embeddings=1024, **_IDS))
    else:
        model = tf.BambaForCausalLM(tf.BambaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            attn_layer_indices=[1], mamba_n_heads=8, mamba_d_head=8, mamba_n_groups=1, mamba_d_state=8,
            mamba_chunk_size=64, max_position_embeddings=1024, **_IDS))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssm")
    return {kind: _build(kind, root / kind) for kind in ("mamba", "mamba2", "falcon_h1", "bamba")}


def _peft_refuses(model_type: str, name: str) -> bool:
    """Whether the installed peft's LoRA refuses module `name` on a model of `model_type` (its own check)."""
    from types import SimpleNamespace

    from peft import LoraConfig
    from peft.tuners.tuners_utils import _check_lora_target_modules_mamba

    try:
        _check_lora_target_modules_mamba(LoraConfig(), SimpleNamespace(config=SimpleNamespace(model_type=model_type)),
                                         name)
    except ValueError:
        return True
    return False


def test_lorplans_table_is_the_installed_pefts(folders):
    """Every model type transformers knows, asked of peft's check with every module name of the four built models
    (conv1d, out_proj, in_proj, x_proj, q_proj, ...): a peft that refuses more (or fewer) model types, or other
    names, fails here, not in a user's `lorplan train`."""
    from safetensors import safe_open
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    from lorplan.core.lora import PEFT_MAMBA_REFUSED, PEFT_MAMBA_TYPES

    names = set()
    for folder in folders.values():
        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            names |= {k.rsplit(".", 2)[-2] for k in f.keys() if k.count(".") >= 1}
    assert set(PEFT_MAMBA_REFUSED) < names  # the premise: the models hold the refused modules and others
    refused = {t for t in CONFIG_MAPPING_NAMES if any(_peft_refuses(t, n) for n in names)}
    assert refused == set(PEFT_MAMBA_TYPES)
    for t in refused:
        assert {n for n in names if _peft_refuses(t, n)} == set(PEFT_MAMBA_REFUSED), t


@pytest.mark.parametrize("kind", ["mamba", "mamba2", "falcon_h1", "bamba"])
def test_the_default_targets_are_what_peft_wraps(folders, kind):
    """Before: peft_target_modules said "all-linear" and get_peft_model raised on out_proj (mamba, mamba2,
    falcon_h1). Now peft wraps exactly the modules lorplan prices, with the trainable count lorplan says."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorplan.core.lora import (
        LoraTargets,
        model_path,
        peft_target_modules,
        resolve_targets,
        trainable_params,
    )
    from lorplan.core.model import load_spec

    spec = load_spec(str(folders[kind]))
    targets = LoraTargets()
    model = AutoModelForCausalLM.from_pretrained(folders[kind], dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=peft_target_modules(spec, targets),
                                                  task_type="CAUSAL_LM"))
    wrapped = {model_path(n) for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped == {m.path for m in resolve_targets(spec, targets)}
    assert any(p.endswith(".in_proj") for p in wrapped)  # the mixers are adapted where peft allows it
    # bamba is not in peft's list, but its mixer hands out_proj's weight to the fused kernel (core.lora.KERNEL_BYPASSED)
    assert not any(p.endswith(".out_proj") for p in wrapped)
    assert peft_model.get_nb_trainable_parameters()[0] == trainable_params(spec, targets, 4)


@pytest.mark.parametrize("named", ["out_proj", "mixer.out_proj", "layers.0.mixer.out_proj"])
def test_an_explicit_out_proj_is_refused_in_one_line(folders, capsys, named):
    """By its leaf or a longer suffix of its path (--targets matches either): peft refuses the module by its leaf
    (tuners_utils._check_lora_target_modules_mamba's target_name), so `mixer.out_proj` would end lorplan train in
    peft's ValueError."""
    folder = folders["mamba2"]
    rc, out, err = _run(capsys, "plan", "--model", str(folder), "--rank", "4", "--targets", f"in_proj,{named}")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (out, err)
    assert f"does not adapt {named} of a mamba2 model" in err and "peft" in err, err


def _notes(capsys, folder: Path) -> list[str]:
    rc, out, err = _run(capsys, "plan", "--model", str(folder), "--rank", "4", "--seq-len", "256", "--json")
    assert rc == 0, err
    data = json.loads(out)
    return [*data["model"]["notes"], *data["notes"]]


@pytest.mark.parametrize("kind", ["mamba", "mamba2", "falcon_h1", "bamba"])
def test_a_state_space_model_says_its_mixers_are_not_priced(folders, capsys, kind):
    notes = [n for n in _notes(capsys, folders[kind]) if "state-space" in n]
    assert len(notes) == 1, notes
    assert "2 state-space" in notes[0] or (kind == "bamba" and "1 state-space" in notes[0]), notes
    assert "not modelled" in notes[0] and "low" in notes[0], notes


def test_llama_has_no_state_space_note(tmp_path, capsys):
    from tests.model_builders import tiny_llama

    assert not [n for n in _notes(capsys, tiny_llama(tmp_path / "llama")) if "state-space" in n]


@pytest.mark.parametrize("kind", ["mamba2", "falcon_h1"])
def test_lorplan_train_runs_the_default_plan(folders, kind, prompt_completion_file, tmp_path, capsys, state_home):
    """Before: `lorplan train` ended in peft's ValueError ("Module 'out_proj' is incompatible with Mamba-based
    models")."""
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(folders[kind]), "--data", str(prompt_completion_file), "--rank",
                      "4", "--seq-len", "32", "--write", str(plan))
    assert rc == 0, err
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"),
                      "--no-progress")
    assert rc == 0, err
    saved = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text())
    assert "in_proj" in saved["target_modules"] and "out_proj" not in saved["target_modules"], saved
