"""The hidden-size tensors a decoder block's forward keeps as Python locals (beyond its input, which its caller
holds anyway) while its MLP output projection runs,
read off the block's own frame (transformers' code, CPU, tiny random-weight causal LMs), against what
activations.decoder_block_live prices: `residual` and the MLP's input (a parallel block's: its attention's output
and the MLP's input), and activations.block_locals more (the attention half's outputs and normed input a
sequential block keeps: _BLOCK_LOCALS, per model type; 0 for a type not listed).
A forward pre-hook on the last block's MLP output projection walks up to the block's frame and counts the
distinct storages of batch x seq x hidden tensors among its locals (tuples included) and the MLP's input.

OPT is the exception the memory model keeps: OPTDecoderLayer rebinds the MLP's input to fc1's output, so only
`residual` is left (decoder_block_live prices one x x h more; traced within 5%, test_memory_trace_decoder_heads).
"""

from __future__ import annotations

import inspect

import pytest

from lorplan.core.memory.activations import _family, block_locals, sequential_block

B, S, H, INNER = 2, 16, 64, 176


def _config(family: str):
    import transformers as T

    part = dict(vocab_size=256, hidden_size=H, intermediate_size=INNER, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=4)
    return {
        "llama": lambda: T.LlamaConfig(**part),
        "olmo": lambda: T.OlmoConfig(**part),
        "stablelm": lambda: T.StableLmConfig(**part),
        "stablelm-parallel": lambda: T.StableLmConfig(**part, use_parallel_residual=True),
        "gpt_neox-sequential": lambda: T.GPTNeoXConfig(**part, use_parallel_residual=False),
        "bloom": lambda: T.BloomConfig(vocab_size=256, hidden_size=H, n_layer=2, n_head=4),
        "gpt2": lambda: T.GPT2Config(vocab_size=256, n_embd=H, n_inner=INNER, n_layer=2, n_head=4),
        "gpt_bigcode": lambda: T.GPTBigCodeConfig(vocab_size=256, n_embd=H, n_inner=INNER, n_layer=2, n_head=4),
        "ctrl": lambda: T.CTRLConfig(vocab_size=256, n_embd=H, dff=INNER, n_layer=2, n_head=4),
        "modernbert-decoder": lambda: T.ModernBertDecoderConfig(
            **{k: v for k, v in part.items() if k != "num_key_value_heads"}, pad_token_id=0, bos_token_id=1,
            eos_token_id=2, cls_token_id=1, sep_token_id=2),
        "gpt_neox": lambda: T.GPTNeoXConfig(**part),
        "phi": lambda: T.PhiConfig(**part),
        "gptj": lambda: T.GPTJConfig(vocab_size=256, n_embd=H, n_inner=INNER, n_layer=2, n_head=4, rotary_dim=8),
        "falcon": lambda: T.FalconConfig(vocab_size=256, hidden_size=H, num_hidden_layers=2, num_attention_heads=4),
        "cohere": lambda: T.CohereConfig(**part),
        "opt": lambda: T.OPTConfig(vocab_size=256, hidden_size=H, ffn_dim=INNER, num_hidden_layers=2,
                                   num_attention_heads=4, word_embed_proj_dim=H),
    }[family]()


def _spec(config, tmp_path):
    import json

    from lorplan.core.model import _fallback_child, fallback

    arch = {"ctrl": "CTRLLMHeadModel", "gpt2": "GPT2LMHeadModel"}.get(config.model_type)
    arch = arch or type(config).__name__.replace("Config", "ForCausalLM")
    cfg = {**config.to_dict(), "architectures": [arch]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, text = _fallback_child.report(str(path), False)  # the child's report, built in this process
    assert code == 0, text
    return fallback._spec(json.loads(text), cfg, config.model_type, False, "test")


def _kept_by_block(config) -> int:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).train()
    blocks = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)][0]
    block = blocks[-1]

    def shape(m):  # (in, out) of a Linear or GPT-2's Conv1D
        return tuple(m.weight.shape) if isinstance(m, Conv1D) else tuple(m.weight.shape)[::-1]

    down = [m for m in block.modules() if isinstance(m, (torch.nn.Linear, Conv1D)) and shape(m)[1] == H and shape(m)[0] != H]
    assert len(down) == 1, down
    seen: set[int] = set()

    def count(value):
        if isinstance(value, (tuple, list)):
            for v in value:
                count(v)
        elif isinstance(value, torch.Tensor) and value.numel() == B * S * H and value.shape[-1] == H:
            seen.add(value.untyped_storage().data_ptr())  # OPT's block flattens it to (B * S, H)

    def hook(module, args):
        frame = inspect.currentframe()
        while frame is not None and frame.f_locals.get("self") is not block:
            frame = frame.f_back
        assert frame is not None, "the block's frame"
        for value in frame.f_locals.values():
            count(value)

    inputs = []  # the block's input: its caller holds it until the block returns (priced as the stream)
    block.register_forward_pre_hook(lambda module, args, kwargs: inputs.append(
        args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    mlp_inputs = []
    mlp = next((m for n, m in block.named_children() if n in ("mlp", "ffn")), None)
    if mlp is not None:  # its input, when the block passes a temporary (StableLM, CTRL)
        mlp.register_forward_pre_hook(lambda module, args: mlp_inputs.append(args[0]))
    down[0].register_forward_pre_hook(hook)
    model(input_ids=torch.randint(1, 256, (B, S)))
    count(mlp_inputs)
    return len(seen - {inputs[-1].untyped_storage().data_ptr()})


@pytest.mark.parametrize("family", ["llama", "olmo", "stablelm", "stablelm-parallel", "gpt_neox-sequential", "bloom",
                                    "gpt2", "gpt_bigcode", "ctrl", "modernbert-decoder", "gpt_neox", "phi",
                                    "gptj", "falcon", "cohere", "opt"])
def test_a_blocks_forward_locals_are_priced(family, tmp_path):
    config = _config(family)
    spec = _spec(config, tmp_path)
    kept = _kept_by_block(config)
    priced = 2 + block_locals(spec, sequential_block(spec, _family(spec)))
    assert kept == (priced - 1 if family == "opt" else priced)
