"""Hand-built ModelSpecs for memory-model unit tests (no transformers needed)."""

from __future__ import annotations

from lorplan.core.model.spec import Linear, ModelSpec, Tensor


def llama_spec(h=4096, i=14336, layers=32, heads=32, kv=8, vocab=128256, tie=False, mid="llama-test") -> ModelSpec:
    hd = h // heads
    lin = []
    ten = [Tensor("model.embed_tokens.weight", (vocab, h), "embedding")]
    for n in range(layers):
        p = f"model.layers.{n}"
        for name, i_, o in (("q_proj", h, heads * hd), ("k_proj", h, kv * hd), ("v_proj", h, kv * hd),
                            ("o_proj", heads * hd, h)):
            lin.append(Linear(f"{p}.self_attn.{name}", name, n, i_, o, False, "attention"))
        for name, i_, o in (("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h)):
            lin.append(Linear(f"{p}.mlp.{name}", name, n, i_, o, False, "mlp"))
        ten.append(Tensor(f"{p}.input_layernorm.weight", (h,), "norm", n))
        ten.append(Tensor(f"{p}.post_attention_layernorm.weight", (h,), "norm", n))
    ten.append(Tensor("model.norm.weight", (h,), "norm"))
    if not tie:
        lin.append(Linear("lm_head", "lm_head", None, h, vocab, False, "head"))
    return ModelSpec(
        id=mid, source="catalog", model_type="llama", architecture="LlamaForCausalLM", task="causal-lm",
        hidden_size=h, num_layers=layers, num_attention_heads=heads, num_key_value_heads=kv, head_dim=hd,
        intermediate_size=i, vocab_size=vocab, max_position_embeddings=131072, tie_word_embeddings=tie,
        hidden_act="silu", gated_mlp=True, norm="rmsnorm", linears=tuple(lin), tensors=tuple(ten),
    )
