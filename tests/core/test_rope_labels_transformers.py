"""`--rope-scaling` against what the transformers installed here does with the same config.json (real configuration
classes, configs written to a folder, no downloads):

- A hand-written Gemma 3 config.json whose rope_parameters (or rope_scaling) gives a null full_attention entry was
  refused ("its full_attention layers have no RoPE"), though Gemma3TextConfig.convert_rope_params_to_dict fills a
  null entry with default RoPE on its base (rope_theta) when it builds the config: the model has RoPE there, and
  lorplan train and the exports scale it.
- DeepSeek-V4 (main / compress), dots3 Note (indexed_attention / sliding_attention) and Ergo (sliding_attention,
  full_attention null: no RoPE there) were refused because they have no full_attention entry, though transformers
  puts a config's rope_scaling on compress (DeepseekV4Config), on every layer type (Dots3NoteTextConfig copies it
  to each) and on sliding_attention (ErgoConfig). dots3 Note's refusal said "not per layer type": its labels are its
  layer types.
- RoFormer was refused as having "learned position embeddings": its table is the fixed sinusoids its rotary
  embedding reads (RoFormerSinusoidalPositionalEmbedding, frozen), and its rotary embedding reads no
  rope_parameters.
"""

from __future__ import annotations

import inspect
import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.export.rope import PER_LAYER_TYPE_BASES, rope_layout
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import (
    ROPE_NULL_FILLED,
    check_context,
    context_tokens,
    native_rope_scaling,
    rope_scaled_labels,
)
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from tests.cli.test_plan_bounds import refused

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
FACTOR = 2.0
SCALING = {"rope_type": "linear", "factor": FACTOR}


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _quiet():
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.simplefilter("ignore")


def _write(folder: Path, cfg: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _loaded(folder: Path):
    """The config transformers builds from the folder's config.json (its language model's, for a multimodal one)."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        config = transformers.AutoConfig.from_pretrained(folder)
    return config.get_text_config()


def _scaled_by_transformers(folder: Path) -> tuple[str, ...]:
    """The labels transformers scales when the folder's config.json is given a rope_scaling (the edit a user
    makes, and what `rope_scaling` in from_pretrained's kwargs does)."""
    cfg = json.loads((folder / "config.json").read_text())
    params = _loaded(_write(folder.parent / f"{folder.name}-rs", {**cfg, "rope_scaling": dict(SCALING)}))
    return tuple(k for k, v in params.rope_parameters.items() if isinstance(v, dict) and v.get("factor") == FACTOR)


def _spec(cfg: dict, max_position_embeddings: int = 4096):
    """A fast-path spec carrying `cfg` as its config (check_context reads the config and the context only)."""
    spec = load_spec("Qwen/Qwen2.5-0.5B-Instruct")
    return replace(spec, config=cfg, max_position_embeddings=max_position_embeddings)


def _plan(folder: Path):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, model=replace(plan.model, id=None, path=str(folder), rope_scaling=FACTOR))


# -- 1. Gemma 3: a null full_attention entry is filled by transformers -------------------------------------------


def _gemma3_text() -> dict:
    import transformers

    with warnings.catch_warnings():
        _quiet()
        cfg = transformers.Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                            vocab_size=128, max_position_embeddings=4096).to_dict()
    del cfg["rope_parameters"]
    return cfg


SLIDING = {"rope_type": "default", "rope_theta": 10_000.0}


@pytest.mark.parametrize("key", ["rope_parameters", "rope_scaling"])
def test_gemma3_null_full_attention_is_filled_and_scaled(tmp_path, key):
    cfg = {**_gemma3_text(), key: {"full_attention": None, "sliding_attention": dict(SLIDING)}}
    folder = _write(tmp_path / "gemma3", cfg)
    loaded = _loaded(folder).rope_parameters
    assert loaded["full_attention"]["rope_type"] == "default"  # transformers fills it: RoPE on those layers
    spec = _spec(cfg)
    setup = TrainingSetup(seq_len=8192, rope_scaling=FACTOR)
    check_context(spec, setup)  # refused before: "its full_attention layers have no RoPE"
    assert context_tokens(spec, setup) == 8192  # priced to the scaled context
    assert native_rope_scaling(spec) is None
    layout = rope_layout(_plan(folder))  # the exports scale the filled entry
    assert layout.scaled == ("full_attention",) and layout.per_layer["full_attention"]["factor"] == FACTOR


def test_gemma3_rope_scaling_per_layer_type_is_not_read_as_a_scaling(tmp_path):
    """Gemma3TextConfig merges a config's rope_scaling into its full_attention entry as one dict: per layer type
    (labels for keys) it sets no rope_type, so transformers scales nothing; lorplan does not call it the model's own
    scaling (refusing a second one), and takes --rope-scaling."""
    cfg = {**_gemma3_text(), "rope_scaling": {"full_attention": None,
                                              "sliding_attention": {"rope_type": "linear", "factor": 8.0}}}
    folder = _write(tmp_path / "gemma3", cfg)
    loaded = _loaded(folder).rope_parameters
    assert all(loaded[k]["rope_type"] == "default" for k in ("full_attention", "sliding_attention"))
    spec = _spec(cfg)
    assert native_rope_scaling(spec) is None
    check_context(spec, TrainingSetup(seq_len=4096, rope_scaling=FACTOR))


def test_multimodal_gemma3_null_full_attention_plans_through_the_cli(tmp_path, capsys):
    """The same through `lorplan plan` on a Gemma 3 multimodal config.json (its text_config's entry)."""
    import transformers

    from tests.cli.test_plan_bounds import planned

    with warnings.catch_warnings():
        _quiet()
        cfg = transformers.Gemma3Config(text_config=transformers.Gemma3TextConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
            head_dim=16, vocab_size=300, max_position_embeddings=1024)).to_dict()
    cfg["text_config"]["rope_parameters"] = {"full_attention": None, "sliding_attention": dict(SLIDING)}
    folder = _write(tmp_path / "gemma3-mm", cfg)
    assert _loaded(folder).rope_parameters["full_attention"]["rope_type"] == "default"
    out = planned(capsys, "--model", str(folder), "--seq-len", "2048", "--rope-scaling", "2", "--ranks", "8",
                  "--gpu-memory", "1000GiB")
    assert out["setup"]["rope_scaling"] == FACTOR and out["setup"]["seq_len"] == 2048


def test_the_filling_classes_are_transformers():
    """Every model type transformers builds as a causal LM or a sequence classifier whose configuration class fills
    a null full_attention entry (as Gemma3TextConfig.convert_rope_params_to_dict does) is in ROPE_NULL_FILLED, and
    no other; the exports fill the same types' entries (PER_LAYER_TYPE_BASES). A config with sub-configs is left
    out: its language model is another type's, checked under that type."""
    from transformers.models.auto import configuration_auto, modeling_auto

    found = set()
    for model_type in set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | set(
            modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES):
        config = configuration_auto.CONFIG_MAPPING[model_type]
        if config.sub_configs:
            continue
        source = inspect.getsource(config.convert_rope_params_to_dict)
        if '.get("full_attention") is None' in source:
            found.add(model_type)
    assert found == set(ROPE_NULL_FILLED) == set(PER_LAYER_TYPE_BASES)


# -- 2. DeepSeek-V4, dots3 Note, Ergo: where transformers puts a config's rope_scaling ---------------------------


def _deepseek_v4() -> dict:
    import transformers

    with warnings.catch_warnings():
        _quiet()
        return transformers.DeepseekV4Config(vocab_size=64, hidden_size=32, num_hidden_layers=4,
                                             num_attention_heads=2, head_dim=16).to_dict()


def _ergo() -> dict:
    import transformers

    with warnings.catch_warnings():
        _quiet()
        return transformers.AutoConfig.for_model(
            "ergo", vocab_size=64, hidden_size=32, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
            head_dim=16, intermediate_size=64).to_dict()


def _dots3_note() -> dict:
    """dots3 Note's text config as transformers 5 saves it (the published checkpoints keep it at the top level,
    model_type dots3_note: Dots3NoteConfig builds its text_config from it)."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        cfg = transformers.AutoConfig.for_model("dots3_note_text", num_hidden_layers=6).to_dict()
    return {**cfg, "model_type": "dots3_note"}


def _hub_form(cfg: dict) -> dict:
    """The same without rope_parameters (a checkpoint's flat keys): transformers 5 builds them per label."""
    return {k: v for k, v in cfg.items() if k != "rope_parameters"}


@pytest.mark.parametrize("make", [_deepseek_v4, _dots3_note, _ergo], ids=["deepseek_v4", "dots3_note", "ergo"])
def test_rope_scaling_goes_where_transformers_puts_it(tmp_path, make):
    cfg = make()
    saved = cfg["rope_parameters"]
    assert "full_attention" not in saved or saved["full_attention"] is None  # no full_attention RoPE to go on
    # where transformers scales (dots3 Note's saved rope_parameters beside a rope_scaling fails to build in
    # transformers 5.25, KeyError; its flat form shows where the scaling goes)
    expected = _scaled_by_transformers(_write(tmp_path / "hub", _hub_form(cfg)))
    assert expected
    assert set(rope_scaled_labels(cfg["model_type"], saved)) == set(expected)
    loaded = _loaded(_write(tmp_path / "saved", cfg))  # lorplan train scales the loaded config's labels
    assert set(rope_scaled_labels(loaded.model_type, loaded.rope_parameters)) == set(expected)
    spec = _spec(cfg)
    check_context(spec, TrainingSetup(seq_len=8192, rope_scaling=FACTOR))  # refused before
    assert context_tokens(spec, TrainingSetup(seq_len=8192, rope_scaling=FACTOR)) == 8192


def test_per_label_without_the_label_names_it(capsys):
    """Labels with none where lorplan's scaling goes (a remote-code model's, which transformers cannot say): the
    refusal names the label it looks for, not "not per layer type"."""
    from lorplan.core.errors import BadInput

    cfg = {"model_type": "custom_hybrid", "rope_parameters": {"hybrid": {"rope_type": "default"},
                                                              "hybrid_sliding": {"rope_type": "default"}}}
    with pytest.raises(BadInput) as err:
        check_context(_spec(cfg), TrainingSetup(seq_len=1024, rope_scaling=FACTOR))
    line = str(err.value)
    assert "not per layer type" not in line and "hybrid, hybrid_sliding" in line and "full_attention" in line


# -- 3. RoFormer: rotary positions from a fixed sinusoidal table ---------------------------------------------------


def test_roformer_is_rotary_from_a_fixed_table_not_learned(tmp_path, capsys):
    import transformers
    from transformers.models.roformer import modeling_roformer

    # what its modelling code does: a frozen table of sinusoids, read as the rotary embedding's sin / cos
    table = modeling_roformer.RoFormerSinusoidalPositionalEmbedding(16, 8)
    assert not table.weight.requires_grad
    assert "apply_rotary_position_embeddings" in inspect.getsource(modeling_roformer.RoFormerSelfAttention)
    assert "rope_parameters" not in inspect.getsource(modeling_roformer)  # nothing for a RoPE scaling to set
    with warnings.catch_warnings():
        _quiet()
        cfg = transformers.RoFormerConfig(vocab_size=128, embedding_size=32, hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=2, intermediate_size=64,
                                          max_position_embeddings=256).to_dict()
    folder = _write(tmp_path / "roformer", {**cfg, "architectures": ["RoFormerForCausalLM"], "is_decoder": True})
    line = refused(capsys, "--model", str(folder), "--rope-scaling", "2")
    assert "learned" not in line and "rotary" in line and "sinusoid" in line and "256" in line, line
    line = refused(capsys, "--model", str(folder), "--seq-len", "512")
    assert "learned" not in line and "rotary" in line and "--rope-scaling" not in line, line
    assert "context of 256 tokens" in line
