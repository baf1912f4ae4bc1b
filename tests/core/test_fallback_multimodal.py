"""Multimodal configs outside lorplan's fast path (the fallback: a child process builds the model on the meta device).

1. A config transformers builds as a causal LM whose language model's sizes live in text_config (Gemma 3 with
   vision_config.vision_use_head true, which the fast path does not build): the spec read hidden_size, vocab_size,
   heads, layers and the MLP width from config.json's top level only, so it priced hidden_size 0 and no logits
   (Gemma 3's 262k-token vocabulary in fp32 is about 1 GiB at 1,024 tokens). The spec now reads the text model's
   values as transformers' text model reads them (config.get_text_config(), its class defaults included: a hub
   config.json omits the keys that equal them), and prices such a config as the fast path prices the same model.
2. A config transformers maps to no AutoModelForCausalLM nor AutoModelForSequenceClassification (Qwen2-VL,
   LLaVA: image-text-to-text models) was refused with the sequence classifier's "Unrecognized configuration class
   ... AutoModelForSequenceClassification", which named the wrong thing; lorplan train loads only those two. The
   refusal now says what lorplan plans and what the config is, in one line naming the file, from plan and profile
   alike.
3. llama4_text: its intermediate_size is the experts' width; the dense layers are intermediate_size_mlp wide
   (transformers' Llama4TextDecoderLayer), which the spec priced them as.
Real configs saved by transformers, real child builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fallback_trace import traced_error

from lorplan.core.errors import BadInput
from lorplan.core.model.sources import load_spec

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # builds of their own, not another run's


TEXT = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, vocab_size=512, max_position_embeddings=256, sliding_window=32)
VISION = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=5, num_attention_heads=2, image_size=32,
              patch_size=8)


def _save(folder: Path, config, architecture: str, drop_text: tuple[str, ...] = (), **top) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["architectures"] = [architecture]
    for key in drop_text:  # as a hub config.json omits the keys that equal the text config class's defaults
        cfg["text_config"].pop(key, None)
    cfg.update(top)
    path.write_text(json.dumps(cfg))
    return str(folder)


def _gemma3(folder: Path, head: bool, text=TEXT, drop_text: tuple[str, ...] = ()) -> str:
    from transformers import Gemma3Config

    config = Gemma3Config(text_config=dict(text), vision_config={**VISION, "vision_use_head": head},
                          mm_tokens_per_image=16)
    return _save(folder, config, "Gemma3ForConditionalGeneration", drop_text)


def test_a_multimodal_causal_lm_is_sized_by_its_text_config(tmp_path):
    spec = load_spec(_gemma3(tmp_path / "g3", head=True))
    assert spec.source == "fallback" and spec.task == "causal-lm"
    assert (spec.hidden_size, spec.num_attention_heads, spec.num_key_value_heads, spec.head_dim) == (64, 4, 2, 16)
    assert (spec.intermediate_size, spec.vocab_size) == (96, 512)
    assert spec.num_layers == 3  # the language model's layers, not the vision tower's 5
    assert spec.hidden_act == "gelu_pytorch_tanh"


def test_the_text_config_class_defaults_count(tmp_path):
    # a hub config.json leaves out what equals Gemma3TextConfig's defaults: the vocabulary (262,208) and heads
    from transformers import Gemma3TextConfig

    defaults = Gemma3TextConfig()
    text = {k: v for k, v in TEXT.items() if k not in ("vocab_size", "num_attention_heads", "head_dim")}
    spec = load_spec(_gemma3(tmp_path / "g3", head=True, text=text, drop_text=("vocab_size", "num_attention_heads",
                                                                                "head_dim")))
    cfg = json.loads((tmp_path / "g3" / "config.json").read_text())
    assert "vocab_size" not in cfg["text_config"] and "vocab_size" not in cfg
    assert spec.vocab_size == defaults.vocab_size
    assert (spec.num_attention_heads, spec.head_dim) == (defaults.num_attention_heads, defaults.head_dim)


def test_the_logits_are_priced(tmp_path):
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup, estimate

    spec = load_spec(_gemma3(tmp_path / "g3", head=True))
    setup = TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=1, seq_len=128)
    assert estimate(spec, setup, 8).details["logits"] >= 4 * 512 * 128  # fp32 logits of every token at least


def _estimates(spec, seq_len: int) -> dict:
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup, estimate

    out = {}
    for checkpointing in (False, True):
        setup = TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=1, seq_len=seq_len,
                              grad_checkpointing=checkpointing)
        out[checkpointing] = estimate(spec, setup, 16)
    return out


@pytest.mark.parametrize("text", [TEXT, {}], ids=["small", "gemma3-default-text"])
def test_the_fallback_prices_what_the_fast_path_prices(tmp_path, text):
    """The same Gemma 3 config (vision_use_head false, which the fast path takes) through the fast path and the
    fallback's build: the same modules (the vision tower's in no block, as the fast path has it), the same sizes
    and the same estimate, to the byte (the fallback priced its MLP as ungated and the vision tower's linears as
    blocks of the language model: +3.3% at 1,024 tokens without checkpointing for Gemma 3's default sizes)."""
    from lorplan.core.model import fallback
    from lorplan.core.model.sources import read_config

    folder = _gemma3(tmp_path / "g3", head=False, text=text)
    fast = load_spec(folder)
    assert fast.source == "folder"
    path = Path(folder) / "config.json"
    built = fallback.build_spec(path, read_config(path), folder, trust_remote_code=False, reason="test")
    assert built.source == "fallback"
    assert built.total_params == fast.total_params
    fields = ("hidden_size", "vocab_size", "num_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
              "intermediate_size", "gated_mlp", "hidden_act", "norm", "dropout", "tie_word_embeddings")
    assert [getattr(built, f) for f in fields] == [getattr(fast, f) for f in fields]
    assert set(built.linears) == set(fast.linears) and set(built.tensors) == set(fast.tensors)
    theirs = _estimates(fast, 1024)
    for checkpointing, mine in _estimates(built, 1024).items():
        assert mine.details["logits"] == theirs[checkpointing].details["logits"] > 0
        assert mine == theirs[checkpointing], checkpointing


def _qwen2_vl(folder: Path) -> str:
    from transformers import Qwen2VLConfig

    config = Qwen2VLConfig(text_config=dict(TEXT, max_window_layers=3),
                           vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2))
    return _save(folder, config, "Qwen2VLForConditionalGeneration")


def _llava(folder: Path) -> str:
    from transformers import LlavaConfig

    config = LlavaConfig(text_config=dict(TEXT, model_type="llama"), vision_config=dict(
        VISION, model_type="clip_vision_model", projection_dim=32))
    return _save(folder, config, "LlavaForConditionalGeneration")


@pytest.mark.parametrize("make", [_qwen2_vl, _llava], ids=["qwen2_vl", "llava"])
def test_an_image_text_to_text_model_is_refused_for_what_it_is(make, tmp_path):
    folder = make(tmp_path / "m")
    with pytest.raises(BadInput) as err:
        load_spec(folder)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"config.json at {Path(folder) / 'config.json'}: ")
    assert "lorplan plans causal language models and sequence classifiers" in line
    assert "image-text-to-text model" in line and "AutoModelForImageTextToText" in line
    assert "AutoModelForSequenceClassification" not in line  # the class it tried last, which is not the point


def test_plan_and_profile_refuse_it_with_one_line(tmp_path, capsys):
    from model_builders import copy_tokenizer

    from tests.cli.test_input_edges import _run

    folder = _qwen2_vl(copy_tokenizer(tmp_path / "m"))
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a b c"}\n{"text": "d e f"}\n')
    rc, _, plan_err = _run(capsys, "plan", "--model", folder, "--ranks", "8")
    assert rc == 2 and "AutoModelForImageTextToText" in plan_err
    rc, _, profile_err = _run(capsys, "profile", "--data", str(data), "--model", folder)
    assert rc == 2
    assert profile_err.split(": error: ", 1)[1] == plan_err.split(": error: ", 1)[1]


def test_llama4_text_dense_layers_are_their_own_width(tmp_path):
    from transformers import Llama4TextConfig
    from transformers.models.llama4.modeling_llama4 import Llama4TextDecoderLayer

    config = Llama4TextConfig(vocab_size=256, hidden_size=64, intermediate_size=32, intermediate_size_mlp=96,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                              num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=2)
    assert config.moe_layers == [1]  # layer 0 dense, layer 1 a mixture of experts
    assert Llama4TextDecoderLayer(config, 0).feed_forward.up_proj.out_features == 96
    spec = load_spec(_save(tmp_path / "l4", config, "Llama4ForCausalLM"))
    assert spec.source == "fallback" and spec.num_experts == 4
    assert spec.intermediate_size == 96  # the dense layer's, which mlp_saved prices
    assert spec.moe_intermediate_size == 32  # the experts'


def test_a_gated_mlp_outside_the_fast_path_is_priced_gated(tmp_path):
    """The fallback priced every MLP as ungated (4 saved tensors of its width where a gated one saves 3: the fast
    path's swiglu_saved). Its child now reports a gated MLP (two projections of the MLP's width reading the hidden
    state). Helium (Llama's MLP, not in the fast path), LoRA r8 all-linear, eager, no checkpointing, 1 x 512, bf16
    under CPU autocast: gradients + activations against the traced peak read +2.1% ungated, -0.2% gated."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    cfg = AutoConfig.for_model("helium", vocab_size=256, hidden_size=128, intermediate_size=1024, num_hidden_layers=2,
                               num_attention_heads=8, num_key_value_heads=4, head_dim=16, max_position_embeddings=1024,
                               attention_dropout=0.0)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.bfloat16)
    (tmp_path / "config.json").write_text(json.dumps({**cfg.to_dict(), "architectures": [type(model).__name__]}))
    spec = load_spec(str(tmp_path))
    assert spec.source == "fallback" and spec.gated_mlp
    error = traced_error(model, spec, cfg.vocab_size)
    assert abs(error) <= 0.01, f"{100 * error:+.2f}%"


def test_a_single_up_projection_is_not_gated(tmp_path):
    from transformers import AutoConfig

    cfg = AutoConfig.for_model("gpt_neox", vocab_size=128, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                               num_attention_heads=4)
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    spec = load_spec(str(tmp_path))
    assert spec.source == "fallback" and not spec.gated_mlp and spec.intermediate_size == 256
