"""Which models `--rope-scaling` (lorplan's linear RoPE position interpolation) may be offered or accepted for, and
what the refusal says. It is refused for a model that scales RoPE itself (Phi-3.5-mini's and Phi-4-mini's longrope,
though the catalog's copy of their config.json leaves the factor lists out), for a model with no RoPE at all
(BLOOM and MPT position by ALiBi, T5 by a learned relative bias, even when its config gives no context), and
never offered to them beyond their context; a table of token rows (Gemma 3n's embed_tokens_per_layer) is no
position table."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import check_context, learned_positions, native_rope_scaling
from lorplan.core.model import load_spec
from lorplan.core.model.catalog import config, find
from tests.cli.test_plan_bounds import planned, refused

PHI35 = "microsoft/Phi-3.5-mini-instruct"
PHI4_MINI = "microsoft/Phi-4-mini-instruct"
LONGROPE = [PHI35, PHI4_MINI]  # both scale RoPE by longrope, from 4,096 to 131,072 tokens (their config.json)


@pytest.mark.parametrize("model", LONGROPE)
def test_catalog_longrope_models_scale_rope_themselves(capsys, model):
    spec = load_spec(model)
    assert spec.max_position_embeddings == 131072
    native = native_rope_scaling(spec)
    assert native is not None and native["rope_type"] == "longrope"
    line = refused(capsys, "--model", model, "--rope-scaling", "2")
    assert line == (f"lorplan plan: error: --rope-scaling: {model} already scales RoPE (longrope, from 4,096 to "
                    "131,072 tokens); lorplan does not stack a second scaling on it")
    line = refused(capsys, "--model", model, "--seq-len", "200000")
    assert "context of 131,072 tokens" in line and "its own RoPE scaling" in line and "--rope-scaling" not in line


def test_catalog_marker_agrees_with_the_stored_config():
    """The entry's marker names the scaling type only; the context it scales from is the stored config.json's
    original_max_position_embeddings (one copy: the refusal's "from 4,096" is read there); no other entry
    carries one."""
    for model in LONGROPE:
        entry = find(model)
        assert entry.rope_scaling == "longrope" and config(entry)["original_max_position_embeddings"] == 4096
        assert config(entry).get("rope_scaling") is None  # the stored file leaves the factor lists out
        assert native_rope_scaling(load_spec(model)) == {"rope_type": "longrope"}
    others = [e for e in (find("microsoft/Phi-3-mini-4k-instruct"), find("microsoft/phi-4")) if e.rope_scaling]
    assert others == []


def test_phi3_mini_4k_is_still_offered_rope_scaling(capsys):
    """Phi-3-mini-4k's config.json has no rope_scaling: beyond its 4,096 tokens --rope-scaling is the advice."""
    line = refused(capsys, "--model", "microsoft/Phi-3-mini-4k-instruct", "--seq-len", "8192")
    assert "--rope-scaling 2" in line
    out = planned(capsys, "--model", "microsoft/Phi-3-mini-4k-instruct", "--seq-len", "8192", "--rope-scaling", "2",
                  "--ranks", "8", "--gpu-memory", "1000GiB")
    assert out["setup"]["rope_scaling"] == 2.0


def test_planner_refuses_the_same(capsys):
    """The planner and plan files ask the same bounds."""
    from lorplan.core.memory.bounds import PLAN_KEYS
    from lorplan.tui.bridge import rank_table

    spec = load_spec(PHI35)
    with pytest.raises(BadInput, match=r"^model.rope_scaling: .* already scales RoPE \(longrope, from 4,096"):
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0), PLAN_KEYS)
    with pytest.raises(BadInput) as err:
        rank_table(spec, TrainingSetup(seq_len=200000), None)
    assert "its own RoPE scaling" in str(err.value) and "rope-scaling" not in str(err.value)


def _hub_phi35(folder, saved_by_transformers: bool) -> str:
    """Phi-3.5-mini's config.json as the hub ships it: rope_scaling longrope with its factor lists (48 each: half
    of head_dim 96), original_max_position_embeddings 4096; or as transformers 5 saves it (rope_parameters)."""
    cfg = config(find(PHI35))
    cfg["rope_scaling"] = {"type": "longrope", "long_factor": [1.0] * 48, "short_factor": [1.0] * 48}
    folder.mkdir()
    if saved_by_transformers:
        from transformers import Phi3Config

        Phi3Config(**{k: v for k, v in cfg.items() if k not in ("model_type",)}).save_pretrained(folder)
        assert "rope_parameters" in json.loads((folder / "config.json").read_text())
    else:
        (folder / "config.json").write_text(json.dumps(cfg))
    return str(folder)


@pytest.mark.parametrize("saved_by_transformers", [False, True], ids=["hub", "transformers5"])
def test_longrope_message_says_what_longrope_has(tmp_path, saved_by_transformers):
    """longrope has no `factor`: the refusal names the contexts it spans, not "longrope ×?"."""
    spec = load_spec(_hub_phi35(tmp_path / "phi", saved_by_transformers))
    with pytest.raises(BadInput) as err:
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0))
    assert "×?" not in str(err.value)
    assert "already scales RoPE (longrope, from 4,096 to 131,072 tokens)" in str(err.value)


def test_per_layer_rope_with_an_empty_entry_is_still_per_layer(tmp_path):
    """rope_parameters per layer type with an entry left null is still per layer type: the full-attention
    layers' linear ×8 is the model's own scaling."""
    cfg = config(find("google/gemma-3-1b-it"))
    cfg["rope_parameters"] = {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                              "sliding_attention": None}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = load_spec(str(tmp_path))
    assert native_rope_scaling(spec) == {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6}
    with pytest.raises(BadInput, match=r"already scales RoPE \(linear ×8"):
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0))


def test_per_layer_rope_without_full_attention_is_refused(tmp_path):
    """RoPE set per labels without the one lorplan scales (DeepSeek-V4's main / compress in a Llama config, whose
    rope_scaling transformers puts on full_attention): there are no full-attention RoPE parameters to scale.
    DeepSeek-V4's own config scales compress (tests/core/test_rope_labels_transformers.py)."""
    cfg = config(find("meta-llama/Llama-3.2-1B-Instruct"))
    del cfg["rope_scaling"]
    cfg["rope_parameters"] = {"main": {"rope_type": "default", "rope_theta": 1e4},
                              "compress": {"rope_type": "default", "rope_theta": 1.6e5}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = load_spec(str(tmp_path))
    assert native_rope_scaling(spec) is None
    with pytest.raises(BadInput) as err:
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0))
    assert str(err.value).startswith("--rope-scaling: ") and "main, compress" in str(err.value)
    assert "none of them full_attention" in str(err.value) and "\n" not in str(err.value)


def _save(folder, cfg) -> str:
    cfg.architectures = None
    cfg.save_pretrained(folder)
    return str(folder)


def _bloom(folder) -> str:
    from transformers import BloomConfig

    return _save(folder, BloomConfig(vocab_size=64, hidden_size=16, n_layer=1, n_head=2))


def _mpt(folder) -> str:
    from transformers import MptConfig

    return _save(folder, MptConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, max_seq_len=64))


def _falcon(folder, alibi: bool) -> str:
    from transformers import FalconConfig

    return _save(folder, FalconConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      alibi=alibi, max_position_embeddings=64))


@pytest.mark.slow
@pytest.mark.parametrize("build", [_bloom, _mpt, lambda f: _falcon(f, True)], ids=["bloom", "mpt", "falcon-alibi"])
def test_alibi_models_have_no_rope_to_scale(tmp_path, capsys, build):
    """BLOOM, MPT and Falcon with alibi position by ALiBi (a bias by distance in every attention), not RoPE and
    not a position table: --rope-scaling has nothing to scale, and beyond the context it is not the advice."""
    folder = build(tmp_path / "model")
    spec = load_spec(folder)
    assert spec.source == "fallback" and not learned_positions(spec) and native_rope_scaling(spec) is None
    line = refused(capsys, "--model", folder, "--seq-len", "32", "--rope-scaling", "2")
    assert line.startswith("lorplan plan: error: --rope-scaling: ") and "has no RoPE" in line and "ALiBi" in line
    if spec.max_position_embeddings > 0:
        line = refused(capsys, "--model", folder, "--seq-len", "100")
        assert "--rope-scaling" not in line and "ALiBi" in line and "64 tokens" in line


@pytest.mark.slow
def test_falcon_with_rotary_is_still_offered_rope_scaling(tmp_path, capsys):
    folder = _falcon(tmp_path / "model", alibi=False)
    line = refused(capsys, "--model", folder, "--seq-len", "100")
    assert "--rope-scaling 2" in line
    check_context(load_spec(folder), TrainingSetup(seq_len=100, rope_scaling=2.0))  # within 2 × 64


@pytest.mark.slow
def test_t5_without_a_context_says_something_true(tmp_path, capsys):
    """T5's config.json gives no context; its positions are a learned relative bias (relative_attention_bias)."""
    from transformers import T5Config

    folder = _save(tmp_path / "t5", T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2))
    assert load_spec(folder).max_position_embeddings == 0
    line = refused(capsys, "--model", folder, "--seq-len", "32", "--rope-scaling", "2")
    assert line.startswith("lorplan plan: error: --rope-scaling: ") and "not RoPE" in line
    assert "0 rows" not in line and "0 tokens" not in line and "relative_attention_bias" in line


@pytest.mark.slow
def test_gemma3n_per_layer_token_table_is_no_position_table(tmp_path, capsys):
    """Gemma 3n's embed_tokens_per_layer (one row per token of vocab_size_per_layer_input, beside embed_tokens)
    is token rows, not positions: the model positions by RoPE and takes --rope-scaling."""
    from transformers import Gemma3nTextConfig

    folder = _save(tmp_path / "gemma3n", Gemma3nTextConfig(
        vocab_size=96, vocab_size_per_layer_input=80, hidden_size=16, hidden_size_per_layer_input=4,
        intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
        max_position_embeddings=64, laurel_rank=2, altup_num_inputs=2, num_kv_shared_layers=0,
        layer_types=["sliding_attention", "full_attention"], activation_sparsity_pattern=[0.0, 0.0]))
    spec = load_spec(folder)
    assert any(t.path.endswith("embed_tokens_per_layer.weight") for t in spec.tensors)
    assert not learned_positions(spec) and native_rope_scaling(spec) is None
    line = refused(capsys, "--model", folder, "--seq-len", "100")
    assert "--rope-scaling 2" in line and "learned" not in line
    check_context(spec, TrainingSetup(seq_len=100, rope_scaling=2.0))  # within 2 × 64
