"""`--rope-scaling` (lorplan's linear RoPE scaling) for models outside the catalog's fast path, checked against
the transformers installed here, from real transformers configs written to a folder (no downloads):

- ModernBERT keeps RoPE per layer type, and transformers 5 puts a config's rope_scaling on every layer type
  (ModernBertConfig.convert_rope_params_to_dict), not on the full-attention ones alone as for Gemma 3: the exports
  scale what transformers scales, from the hub's global_rope_theta / local_rope_theta too.
- XGLM (and the other fixed-sinusoid models) have no RoPE: `--rope-scaling` did nothing for them and was accepted.
- Qwen2-VL's rope_scaling {"type": "mrope", "mrope_section": [...]} is no scaling: transformers reads it as
  rope_type "default" (Qwen2VLTextConfig.convert_rope_params_to_dict); it was refused as "already scales RoPE".
- A saved per-layer-type rope_parameters with a null entry is still per layer type for the exports.
- The planner names the largest factor as the command that sets it.
"""

from __future__ import annotations

import copy
import importlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.export.rope import PER_LAYER_TYPE_BASES, rope_layout
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import (
    FIXED_SINUSOID_POSITIONS,
    ROPE_SCALING_EVERY_LAYER_TYPE,
    ROPE_SCALING_LABEL,
    ROTARY_TABLE_POSITIONS,
    check_context,
    native_rope_scaling,
    rope_scaled_labels,
)
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from tests.cli.test_plan_bounds import refused

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
FACTOR = 2.0
SCALING = {"rope_type": "linear", "factor": FACTOR}


def _quiet():
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.simplefilter("ignore")


def _plan(folder: Path, factor: float | None = FACTOR):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, model=replace(plan.model, id=None, path=str(folder), rope_scaling=factor))


def _write(folder: Path, cfg: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _modernbert_saved() -> dict:
    """A tiny ModernBERT's config.json as transformers 5 saves it (rope_parameters per layer type)."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        return transformers.ModernBertConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=2, vocab_size=128,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2,
            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 40_000.0},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 400.0}}).to_dict()


def _modernbert_hub() -> dict:
    """The same as the hub's files write it (answerdotai/ModernBERT-base): global_rope_theta, local_rope_theta and
    global_attn_every_n_layers, no rope_parameters or layer_types."""
    cfg = _modernbert_saved()
    del cfg["rope_parameters"], cfg["layer_types"]
    return {**cfg, "global_rope_theta": 40_000.0, "local_rope_theta": 400.0, "global_attn_every_n_layers": 3}


def _loaded(folder: Path):
    import transformers

    with warnings.catch_warnings():
        _quiet()
        return transformers.AutoConfig.from_pretrained(folder)


def _with_rope_scaling(folder: Path) -> Path:
    """The folder's config.json with rope_scaling added (the edit the exports' warnings name)."""
    cfg = json.loads((folder / "config.json").read_text())
    return _write(folder.parent / f"{folder.name}-scaled", {**cfg, "rope_scaling": dict(SCALING)})


@pytest.mark.parametrize("saved", [True, False], ids=["saved-by-transformers5", "hub-file"])
def test_modernbert_exports_scale_every_layer_type_as_transformers_does(tmp_path, saved):
    """transformers 5 puts ModernBERT's rope_scaling on both layer types; the exports' per-layer-type
    rope_parameters said full_attention only (a saved file) or were flat (the hub's file: read by no layer)."""
    folder = _write(tmp_path / "modernbert", _modernbert_saved() if saved else _modernbert_hub())
    layout = rope_layout(_plan(folder))
    transformers_reads = _loaded(_with_rope_scaling(folder)).rope_parameters
    assert transformers_reads["sliding_attention"]["factor"] == FACTOR  # what transformers does
    assert layout.per_layer == transformers_reads
    assert layout.scaled == ("full_attention", "sliding_attention")


def test_rope_scaled_labels_follow_transformers():
    """The table of model types whose rope_scaling transformers puts on every layer type, the one-label table
    (ROPE_SCALING_LABEL), and the rule for the others (the full-attention layers), against transformers' own
    config classes."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        for model_type in sorted(ROPE_SCALING_EVERY_LAYER_TYPE | set(ROPE_SCALING_LABEL) | set(PER_LAYER_TYPE_BASES)):
            config = transformers.AutoConfig.for_model(model_type, rope_scaling=dict(SCALING))
            params = config.get_text_config().rope_parameters
            scaled = tuple(k for k, v in params.items() if isinstance(v, dict) and v.get("factor") == FACTOR)
            assert set(rope_scaled_labels(model_type, params)) == set(scaled), model_type
    assert rope_scaled_labels("gemma3_text", {"sliding_attention": {}, "full_attention": None}) == ()


def _xglm() -> dict:
    import transformers

    with warnings.catch_warnings():
        _quiet()
        return transformers.XGLMConfig(d_model=64, num_layers=2, attention_heads=2, ffn_dim=128,
                                       vocab_size=128, max_position_embeddings=256).to_dict()


def test_xglm_is_refused_rope_scaling_and_not_offered_it(capsys, tmp_path):
    folder = _write(tmp_path / "xglm", _xglm())
    line = refused(capsys, "--model", str(folder), "--rope-scaling", "2")
    assert line == (f"lorplan plan: error: --rope-scaling: {folder} has no RoPE to scale: it positions tokens by "
                    "fixed sinusoidal position embeddings")
    line = refused(capsys, "--model", str(folder), "--seq-len", "512")
    assert "context of 256 tokens" in line and "sinusoidal" in line and "--rope-scaling" not in line


def test_fixed_sinusoid_table_is_transformers():
    """Every model type transformers builds as a causal LM or a sequence classifier whose modelling file has a
    fixed sinusoidal position table (RoFormer's is its rotary one, ROTARY_TABLE_POSITIONS: it has no table of
    positions added to the tokens) is in the table, and no other."""
    from transformers.models.auto import modeling_auto

    found = set()
    for model_type in set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | set(
            modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES):
        module = model_type.replace("-", "_")
        try:
            modeling = importlib.import_module(f"transformers.models.{module}.modeling_{module}")
        except ImportError:
            continue
        if any(name.endswith("SinusoidalPositionalEmbedding") for name in dir(modeling)):
            found.add(model_type)
    assert found == set(FIXED_SINUSOID_POSITIONS) | set(ROTARY_TABLE_POSITIONS)
    assert not FIXED_SINUSOID_POSITIONS & ROTARY_TABLE_POSITIONS


def _qwen2_vl(saved: bool) -> dict:
    """A Qwen2-VL config.json: the hub's (rope_scaling type mrope with its mrope_section, top level) or as
    transformers 5 saves it (text_config.rope_parameters)."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=128, max_position_embeddings=4096,
                    rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})
        if saved:
            return transformers.Qwen2VLConfig(text_config=text).to_dict()
    return {"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"], "rope_theta": 1e6,
            **text}


@pytest.mark.parametrize("saved", [True, False], ids=["saved-by-transformers5", "hub-file"])
def test_qwen2_vl_mrope_is_not_a_scaling(saved):
    """transformers reads "mrope" as rope_type "default" (its sections split the frequencies among the three
    position ids, none is scaled), so linear scaling may go on top; the spec is a catalog model's with Qwen2-VL's
    config (lorplan plans no Qwen2-VL: transformers has no causal LM class for it)."""
    cfg = _qwen2_vl(saved)
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=cfg)
    assert native_rope_scaling(spec) is None
    check_context(spec, TrainingSetup(seq_len=1024, rope_scaling=2.0))
    other = copy.deepcopy(cfg)  # a real scaling beside the sections is still the model's own
    where = other["text_config"]["rope_parameters"] if saved else other["rope_scaling"]
    where.update({"rope_type": "yarn", "factor": 4.0})
    with pytest.raises(BadInput, match="already scales RoPE"):
        check_context(replace(spec, config=other), TrainingSetup(seq_len=1024, rope_scaling=2.0))


def test_a_null_entry_keeps_rope_per_layer_type_in_the_exports(tmp_path):
    """A saved Gemma 3 rope_parameters with a null sliding_attention entry: the export took it for flat and wrote
    the hub keys' defaults, losing the saved full-attention base (50,000 here, 1,000,000 written). Now the saved
    entries are kept, the null one as transformers fills it on loading (Gemma3TextConfig: default RoPE with its
    rope_local_base_freq), and the plan's scaling on full_attention."""
    import transformers

    with warnings.catch_warnings():
        _quiet()
        cfg = transformers.Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                            vocab_size=128).to_dict()
    cfg["rope_parameters"] = {"full_attention": {"rope_type": "default", "rope_theta": 50_000.0},
                              "sliding_attention": None}
    folder = _write(tmp_path / "gemma3", cfg)
    layout = rope_layout(_plan(folder))
    assert layout.per_layer == _loaded(_with_rope_scaling(folder)).rope_parameters
    assert layout.per_layer["full_attention"] == {**SCALING, "rope_theta": 50_000.0}


def test_a_null_full_attention_entry_is_refused():
    """Nothing to scale there (a remote-code model's full-attention layers without RoPE; transformers' own such
    class, Ergo, puts a rope_scaling on its sliding_attention: test_rope_labels_transformers.py): plan refuses as
    train does."""
    cfg = {"model_type": "custom_hybrid", "rope_parameters": {"sliding_attention": {"rope_type": "default",
                                                                           "rope_theta": 10_000.0},
                                                     "full_attention": None}}
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=cfg)
    with pytest.raises(BadInput) as err:
        check_context(spec, TrainingSetup(seq_len=1024, rope_scaling=2.0))
    assert "full_attention (null)" in str(err.value) and "\n" not in str(err.value)


def test_the_planner_names_the_largest_factor_as_the_command():
    from lorplan.tui.bridge import rank_table

    spec = load_spec("Qwen/Qwen2.5-0.5B-Instruct")
    with pytest.raises(BadInput) as err:
        rank_table(spec, TrainingSetup(seq_len=32768 * 64 + 1), None)
    line = str(err.value)
    assert "the 2,097,152 tokens that `lorplan plan --rope-scaling 64` (the largest factor) reaches" in line, line
    assert "RoPE scaling (" not in line
