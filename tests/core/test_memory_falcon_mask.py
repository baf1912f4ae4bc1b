"""Falcon hands SDPA a mask on every batch, padded or not.

transformers models/falcon/modeling_falcon.py (FalconModel.forward) calls create_causal_mask with
allow_is_causal_skip=False ("Always materialize the mask so alibi can be added onto it below"), RoPE models
included, so an unpadded batch runs the SDPA a padded batch runs: aten's SDPA saves the additive (b, 1, s, s) mask
it makes of the boolean one in every layer, and GQA's k and v are repeat_kv's copies (use_gqa_in_sdpa needs no
mask), not views of the fused q/k/v output. When lorplan priced Falcon's unpadded batches as is_causal SDPA, a
tiny 8-layer Falcon (new decoder architecture, 2 k/v heads) read -7.91% on its traced in-step peak (2 x 512,
vocabulary 4096), and the last block's attention matched its price only at seq 64, where the missing mask
(a bytes a score, 128 a token) happened to equal the fused output's slices priced instead (a (hq + hkv) - 2 a hkv).
"""

from __future__ import annotations

import ast
import pathlib

import peft  # noqa: F401  (a hard dependency: a missing one must fail, not skip)
import pytest

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, estimate
from lorplan.core.memory.activations import _SDPA_MASK_ALWAYS, activation_model

# tiny Falcon configs: the new decoder architecture (GQA, ln_attn + ln_mlp), Falcon-7B (multi-query, one norm) and
# the old architecture with a k/v head per query head (q, k and v interleaved per head)
FALCON = {
    "new-gqa": dict(hidden_size=128, num_attention_heads=4, new_decoder_architecture=True, num_kv_heads=2),
    "7b-mqa": dict(hidden_size=128, num_attention_heads=4, new_decoder_architecture=False, multi_query=True,
                   parallel_attn=True),
    "old-mha": dict(hidden_size=128, num_attention_heads=4, new_decoder_architecture=False, multi_query=False,
                    parallel_attn=True),
}


def _mask_kept(path: pathlib.Path) -> bool:
    """Whether a modeling module calls create_causal_mask with allow_is_causal_skip=False."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("create_causal_mask"):
            for k in node.keywords:
                if k.arg == "allow_is_causal_skip" and ast.unparse(k.value) == "False":
                    return True
    return False


def test_the_always_masked_model_types_build_their_mask_whatever_the_batch():
    import transformers

    models = pathlib.Path(transformers.__file__).parent / "models"
    assert "falcon" in _SDPA_MASK_ALWAYS
    for model_type in _SDPA_MASK_ALWAYS:
        assert _mask_kept(models / model_type / f"modeling_{model_type}.py"), model_type
    assert not _mask_kept(models / "gpt_neox" / "modeling_gpt_neox.py")  # the check can tell


def test_falcon_unpadded_is_priced_as_padded_and_gpt_neox_is_not(tmp_path):
    import dataclasses

    from transformers import AutoConfig

    from lorplan.core.model import load_spec

    def spec(model_type, **kw):
        folder = tmp_path / model_type
        AutoConfig.for_model(model_type, vocab_size=256, num_hidden_layers=2, **kw).save_pretrained(folder)
        return load_spec(str(folder))

    setup = _setup(2, 128)
    padded = dataclasses.replace(setup, padding_mask=True)
    falcon = spec("falcon", **FALCON["new-gqa"])
    assert activation_model(falcon, setup) == activation_model(falcon, padded)
    assert activation_model(falcon, setup).layer_bs2 == 2  # the additive bf16 mask SDPA saves
    neox = spec("gpt_neox", hidden_size=128, intermediate_size=256, num_attention_heads=4)
    assert activation_model(neox, setup).layer_bs2 == 0
    assert activation_model(neox, padded).layer_bs2 == 2


def _falcon(kind: str, tmp_path, layers: int, vocab: int):
    import memtrace
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lorplan.core.model import load_spec

    config = AutoConfig.for_model("falcon", vocab_size=vocab, num_hidden_layers=layers, attention_dropout=0.0,
                                  hidden_dropout=0.0, **FALCON[kind])
    config.dtype = "bfloat16"
    config.save_pretrained(tmp_path)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.bfloat16)
    spec = load_spec(str(tmp_path))
    model, opt = memtrace.lora_all_linear(model, 8)
    return model, opt, spec


def _setup(batch: int, seq: int) -> TrainingSetup:
    return TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                         lora_dropout=0.0, kernels="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(FALCON))
@pytest.mark.parametrize("seq", [32, 128])
def test_falcon_attention_saves_exactly_what_is_priced_without_padding(kind, seq, tmp_path):
    # seq 64 is the one length where the is_causal price came out right for the GQA model
    import memtrace
    import torch

    model, _, spec = _falcon(kind, tmp_path, 2, 256)
    batch = 2
    ids = torch.randint(0, spec.vocab_size, (batch, seq))

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids)  # no attention_mask: an unpadded batch

    last = f".{spec.num_layers - 1}.self_attention"
    traced = sum(n for module, n in memtrace.saved_by_module(model, forward).items() if module.endswith(last))
    am = activation_model(spec, _setup(batch, seq))
    priced = am.attention * batch * seq + am.layer_bs2 * batch * seq * seq
    assert traced == priced, f"traced {traced} vs priced {priced}"


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "batch", "seq"), [("new-gqa", 2, 512), ("7b-mqa", 2, 512)])
def test_falcon_in_step_peak_within_1_percent(kind, batch, seq, tmp_path):
    # 8 layers, vocabulary 4096: the saved activations and the logits make the peak
    import memtrace
    import torch

    model, opt, spec = _falcon(kind, tmp_path, 8, 4096)
    peak = memtrace.step_peak(model, opt, torch.randint(0, spec.vocab_size, (batch, seq)))
    mem = estimate(spec, _setup(batch, seq), 8)
    error = (mem.gradients + mem.activations) / peak - 1.0
    assert abs(error) <= 0.01, f"in-step peak {mem.gradients + mem.activations} vs traced {peak} ({100 * error:+.2f}%)"
