"""Gemma 3's multimodal models (Gemma3ForConditionalGeneration) position their text with RoPE: the SigLIP vision
tower's own position table (one row per image patch) is no limit on the language model's context. Only the
language model's own table (GPT-2's wpe, BERT's position_embeddings: beside the token embedding) makes a model
one of learned positions. The text config's RoPE scaling (rope_scaling as the hub writes it, or rope_parameters as
transformers 5 saves it, per layer type on Gemma 3) is the model's own: lorplan does not stack another on it."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import check_context, context_tokens, learned_positions, native_rope_scaling
from lorplan.core.model import load_spec
from lorplan.core.model.catalog import config, find
from tests.cli.test_plan_bounds import planned, refused

GEMMA3_4B = "google/gemma-3-4b-it"  # text_config: rope_scaling linear ×8, context 131072 (Gemma3TextConfig's)
GEMMA3_1B = "google/gemma-3-1b-it"  # text only (Gemma3ForCausalLM), rope_scaling null, context 32768


def catalog_config(model: str) -> dict:
    """The catalog's config.json of `model`, as the hub ships it."""
    return config(find(model))


def _vision_table(spec):
    return [t for t in spec.tensors if t.kind == "position" and ".vision_tower." in t.path]


@pytest.mark.parametrize("model", [GEMMA3_4B, "google/gemma-3-12b-it", "google/gemma-3-27b-it"])
def test_vision_tower_table_is_not_the_language_models(model):
    spec = load_spec(model)
    assert _vision_table(spec), "the SigLIP tower's position table is in the spec"
    assert not learned_positions(spec)
    assert native_rope_scaling(spec) == {"factor": 8.0, "rope_type": "linear"}


def test_gemma3_multimodal_beyond_its_context_names_its_own_rope_scaling(capsys):
    line = refused(capsys, "--model", GEMMA3_4B, "--seq-len", "200000")
    assert "learned position" not in line
    assert "beyond google/gemma-3-4b-it's context of 131,072 tokens" in line and "its own RoPE scaling" in line
    line = refused(capsys, "--model", GEMMA3_4B, "--rope-scaling", "2")
    assert "learned position" not in line
    assert line.startswith("lorplan plan: error: --rope-scaling: google/gemma-3-4b-it already scales RoPE "
                           "(linear ×8.0, to 131,072 tokens)")


def test_gemma3_multimodal_without_scaling_takes_rope_scaling(tmp_path, capsys):
    """The same model with no rope_scaling in its text_config: beyond the context, --rope-scaling is the advice,
    and with it the plan reaches factor × the context."""
    cfg = json.loads(json.dumps(catalog_config(GEMMA3_4B)))
    del cfg["text_config"]["rope_scaling"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = load_spec(str(tmp_path))
    assert _vision_table(spec) and not learned_positions(spec) and native_rope_scaling(spec) is None
    line = refused(capsys, "--model", str(tmp_path), "--seq-len", "200000")
    assert "131,072 tokens" in line and "--rope-scaling 2" in line and "learned" not in line
    out = planned(capsys, "--model", str(tmp_path), "--seq-len", "200000", "--rope-scaling", "2", "--ranks", "8",
                  "--gpu-memory", "1000GiB")
    assert out["setup"]["rope_scaling"] == 2.0
    assert context_tokens(spec, TrainingSetup(seq_len=200000, rope_scaling=2.0)) == 262144


def _saved(tmp_path, config) -> str:
    """A config as transformers 5 saves it (its own to_json_file): RoPE in rope_parameters, no rope_scaling."""
    config.save_pretrained(tmp_path)
    return str(tmp_path)


def test_transformers5_gemma3_config_scales_rope_per_layer_type(tmp_path):
    """transformers 5 saves Gemma 3's RoPE as rope_parameters per layer type (the hub's linear ×8 on the
    full-attention layers, default on the sliding ones), without rope_scaling: still the model's own scaling."""
    from transformers import Gemma3Config

    cfg = catalog_config(GEMMA3_4B)
    folder = _saved(tmp_path, Gemma3Config(text_config=dict(cfg["text_config"]),
                                           vision_config=dict(cfg["vision_config"])))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "rope_scaling" not in saved["text_config"]
    assert saved["text_config"]["rope_parameters"]["full_attention"]["factor"] == 8.0
    spec = load_spec(folder)
    assert not learned_positions(spec)
    assert native_rope_scaling(spec)["rope_type"] == "linear" and native_rope_scaling(spec)["factor"] == 8.0
    with pytest.raises(BadInput, match=r"already scales RoPE \(linear ×8"):
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0))


def test_transformers5_default_rope_parameters_are_no_scaling(tmp_path):
    """rope_parameters of rope_type default (every saved transformers 5 config has them) scale nothing."""
    from transformers import Gemma3TextConfig

    folder = _saved(tmp_path, Gemma3TextConfig(**{k: v for k, v in catalog_config(GEMMA3_1B).items()
                                                  if k not in ("architectures", "model_type")}))
    spec = load_spec(folder)
    assert "rope_parameters" in spec.config and native_rope_scaling(spec) is None
    check_context(spec, TrainingSetup(seq_len=65536, rope_scaling=2.0))  # within 2 × 32768: no error


def test_transformers5_llama_config_keeps_its_scaling(tmp_path):
    """Llama 3.1's llama3 ×8, as transformers 5 saves it (flat rope_parameters), is still refused a second one."""
    from transformers import LlamaConfig

    cfg = catalog_config("meta-llama/Llama-3.1-8B-Instruct")
    folder = _saved(tmp_path, LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures",
                                                                                          "model_type")}))
    assert "rope_scaling" not in json.loads((tmp_path / "config.json").read_text())
    spec = load_spec(folder)
    with pytest.raises(BadInput, match=r"already scales RoPE \(llama3 ×8"):
        check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=2.0))


@pytest.mark.parametrize(("model", "table"), [("openai-community/gpt2", "transformer.wpe.weight"),
                                              ("sentence-transformers/all-MiniLM-L6-v2",
                                               "bert.embeddings.position_embeddings.weight")])
def test_the_language_models_own_table_still_counts(model, table):
    spec = load_spec(model)
    assert any(t.path == table and t.kind == "position" for t in spec.tensors)
    assert learned_positions(spec)


def test_planner_says_the_same(tmp_path):
    """The planner asks the same bounds (tui.bridge.rank_table): no learned positions for Gemma 3 either."""
    from lorplan.tui.bridge import rank_table

    spec = load_spec(GEMMA3_4B)
    with pytest.raises(BadInput) as err:
        rank_table(spec, TrainingSetup(seq_len=200000), None)
    assert str(err.value).startswith("Sequence length 200000 is beyond google/gemma-3-4b-it's context of 131,072")
    assert "its own RoPE scaling" in str(err.value) and "learned" not in str(err.value)


@pytest.mark.slow
def test_fallback_table_beside_the_token_embedding_counts(tmp_path):
    """The fallback marks every embedding table but the input one as a position table: OPT's, beside its token
    embedding (model.decoder.embed_tokens / embed_positions, 2 rows past the context), still ends the context."""
    from transformers import OPTConfig

    OPTConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2,
              max_position_embeddings=64, word_embed_proj_dim=16).save_pretrained(tmp_path)
    spec = load_spec(str(tmp_path))
    assert spec.source == "fallback"
    assert any(t.path == "model.decoder.embed_positions.weight" and t.kind == "position" for t in spec.tensors)
    assert learned_positions(spec)
    with pytest.raises(BadInput, match="learned position embeddings"):
        check_context(spec, TrainingSetup(seq_len=32, rope_scaling=2.0))


def _deberta_v3(folder) -> str:
    """A DeBERTa-v3 classifier (deberta-v3-base's settings, tiny): relative attention, no absolute table
    (position_biased_input false), its one position table the encoder's rel_embeddings."""
    from transformers import DebertaV2Config

    DebertaV2Config(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                    max_position_embeddings=64, relative_attention=True, position_buckets=8,
                    position_biased_input=False, architectures=["DebertaV2ForSequenceClassification"]
                    ).save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_text_model_relative_table_is_no_rope(tmp_path, capsys):
    """Only a multimodal config's other towers are set aside: a text-only model's every table counts, as before
    the Gemma 3 fix. DeBERTa-v3 positions by its encoder's rel_embeddings (not beside word_embeddings) and has no
    RoPE: --rope-scaling has nothing to scale, and beyond its context it is not the advice."""
    folder = _deberta_v3(tmp_path / "deberta")
    spec = load_spec(folder)
    assert spec.source == "fallback" and not any(t.kind == "position" and t.path.startswith("deberta.embeddings.")
                                                 for t in spec.tensors)
    assert learned_positions(spec)
    line = refused(capsys, "--model", folder, "--seq-len", "100")
    assert "--rope-scaling" not in line and "RoPE" not in line
    line = refused(capsys, "--model", folder, "--seq-len", "32", "--rope-scaling", "2")
    assert line.startswith("lorplan plan: error: --rope-scaling: ") and "not RoPE" in line
