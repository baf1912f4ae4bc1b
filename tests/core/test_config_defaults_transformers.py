"""Absent and null config.json keys: lorplan's planner (core.model.archs, no transformers) reads them as the
transformers 5 configuration classes do, each case checked against real transformers (the model built from the
same dict on the meta device, its parameters counted; a tiny one trained one step where a null is in question).

For every model_type the fast path builds and every key it reads with a default, one case drops the key and one
sets it to null. Dropped: lorplan must plan what transformers builds: the same parameter count, key/value heads,
head size, context, tied head, experts, activation and dropout. Null: where transformers builds and trains the
model lorplan must plan the same; where it refuses (its typed configs take no null for most fields) or the first
step fails, lorplan must refuse in one line naming the key.

Before: an absent num_key_value_heads was read as the head count (multi-head attention) for every family, where
MistralConfig and MixtralConfig default it to 8, Qwen2Config and Qwen3Config to 32, Qwen3MoeConfig, Gemma2Config
and Gemma3TextConfig to 4: a Mistral folder without it was priced with k_proj/v_proj of the wrong size. An absent
max_position_embeddings was read as an unknown context (0), Gemma's absent hidden_activation as silu, Mixtral's
absent num_local_experts refused (MixtralConfig: 8) and its num_experts spelling ignored, GPT-2's
max_position_embeddings spelling of n_positions ignored, a BERT num_labels beside a shorter id2label ignored.
Nulls transformers refuses (tie_word_embeddings, attention_bias, hidden_act, dropouts, GPT-2's n_embd/n_layer/
n_head, num_key_value_heads or head_dim for several classes, ...) were read as the default."""

from __future__ import annotations

import copy
import json
import warnings

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import archs
from lorplan.core.model.sources import from_config, load_spec
from tests.core.test_config_values_transformers_takes import _transformers_trains

warnings.filterwarnings("ignore")

# Tiny configs whose every defaulted key differs from its config class's default, so that dropping it shows
# which default each side takes. 32 heads: every family's default key/value head count (4, 8, 32) divides it.
DECODER = {"hidden_size": 128, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 32,
           "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64, "max_position_embeddings": 64,
           "tie_word_embeddings": True, "hidden_act": "gelu", "attention_dropout": 0.25}
GEMMA = {**{k: v for k, v in DECODER.items() if k != "hidden_act"}, "tie_word_embeddings": False,
         "hidden_activation": "gelu", "attention_bias": True}
BASE = {
    "llama": {**DECODER, "attention_bias": True, "mlp_bias": True},
    "mistral": DECODER,
    "mixtral": {**DECODER, "num_local_experts": 3, "num_experts_per_tok": 1},
    "qwen2": DECODER,
    "qwen3": {**DECODER, "attention_bias": True},
    "qwen3_moe": {**DECODER, "attention_bias": True, "num_hidden_layers": 4, "num_experts": 3,
                  "num_experts_per_tok": 1, "moe_intermediate_size": 16, "decoder_sparse_step": 2,
                  "mlp_only_layers": [3]},
    "gemma2": GEMMA,
    "gemma3_text": GEMMA,
    "phi3": {**DECODER, "original_max_position_embeddings": 64, "pad_token_id": 0, "bos_token_id": 1,
             "eos_token_id": 2, "resid_pdrop": 0.25, "partial_rotary_factor": 0.5},
    "gpt2": {"n_embd": 48, "n_layer": 1, "n_head": 4, "vocab_size": 64, "n_positions": 64, "n_inner": 16,
             "tie_word_embeddings": False, "activation_function": "relu", "attn_pdrop": 0.25, "resid_pdrop": 0.2,
             "embd_pdrop": 0.15},
    "bert": {"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
             "vocab_size": 64, "max_position_embeddings": 64, "type_vocab_size": 3, "num_labels": 3,
             "hidden_act": "relu", "hidden_dropout_prob": 0.25, "attention_probs_dropout_prob": 0.2,
             "classifier_dropout": 0.3},
    "gemma3": {"tie_word_embeddings": False, "mm_tokens_per_image": 4,
               "text_config": {**GEMMA, "num_attention_heads": 8, "num_key_value_heads": 1},
               "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                 "num_attention_heads": 2, "num_channels": 1, "patch_size": 8, "image_size": 32,
                                 "vision_use_head": False}},
}
# the keys archs reads with a default (the required sizes are test_sizes_are_required's; Gemma 3's text_config
# takes Gemma3TextConfig's for them too)
_REQUIRED = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")
_GEMMA3_TEXT = (*archs.GEMMA3_TEXT_DEFAULTS, *(k for k in GEMMA if k not in archs.GEMMA3_TEXT_DEFAULTS))
DEFAULTED = {
    **{t: tuple(k for k in cfg if k not in _REQUIRED) for t, cfg in BASE.items() if t not in ("gemma3", "phi3",
                                                                                              "gpt2")},
    "phi3": ("num_key_value_heads", "head_dim", "max_position_embeddings", "tie_word_embeddings", "hidden_act",
             "attention_dropout", "resid_pdrop", "partial_rotary_factor"),
    "gpt2": tuple(BASE["gpt2"]),
    "gemma3": ("tie_word_embeddings", *(f"text_config.{k}" for k in _GEMMA3_TEXT),
               *(f"vision_config.{k}" for k in BASE["gemma3"]["vision_config"] if k != "num_attention_heads")),
}
DEFAULTED["mixtral"] += ("num_experts",)  # MixtralConfig's other spelling of num_local_experts
DEFAULTED["gpt2"] += ("max_position_embeddings",)  # GPT2Config's other spelling of n_positions
DEFAULTED["bert"] += ("id2label",)
DROP = object()


def _has(cfg: dict, key: str) -> bool:
    head, _, rest = key.partition(".")
    return head in cfg and (not rest or _has(cfg[head], rest))


def _with(cfg: dict, key: str, value) -> dict:
    """`cfg` with `key` (dotted for a sub-config) set to `value`, or dropped for value DROP."""
    cfg = copy.deepcopy(cfg)
    *parents, last = key.split(".")
    part = cfg
    for p in parents:
        part = part[p]
    if value is DROP:
        part.pop(last, None)
    else:
        part[last] = value
    return cfg


# an absent vision_use_head is true (a pooling head): a layout the fast path leaves to the fallback's build
DROPPED = [(t, k) for t, keys in DEFAULTED.items() for k in keys
           if _has(BASE[t], k) and k != "vision_config.vision_use_head"]
NULLED = [(t, k) for t, keys in DEFAULTED.items() for k in keys]
TAKES_BOTH = {  # the other spelling, given beside the usual one: transformers' attribute_map takes it
    ("mixtral", "num_experts"): 5,
    ("gpt2", "max_position_embeddings"): 96,
    ("bert", "id2label"): {"0": "a", "1": "b"},  # num_labels (3) beside a shorter id2label: num_labels wins
}


def _build(model_type: str, cfg: dict):
    """transformers' config and model for `cfg`, built on the meta device (the class lorplan plans)."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **copy.deepcopy(cfg))
    with torch.device("meta"):
        auto = (transformers.AutoModelForSequenceClassification if model_type == "bert"
                else transformers.AutoModelForCausalLM)
        return config, auto.from_config(config)


def _theirs(model_type: str, config, model) -> dict:
    """What lorplan's spec must say about the model transformers built."""
    text = config.get_text_config()
    head = next(getattr(m, a) for m in reversed(list(model.modules()))  # the text model's (Gemma 3: after vision)
                for a in ("head_dim", "attention_head_size") if hasattr(m, a))
    act = next(getattr(text, a) for a in ("hidden_activation", "hidden_act", "activation_function")
               if getattr(text, a, None) is not None and (a != "hidden_act" or "gemma" not in model_type))
    if model_type == "gpt2":
        heads, dropout = text.n_head, (text.attn_pdrop, text.resid_pdrop, text.embd_pdrop, 0.0)
    elif model_type == "bert":
        hidden = text.hidden_dropout_prob
        classifier = text.classifier_dropout if text.classifier_dropout is not None else hidden
        heads, dropout = text.num_attention_heads, (text.attention_probs_dropout_prob, hidden, hidden, classifier)
    else:
        heads = text.num_key_value_heads
        dropout = (text.attention_dropout, text.resid_pdrop if model_type == "phi3" else 0.0, 0.0, 0.0)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "key/value heads": heads,
        "head size": head,
        "context": text.max_position_embeddings,
        "tied head": bool(config.tie_word_embeddings) and model_type != "bert",
        "experts": getattr(text, "num_local_experts", 0) or 0,
        "experts per token": getattr(text, "num_experts_per_tok", 0) if getattr(text, "num_local_experts", 0) else 0,
        "activation": act,
        "dropout": tuple(float(d) for d in dropout),
        "labels": config.num_labels if model_type == "bert" else None,
    }


def _ours(model_type: str, cfg: dict) -> dict:
    spec = from_config({"model_type": model_type, **cfg}, "m", "folder", where="config.json at /m/config.json")
    d = spec.dropout
    return {
        "params": spec.total_params,
        "key/value heads": spec.num_key_value_heads,
        "head size": spec.head_dim,
        "context": spec.max_position_embeddings,
        "tied head": spec.tie_word_embeddings,
        "experts": spec.num_experts,
        "experts per token": spec.num_experts_per_tok,
        "activation": spec.hidden_act,
        "dropout": (d.attention, d.residual, d.embedding, d.classifier),
        "labels": archs.num_labels(cfg) if model_type == "bert" else None,
    }


def _refused(model_type: str, cfg: dict, key: str) -> str:
    with pytest.raises(BadInput) as exc:
        from_config({"model_type": model_type, **cfg}, "m", "folder", where="config.json at /m/config.json")
    line = str(exc.value)
    assert line.startswith("config.json at /m/config.json: ") and "\n" not in line
    assert repr(key.rsplit(".", 1)[-1]) in line, line
    return line


def _id(pair) -> str:
    return "-".join(pair)


@pytest.mark.parametrize(("model_type", "key"), DROPPED, ids=[_id(c) for c in DROPPED])
def test_absent_key_read_as_transformers_default(model_type, key):
    cfg = _with(BASE[model_type], key, DROP)
    assert _ours(model_type, cfg) == _theirs(model_type, *_build(model_type, cfg))


@pytest.mark.parametrize(("model_type", "key"), NULLED, ids=[_id(c) for c in NULLED])
def test_null_key_taken_or_refused_as_transformers_does(model_type, key):
    cfg = _with(BASE[model_type], key, None)
    try:
        built = _build(model_type, cfg)
    except Exception:
        built = None
    if built is None or not _transformers_trains(model_type, cfg):
        line = _refused(model_type, cfg, key)  # transformers takes no null here
        assert line.endswith("not null") or f"missing {key.rsplit('.', 1)[-1]!r}" in line, line
        return
    assert _ours(model_type, cfg) == _theirs(model_type, *built)


@pytest.mark.parametrize(("model_type", "key"), list(TAKES_BOTH), ids=[_id(c) for c in TAKES_BOTH])
def test_other_spelling_beside_the_usual_one(model_type, key):
    cfg = _with(BASE[model_type], key, TAKES_BOTH[model_type, key])
    assert _ours(model_type, cfg) == _theirs(model_type, *_build(model_type, cfg))


@pytest.mark.parametrize("model_type", [t for t in BASE if t not in ("gpt2", "gemma3")])
@pytest.mark.parametrize("key", _REQUIRED)
def test_sizes_are_required(model_type, key):
    """On purpose unlike transformers (which builds its class's default, a 4096-wide model for a Llama without
    hidden_size): a config.json without its sizes is taken for a broken one."""
    cfg = _with(BASE[model_type], key, DROP)
    _build(model_type, cfg)  # transformers builds it
    assert _refused(model_type, cfg, key).endswith(f"missing {key!r}")


def test_default_key_value_heads_that_do_not_divide_the_heads():
    # a Mistral of 4 heads without num_key_value_heads: MistralConfig's 8 builds, and the first step fails
    cfg = {k: v for k, v in BASE["mistral"].items() if k != "num_key_value_heads"} | {"num_attention_heads": 4}
    assert not _transformers_trains("mistral", cfg)
    line = _refused("mistral", cfg, "num_key_value_heads")
    assert "(absent: MistralConfig's default 8) must divide 'num_attention_heads' (4)" in line, line


def test_gpt2_inner_width_zero_is_refused():
    # GPT-2 reads n_inner 0 as an MLP of no width (only null means 4 x n_embd); it does not train
    cfg = {**BASE["gpt2"], "n_inner": 0}
    assert not _transformers_trains("gpt2", cfg)
    assert _refused("gpt2", cfg, "n_inner").endswith("'n_inner' must be a positive integer, not 0")


@pytest.mark.parametrize(("auto_map", "says"), [
    (5, "'auto_map' must be a JSON object, not 5"),
    (["x"], "'auto_map' must be a JSON object, not ['x']"),
    ({"AutoConfig": 5}, "'auto_map' must map names to strings or lists of strings, not 'AutoConfig': 5"),
])
def test_profile_auto_map_not_an_object(tmp_path, auto_map, says):
    # `lorplan profile` (core.model.sources.config_spec) on such a folder said "cannot load (argument of type
    # 'int' is not iterable)", naming neither the file nor the key
    from lorplan.core.model.sources import config_spec

    cfg = {"model_type": "somethingnew", "hidden_size": 8, "auto_map": auto_map}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BadInput) as exc:
        config_spec(str(tmp_path))
    assert str(exc.value) == f"config.json at {tmp_path / 'config.json'}: {says}"
    with pytest.raises(BadInput) as exc:
        load_spec(str(tmp_path))
    assert str(exc.value) == f"config.json at {tmp_path / 'config.json'}: {says}"
