"""Tracing harness: run one real LoRA training step on CPU and measure the live bytes of every tensor it makes.

`LiveBytes` is a TorchDispatchMode. Every tensor an op returns is attributed to its storage (keyed by the
storage's data pointer, counted once at its nbytes; an output that shares an input's storage which the mode has
not seen is a view of, or an in-place write into, pre-existing state and is not counted); a weakref finalizer on the storage's Python object (which
PyTorch keeps alive exactly as long as the C++ storage) subtracts it when it is freed. Storages that existed
before the mode (weights, adapters, optimizer states) are not counted, so the traced peak is the step's
in-step peak: saved activations, loss buffers, temporaries, gradients and optimizer temporaries.

`run_step` mirrors transformers Trainer's default CUDA path on the CPU: bf16 base weights, peft's fp32
adapters, the KV cache off (Trainer sets model.config.use_cache = args.use_cache, False by default;
lorplan.train does the same), torch.autocast("cpu", bfloat16) around the forward + loss, backward outside
autocast, torch AdamW with foreach=True (the CUDA default), zero_grad(set_to_none=True). One untraced warm-up step creates the
optimizer state first, as in any step after the first.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lorplan.core.model.spec import Linear, ModelSpec, Tensor


class LiveBytes(TorchDispatchMode):
    """Live bytes of the storages created while the mode is active, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0
        self._refs: list = []

    def _free(self, key: int, nbytes: int) -> None:
        if self.live.get(key) == nbytes:
            del self.live[key]
            self.current -= nbytes

    def _track(self, t: torch.Tensor, inputs: set[int] = frozenset()) -> None:
        st = t.untyped_storage()
        nbytes = st.nbytes()
        key = st.data_ptr()
        if nbytes == 0 or key == 0:
            return
        old = self.live.get(key)
        if old is None and key in inputs:
            return  # a view or in-place result of a storage that existed before the step
        if old is not None:
            if nbytes > old:  # resized in place (out= variants)
                self.live[key] = nbytes
                self.current += nbytes - old
                self.peak = max(self.peak, self.current)
            return
        self.live[key] = nbytes
        self.current += nbytes
        self.peak = max(self.peak, self.current)
        self._refs.append(weakref.finalize(st, self._free, key, nbytes))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = {
            t.untyped_storage().data_ptr()
            for t in tree_flatten((args, kwargs))[0]
            if isinstance(t, torch.Tensor) and t.device.type != "meta"
        }
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                self._track(t, inputs)
        return out

    def __exit__(self, *exc):
        for r in self._refs:
            r.detach()
        return super().__exit__(*exc)


class _Created(TorchDispatchMode):
    """The data pointers of the storages ops create while the mode is active (a view of, or an in-place write
    into, an argument's storage is not a new storage)."""

    def __init__(self) -> None:
        super().__init__()
        self.ptrs: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor) and t.device.type != "meta"}
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                key = t.untyped_storage().data_ptr()
                if key not in inputs:
                    self.ptrs.add(key)
        return out


def saved_by_module(model: torch.nn.Module, forward) -> dict[str, int]:
    """Bytes of what autograd saves for backward while `forward()` runs, by the innermost module running when
    each storage was first saved (torch.autograd.graph.saved_tensors_hooks). Only storages created during the
    forward count (weights, buffers and the batch do not); a storage saved twice counts once."""
    stack = [""]

    def enter(name):
        return lambda module, args: stack.append(name)  # append returns None: the arguments are left alone

    def leave(module, args, output):
        del stack[-1]  # a forward hook that returned something would replace the module's output

    handles = []
    for name, mod in model.named_modules():
        handles.append(mod.register_forward_pre_hook(enter(name)))
        handles.append(mod.register_forward_hook(leave))
    created = _Created()
    seen: set[int] = set()
    by: dict[str, int] = defaultdict(int)

    def pack(t):
        st = t.untyped_storage()
        key = st.data_ptr()
        if key in created.ptrs and key not in seen:
            seen.add(key)
            by[stack[-1]] += st.nbytes()
        return t

    try:
        with created, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            forward()
    finally:
        for h in handles:
            h.remove()
    return dict(by)


_LORA_PART = re.compile(r"\.(lora_A|lora_B|lora_dropout|lora_embedding_A|lora_embedding_B)(\.|$)")
_LAYER = re.compile(r"\.(?:layers|h|layer)\.(\d+)(\.|$)")


def part_of(module: str) -> tuple[int | None, str]:
    """(layer index or None, part) of a module path: lora_A / lora_B / lora_dropout, norm, attention, mlp,
    layer (the block itself), final_norm or model outside the blocks."""
    lora = _LORA_PART.search(module)
    layer = _LAYER.search(module)
    index = int(layer.group(1)) if layer else None
    if lora:
        return index, lora.group(1)
    leaf = module.rsplit(".", 1)[-1]
    if index is None:
        return None, "final_norm" if leaf in ("norm", "ln_f") else "model"
    if "norm" in leaf.lower() or leaf in ("ln_1", "ln_2"):
        return index, "norm"
    if "dropout" in leaf:  # the model's own residual-branch dropouts (GPT-2 resid_dropout, BERT output.dropout)
        return index, "dropout"
    if ".self_attn" in module or ".attn" in module or ".attention.self" in module:
        return index, "attention"
    if ".mlp" in module or ".intermediate" in module or ".output.dense" in module:
        return index, "mlp"
    return index, "layer"


def spec_from_model(model: torch.nn.Module, model_id: str, task: str = "causal-lm") -> ModelSpec:
    """A ModelSpec read off a real (un-adapted) transformers model: every Linear/Conv1D and every other
    parameter, tied weights once. Used so the tracing tests do not depend on config parsing."""
    from transformers.pytorch_utils import Conv1D

    cfg = model.config
    linears, tensors, seen = [], [], set()
    inside: set[str] = set()
    for name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.Linear, Conv1D)):
            if isinstance(mod, Conv1D):
                fin, fout = mod.weight.shape
            else:
                fout, fin = mod.weight.shape
            parts = name.split(".")
            layer = next((int(p) for p in parts if p.isdigit()), None)
            leaf = parts[-1]
            if layer is None:
                role = "head"
            elif any(k in name for k in ("attn", "attention")):
                role = "attention"
            else:
                role = "mlp"
            if id(mod.weight) in seen:
                continue
            seen.add(id(mod.weight))
            linears.append(Linear(name, leaf, layer, fin, fout, mod.bias is not None, role))
            inside.add(name + ".weight")
            inside.add(name + ".bias")
    for name, p in model.named_parameters():  # named_parameters() yields tied weights once
        if name in inside or id(p) in seen:
            continue
        seen.add(id(p))
        parts = name.split(".")
        layer = next((int(x) for x in parts if x.isdigit()), None)
        kind = "embedding" if ("embed" in name or "wte" in name) else ("position" if "wpe" in name else "norm")
        tensors.append(Tensor(name, tuple(p.shape), kind, layer))
    heads = cfg.num_attention_heads
    hidden = cfg.hidden_size
    act = getattr(cfg, "hidden_act", None) or getattr(cfg, "activation_function", "gelu")
    from lorplan.core.model.archs import config_dropout

    return ModelSpec(
        id=model_id, source="folder", model_type=cfg.model_type, architecture=type(model).__name__, task=task,
        hidden_size=hidden, num_layers=cfg.num_hidden_layers, num_attention_heads=heads,
        num_key_value_heads=getattr(cfg, "num_key_value_heads", None) or heads,
        head_dim=getattr(cfg, "head_dim", None) or hidden // heads,
        intermediate_size=getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or 4 * hidden,
        vocab_size=cfg.vocab_size, max_position_embeddings=getattr(cfg, "max_position_embeddings", 2048),
        tie_word_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)), hidden_act=act,
        gated_mlp=cfg.model_type in ("llama", "qwen2", "mistral", "qwen3", "gemma"),
        norm="rmsnorm" if cfg.model_type in ("llama", "qwen2", "mistral", "qwen3", "gemma") else "layernorm",
        linears=tuple(linears), tensors=tuple(tensors), dropout=config_dropout(cfg.model_type, cfg.to_dict()),
    )


# the decoder classifier families and the causal-LM family whose config each takes
_CLASSIFIED = {"llama-cls": "llama", "qwen2-cls": "qwen2-tied", "gpt2-cls": "gpt2"}


def tiny_config(family: str, vocab: int = 2048):
    """Tiny random-weight configs of the traced families (model-internal dropout off, as in modern LLMs, except
    the "-dropout" families, which keep the transformers config class's defaults: 0.1 for GPT-2 and BERT)."""
    from transformers import BertConfig, GPT2Config, LlamaConfig, Qwen2Config

    if family == "gpt2-dropout":  # GPT2Config's own attn_pdrop, resid_pdrop, embd_pdrop (0.1 each)
        return GPT2Config(vocab_size=vocab, n_embd=128, n_layer=2, n_head=4, n_positions=512)
    if family in ("bert", "bert-dropout"):  # post-LN encoder, GELU, pooler + classifier (sequence classification)
        drop = {} if family == "bert-dropout" else {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
        return BertConfig(vocab_size=vocab, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=512, max_position_embeddings=512, **drop)

    if family in _CLASSIFIED:  # a decoder as transformers' sequence classifier (a reward model's class): 3 labels,
        # a pad token so that a batch picks each sequence's last non-pad token
        cfg = tiny_config(_CLASSIFIED[family], vocab)
        cfg.num_labels, cfg.pad_token_id = 3, 0
        return cfg
    if family == "llama":  # GQA + SwiGLU, untied head
        return LlamaConfig(vocab_size=vocab, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                           num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
                           tie_word_embeddings=False)
    if family == "llama-wide":  # wide MLP, small vocabulary: a recomputed layer outweighs the loss buffers
        return LlamaConfig(vocab_size=1024, hidden_size=256, intermediate_size=1024, num_hidden_layers=2,
                           num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=512,
                           tie_word_embeddings=False)
    if family == "qwen2-tied":  # tied embeddings, q/k/v biases
        return Qwen2Config(vocab_size=vocab, hidden_size=96, intermediate_size=256, num_hidden_layers=3,
                           num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
                           tie_word_embeddings=True)
    if family in ("gemma2", "gemma2-nocap"):  # sandwich norms, gated GELU-tanh MLP, tied; "gemma2" keeps the
        # config class's attention-logit (50) and final-logit (30) softcapping, "gemma2-nocap" turns both off
        from transformers import Gemma2Config

        cap = {} if family == "gemma2" else {"attn_logit_softcapping": None, "final_logit_softcapping": None}
        return Gemma2Config(vocab_size=vocab, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                            num_attention_heads=8, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
                            **cap)
    if family in ("gpt2-heads", "gpt2-heads-dropout"):  # 8 heads, a small vocabulary: a block's s x s scores
        # outweigh the logits, so eager attention's backward (a 16-bit softmax under CPU autocast) is the peak
        drop = {} if family.endswith("-dropout") else {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
        return GPT2Config(vocab_size=256, n_embd=128, n_layer=2, n_head=8, n_positions=512, **drop)
    if family == "gpt2":  # GELU MLP (gelu_new), LayerNorm, Conv1D, learned positions, tied
        return GPT2Config(vocab_size=vocab, n_embd=128, n_layer=2, n_head=4, n_positions=512,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    raise ValueError(family)


TARGETS = {
    "llama": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "llama-wide": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "qwen2-tied": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "gemma2": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "gemma2-nocap": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "gpt2": {"all-linear": "all-linear", "qv": ["c_attn"]},
    "gpt2-dropout": {"all-linear": "all-linear", "qv": ["c_attn"]},
    "gpt2-heads": {"all-linear": "all-linear", "qv": ["c_attn"]},
    "gpt2-heads-dropout": {"all-linear": "all-linear", "qv": ["c_attn"]},
    "llama-cls": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "qwen2-cls": {"all-linear": "all-linear", "qv": ["q_proj", "v_proj"]},
    "gpt2-cls": {"all-linear": "all-linear", "qv": ["c_attn"]},
    "bert": {"all-linear": "all-linear", "qv": ["query", "value"]},
    "bert-dropout": {"all-linear": "all-linear", "qv": ["query", "value"]},
}


def is_classifier(family: str) -> bool:
    """A sequence-classification family (AutoModelForSequenceClassification, one label per sequence): BERT's, or
    a decoder's ("-cls")."""
    return family.startswith("bert") or family.endswith("-cls")


def without_cache(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with its config's use_cache off, as transformers' Trainer and lorplan.train train (with it on, a
    training forward without checkpointing builds a DynamicCache whose copies of k and v live until the loss).
    Every builder here and step_peak call it. Each module's own config, as lorplan.train.model.build_model: a
    multimodal causal LM's text model reads text_config's (Gemma3ForConditionalGeneration has none at the top)."""
    for config in {id(m.config): m.config for m in model.modules() if hasattr(m, "config")}.values():
        if hasattr(config, "use_cache"):
            config.use_cache = False
    return model


@dataclass
class Traced:
    spec: ModelSpec
    in_step_peak: int
    param_bytes: int  # base weights (frozen parameters), by storage
    adapter_bytes: int
    optimizer_bytes: int  # exp_avg + exp_avg_sq
    step_counter_bytes: int
    trainable_params: int


def load_kbit(auto, folder, quant: str, attention: str) -> torch.nn.Module:
    """The bf16 weights saved in `folder`, loaded in 4 bits (`quant`: nf4 / fp4, double quantization, bf16
    compute) by transformers' own bitsandbytes loading (it works on CPU) through `auto` (an AutoModel class), then
    prepared by peft's prepare_model_for_kbit_training (the fp32 up-cast of every unquantized parameter), as
    QLoRA does and lorplan prices it."""
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    qcfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant, bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)
    model = auto.from_pretrained(folder, quantization_config=qcfg, dtype=torch.bfloat16,
                                 attn_implementation=attention, device_map="cpu")
    return without_cache(prepare_model_for_kbit_training(model, use_gradient_checkpointing=False))


def build(family: str, rank: int, targets: str, dropout: float, grad_ckpt: bool, seed: int = 0,
          attention: str = "sdpa", quant: str = "none", tmp_dir: str | None = None, adapter_fp32: bool = True,
          base_dtype: str = "bf16"):
    """A peft LoRA model of a tiny random-weight `family` model and its ModelSpec (base weights in base_dtype;
    adapters in fp32, as peft's autocast_adapter_dtype makes them, unless adapter_fp32 is False: then bf16)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    cfg = tiny_config(family)
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[base_dtype]
    auto = AutoModelForSequenceClassification if is_classifier(family) else AutoModelForCausalLM
    model = without_cache(auto.from_config(cfg, attn_implementation=attention, dtype=dtype))
    # lorplan's own config reader: the pooler is a linear outside the blocks, not a head; a decoder classifier's
    # score head is the one its fast path plans (archs._as_classifier); Gemma 2's spec keeps the config (its
    # softcapping) and its gated MLP and sandwich norms
    if is_classifier(family) or family.startswith("gemma"):
        from lorplan.core.model.sources import from_config

        spec = from_config({**cfg.to_dict(), "architectures": [type(model).__name__]}, f"tiny-{family}", "folder",
                           f"tiny-{family}")
    else:
        spec = spec_from_model(model, f"tiny-{family}")
    if quant != "none":
        model.save_pretrained(tmp_dir)
        model = load_kbit(auto, tmp_dir, quant, attention)
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lcfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=dropout, target_modules=TARGETS[family][targets],
                      task_type="SEQ_CLS" if is_classifier(family) else "CAUSAL_LM")
    model = get_peft_model(model, lcfg, autocast_adapter_dtype=adapter_fp32)
    if not adapter_fp32:  # on an fp32 base peft leaves the adapters fp32: cast them as a bf16 run would
        for name, p in model.named_parameters():
            if ".lora_" in name:
                p.data = p.data.to(torch.bfloat16)
    model.train()
    return model, spec


def _batch(spec: ModelSpec, batch: int, seq: int, padded: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input ids, attention mask, labels): next-token labels for a causal LM, one class per sequence else."""
    ids = torch.randint(0, spec.vocab_size, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.long)
    if padded:  # a padding collator: the last sequence is right-padded to the longest one
        mask[-1, seq // 2:] = 0
    head = next((m for m in spec.linears if m.role == "head"), None)
    labels = ids if spec.task == "causal-lm" else torch.randint(0, head.out_features, (batch,))
    return ids, mask, labels


def saved_parts(family: str, rank: int, targets: str, dropout: float, batch: int, seq: int,
                attention: str = "sdpa", autocast: bool = True, quant: str = "none", tmp_dir: str | None = None,
                adapter_fp32: bool = True, padded: bool = False, base_dtype: str = "bf16"
                ) -> tuple[ModelSpec, dict[tuple[int | None, str], int]]:
    """One traced forward (no checkpointing): the bytes autograd saves for backward, by (layer, part) as
    part_of names them."""
    model, spec = build(family, rank, targets, dropout, False, attention=attention, quant=quant, tmp_dir=tmp_dir,
                        adapter_fp32=adapter_fp32, base_dtype=base_dtype)
    ids, mask, labels = _batch(spec, batch, seq, padded)

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            model(input_ids=ids, attention_mask=mask, labels=labels)

    parts: dict[tuple[int | None, str], int] = defaultdict(int)
    for module, nbytes in saved_by_module(model, forward).items():
        parts[part_of(module)] += nbytes
    return spec, dict(parts)


def lora_all_linear(model: torch.nn.Module, rank: int, grad_ckpt: bool = False):
    """`model` wrapped in peft LoRA on every linear (alpha 2 x rank, no dropout, a causal LM's task), the KV cache
    off (without_cache), gradient checkpointing (non-reentrant) when asked, in train mode, with its AdamW
    (foreach): what the traced-step tests of models built from a transformers config train."""
    from peft import LoraConfig, get_peft_model

    without_cache(model)
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, foreach=True)


def step_peak(model: torch.nn.Module, opt: torch.optim.Optimizer, ids: torch.Tensor, labels: torch.Tensor | None = None,
              mask: torch.Tensor | None = None, autocast: bool = True) -> int:
    """The live-bytes peak of one training step (forward under CPU bf16 autocast unless said, backward, optimizer
    step), traced after a first, untraced one that creates the optimizer's states. The KV cache is off
    (without_cache), whoever built the model."""
    without_cache(model)
    kwargs = {} if mask is None else {"attention_mask": mask}

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids if labels is None else labels, **kwargs).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up: optimizer state exists from here on
    with LiveBytes() as mode:
        step()
    return mode.peak


def run_step(family: str, rank: int, targets: str, dropout: float, grad_ckpt: bool, batch: int,
             seq: int, attention: str = "sdpa", autocast: bool = True, quant: str = "none",
             tmp_dir: str | None = None, adapter_fp32: bool = True, padded: bool = False,
             base_dtype: str = "bf16") -> Traced:
    """One traced step. autocast=False is "pure" bf16 training (peft's method comparison): no torch.autocast."""
    model, spec = build(family, rank, targets, dropout, grad_ckpt, attention=attention, quant=quant, tmp_dir=tmp_dir,
                        adapter_fp32=adapter_fp32, base_dtype=base_dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    ids, mask, labels = _batch(spec, batch, seq, padded)
    peak = step_peak(model, opt, ids, labels, mask, autocast)
    frozen = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes()
              for p in model.parameters() if not p.requires_grad}
    for p in model.parameters():  # bitsandbytes 4-bit statistics
        qs = getattr(p, "quant_state", None)
        if qs is not None:
            extra = [qs.absmax, qs.code] + ([qs.state2.absmax, qs.state2.code, qs.offset] if qs.state2 else [])
            for t in extra:
                frozen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    adapter = sum(p.untyped_storage().nbytes() for p in params)
    states = [s for p in params for s in opt.state[p].items()]
    return Traced(
        spec=spec,
        in_step_peak=peak,
        param_bytes=sum(frozen.values()),
        adapter_bytes=adapter,
        optimizer_bytes=sum(v.untyped_storage().nbytes() for k, v in states if k != "step"),
        step_counter_bytes=sum(v.untyped_storage().nbytes() for k, v in states if k == "step"),
        trainable_params=sum(p.numel() for p in params),
    )


def run_full_step(family: str, batch: int, seq: int, grad_ckpt: bool = False, seed: int = 0,
                  pure_bf16: bool = False) -> Traced:
    """One traced step of full fine-tuning in mixed precision (the reference row of the memory model): fp32
    weights, every parameter trained, torch.autocast("cpu", bfloat16) around forward + loss, AdamW foreach.
    pure_bf16: bf16 weights without autocast (peft's method comparison)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    cfg = tiny_config(family)
    auto = AutoModelForSequenceClassification if is_classifier(family) else AutoModelForCausalLM
    model = without_cache(auto.from_config(cfg, attn_implementation="sdpa",
                                           dtype=torch.bfloat16 if pure_bf16 else torch.float32))
    if is_classifier(family):
        from lorplan.core.model.sources import from_config

        spec = from_config({**cfg.to_dict(), "architectures": [type(model).__name__]}, f"tiny-{family}", "folder",
                           f"tiny-{family}")
    else:
        spec = spec_from_model(model, f"tiny-{family}")
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5, foreach=True)
    ids, mask, labels = _batch(spec, batch, seq, False)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not pure_bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    with LiveBytes() as mode:
        step()
    states = [s for p in params for s in opt.state[p].items()]
    return Traced(
        spec=spec,
        in_step_peak=mode.peak,
        param_bytes=sum(p.untyped_storage().nbytes() for p in params),
        adapter_bytes=0,
        optimizer_bytes=sum(v.untyped_storage().nbytes() for k, v in states if k != "step"),
        step_counter_bytes=sum(v.untyped_storage().nbytes() for k, v in states if k == "step"),
        trainable_params=sum(p.numel() for p in params),
    )
