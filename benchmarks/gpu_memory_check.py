"""Check the memory model on a real GPU: train a few LoRA steps of a small random-weight model and print what
PyTorch and NVML measured beside the estimate.

Variants: bf16 base (Trainer's path: fp32 adapters, bf16 autocast, SDPA, AdamW foreach, the KV cache off), QLoRA
NF4 with double quantization (bitsandbytes, peft's prepare_model_for_kbit_training) and the same NF4 base without
prepare_model_for_kbit_training (`lorplan plan --no-prepare-kbit`: its norms and embeddings stay bf16, priced with
TrainingSetup(prepare_kbit=False); checkpointing as lorplan train then turns it on, with input gradients), each
without and with gradient checkpointing. Each NF4 variant also prints the dtypes of the parameters bitsandbytes
left unquantized (fp32 after peft's up-cast, bf16 without it). The model is SmolLM2-135M's architecture from the
built-in catalog with random weights (no network, no tokenizer: random token ids). For each variant it prints
  torch.cuda.max_memory_allocated  vs  the estimate's allocated peak (total - context - reserve),
  torch.cuda.max_memory_reserved   vs  allocated peak + allocator reserve,
  NVML (this process)              vs  the estimate's total, with the CUDA context measured through NVML
(read as `lorplan train`'s meter reads it: the NVML device with torch's UUID, which it checks and prints).
Then the terms issue 13 added, each on a random-weight model from the catalog's config: the model's own
dropout (GPT-2's 0.1), an encoder classifier (all-MiniLM-L6-v2), full fine-tuning (fp32 master weights under
bf16 autocast), Liger's fused linear cross-entropy and Apple's cut cross-entropy (when installed), each printed
as max_memory_allocated against the estimate's allocated peak.
Unattended, a couple of minutes on one GPU; exits 0 with "skipped: no CUDA" without one.

Run: .venv/bin/python benchmarks/gpu_memory_check.py [--model ID] [--seq-len N] [--micro-batch N] [--rank R]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _nvml_process_bytes(index: int) -> int | None:
    """NVML's figure for this process on torch's device `index`, read as `lorplan train`'s meter reads it."""
    try:
        from lorplan.train.memory import nvml_process_bytes

        return nvml_process_bytes(index)
    except Exception:  # NVML is optional here: no library or no permission gives "n/a"
        return None


def _meter_device(index: int) -> str:
    """Whether the meter's NVML device (found by torch's UUID) is the GPU torch runs on: NVML's UUID of the
    handle it found against torch's own."""
    import torch

    from lorplan.train.memory import cuda_uuid, nvml_handle_by_uuid

    torch_uuid = str(torch.cuda.get_device_properties(index).uuid)
    try:
        import pynvml

        pynvml.nvmlInit()
        uuid = cuda_uuid(index)
        handle = nvml_handle_by_uuid(pynvml, uuid) if uuid else None
        found = None if handle is None else pynvml.nvmlDeviceGetUUID(handle)
        found = found.decode() if isinstance(found, bytes) else found
    except Exception as exc:
        return f"memory meter's NVML device: n/a ({type(exc).__name__}: {exc})"
    same = found is not None and found.split("-", 1)[1] == torch_uuid
    return (f"memory meter's NVML device {found}, torch cuda:{index} {torch_uuid}: "
            f"{'same GPU' if same else 'NOT THE SAME GPU'}")


def _fmt(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**30:8.3f} GiB"


def _err(pred: int, meas: int | None) -> str:
    return "" if not meas else f"{100 * (pred - meas) / meas:+6.1f}%"


def _no_cache(model):
    """`model` with the KV cache off, as lorplan train (lorplan.train.model.build_model) and transformers' Trainer
    train: every module's own config (a multimodal model's text model reads text_config's). With it on, a forward
    without checkpointing builds a DynamicCache whose copies of k and v live until the loss."""
    for config in {id(m.config): m.config for m in model.modules() if hasattr(m, "config")}.values():
        if hasattr(config, "use_cache"):
            config.use_cache = False
    return model


def _step(model, opt, ids) -> None:
    """One Trainer-style step: forward + loss under bf16 autocast, backward outside it, AdamW, grads freed."""
    import torch

    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def _unquantized_dtypes(model) -> str:
    """The dtypes of the parameters bitsandbytes left unquantized (norms, embeddings, an untied head), counted:
    peft's prepare_model_for_kbit_training up-casts them to fp32, without it they stay bf16."""
    from collections import Counter

    counts = Counter(str(p.dtype).removeprefix("torch.") for p in model.parameters()
                     if type(p).__name__ not in ("Params4bit", "Int8Params"))
    return ", ".join(f"{n} {dtype}" for dtype, n in sorted(counts.items()))


def run_variant(spec, quant: str, grad_ckpt: bool, args, context: int, tmp: str, prepare: bool = True) -> None:
    """Train `quant` ("none" or "nf4") a few steps and print the measured peaks beside the estimate of the same
    setup. prepare=False: a quantized base without peft's prepare_model_for_kbit_training, as lorplan train runs a
    plan priced with --no-prepare-kbit (lorplan.train.model._enable_checkpointing), priced the same way."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoConfig, AutoModelForCausalLM, BitsAndBytesConfig

    from lorplan.core.memory import TrainingSetup, estimate

    cfg = AutoConfig.for_model(**dict(spec.config))
    torch.manual_seed(0)
    if quant == "none":
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
    else:
        if not os.path.exists(os.path.join(tmp, "config.json")):
            AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(tmp)
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(tmp, quantization_config=q, dtype=torch.bfloat16,
                                                     attn_implementation="sdpa", device_map={"": 0})
        if prepare:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    dtypes = _unquantized_dtypes(model) if quant != "none" else ""  # before LoRA adds its fp32 adapters
    _no_cache(model)
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if not prepare:  # as lorplan train checkpoints a base it does not prepare: input gradients on
            model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, target_modules="all-linear",
                                             lora_dropout=0.0, task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, spec.vocab_size, (args.micro_batch, args.seq_len), device="cuda")

    _step(model, opt, ids)  # warm-up: optimizer state and cuBLAS workspace exist from here on
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(args.steps):
        _step(model, opt, ids)
    torch.cuda.synchronize()
    alloc, reserved = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
    nvml = _nvml_process_bytes(torch.cuda.current_device())

    setup = TrainingSetup(quant=quant, double_quant=quant != "none", micro_batch=args.micro_batch,
                          seq_len=args.seq_len, grad_checkpointing=grad_ckpt, cuda_context_bytes=context,
                          prepare_kbit=prepare)
    m = estimate(spec, setup, args.rank)
    pred_alloc = m.details["allocated"]
    pred_res = pred_alloc + m.details["allocator_reserve"]
    name = f"{'bf16' if quant == 'none' else 'nf4+dq'}{'' if prepare else ' no-prepare'}{' +GC' if grad_ckpt else ''}"
    print(f"\n{name}  (rank {args.rank}, all-linear, micro-batch {args.micro_batch}, seq {args.seq_len})")
    if dtypes:
        print(f"  unquantized base parameters: {dtypes}"
              f"{'' if prepare else ' (no fp32 expected: prepare_model_for_kbit_training was not called)'}")
    print(f"  max_memory_allocated {_fmt(alloc)}   estimate {_fmt(pred_alloc)} {_err(pred_alloc, alloc)}")
    print(f"  max_memory_reserved  {_fmt(reserved)}   estimate {_fmt(pred_res)} {_err(pred_res, reserved)}")
    print(f"  NVML (this process)  {_fmt(nvml)}   estimate {_fmt(m.total)} {_err(m.total, nvml)}")
    print(f"  estimate parts: weights {_fmt(m.weights)} adapter {_fmt(m.adapter)} optimizer {_fmt(m.optimizer)} "
          f"grads {_fmt(m.gradients)} activations {_fmt(m.activations)} peak phase "
          f"{[k for k in m.details if k.startswith('peak_phase_')][0][11:]}")
    del model, opt, ids
    gc.collect()
    torch.cuda.empty_cache()


def _measure(model, params, batch_fn, steps: int) -> int:
    """max_memory_allocated over `steps` Trainer-style steps after a warm-up (AdamW foreach on `params`)."""
    import torch

    opt = torch.optim.AdamW(params, lr=1e-5)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(**batch_fn()).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def _CutCE(peft_model):
    """A causal LM whose loss is Apple's linear_cross_entropy on the final hidden states (shifted labels)."""
    from types import SimpleNamespace

    import torch
    from cut_cross_entropy import linear_cross_entropy

    class CutCE(torch.nn.Module):
        def __init__(self, lm):
            super().__init__()
            self.lm = lm

        def forward(self, input_ids, labels):
            inner = self.lm.get_base_model()
            hidden = inner.model(input_ids=input_ids).last_hidden_state
            return SimpleNamespace(loss=linear_cross_entropy(hidden, inner.lm_head.weight, labels, shift=True))

    return CutCE(peft_model)


def run_new_terms(args, context: int) -> None:
    """The issue-13 terms: model dropout, an encoder classifier, full fine-tuning, fused and cut losses."""
    import importlib.util

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    from lorplan.core.memory import TrainingSetup, estimate
    from lorplan.core.memory.full_finetune import full_finetune
    from lorplan.core.memory.types import CUBLAS_WORKSPACE_BYTES
    from lorplan.core.model import load_spec

    def lora(model, task):
        return get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type=task))

    def report(name, measured, predicted):
        print(f"  {name:<44} max_memory_allocated {_fmt(measured)}   estimate {_fmt(predicted)} "
              f"{_err(predicted, measured)}")

    print("\nissue-13 terms (rank 8, all-linear unless said)")
    try:  # lorplan plan --cuda-context measure: a child process, against this process's NVML reading
        from lorplan.core.memory.context import measure_context

        measured = measure_context(torch.cuda.current_device())
        print(f"  --cuda-context measure: {_fmt(measured.bytes)} (this process after its first matmul: "
              f"{_fmt(context)}; {measured.gpu}, driver {measured.driver})")
    except Exception as exc:
        print(f"  --cuda-context measure: failed: {type(exc).__name__}: {exc}")
    cases = [("gpt2", "GPT-2 default dropout 0.1, mb2 s256", 2, 256, "causal"),
             ("sentence-transformers/all-MiniLM-L6-v2", "MiniLM classifier, mb8 s128", 8, 128, "classify")]
    for model_id, name, mb, seq, kind in cases:
        try:
            spec = load_spec(model_id)
            cfg = AutoConfig.for_model(**dict(spec.config))
            auto = AutoModelForSequenceClassification if kind == "classify" else AutoModelForCausalLM
            torch.manual_seed(0)
            model = auto.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
            model = lora(_no_cache(model), "SEQ_CLS" if kind == "classify" else "CAUSAL_LM").train()
            ids = torch.randint(0, spec.vocab_size, (mb, seq), device="cuda")
            labels = ids if kind == "causal" else torch.zeros(mb, dtype=torch.long, device="cuda")
            measured = _measure(model, [p for p in model.parameters() if p.requires_grad],
                                lambda ids=ids, labels=labels: {"input_ids": ids, "labels": labels}, args.steps)
            m = estimate(spec, TrainingSetup(micro_batch=mb, seq_len=seq, cuda_context_bytes=context), 8)
            report(name, measured, m.details["allocated"])
            del model
            torch.cuda.empty_cache()
        except Exception as exc:
            print(f"  {name}: failed: {type(exc).__name__}: {exc}")
    spec = load_spec(args.model)
    cfg = AutoConfig.for_model(**dict(spec.config))
    mb, seq = 1, 512
    ids = torch.randint(0, spec.vocab_size, (mb, seq), device="cuda")
    try:  # full fine-tuning: fp32 master weights, bf16 autocast, every parameter trained
        torch.manual_seed(0)
        model = _no_cache(AutoModelForCausalLM.from_config(cfg, dtype=torch.float32,
                                                           attn_implementation="sdpa").cuda().train())
        measured = _measure(model, list(model.parameters()), lambda: {"input_ids": ids, "labels": ids}, args.steps)
        f = full_finetune(spec, TrainingSetup(micro_batch=mb, seq_len=seq, cuda_context_bytes=context))
        # allocated = total less the context and the reserve (overhead also holds the cuBLAS workspaces)
        alloc = f.total - f.overhead + CUBLAS_WORKSPACE_BYTES
        report(f"full fine-tuning fp32+bf16 autocast, mb{mb} s{seq}", measured, alloc)
        del model
        torch.cuda.empty_cache()
    except Exception as exc:
        print(f"  full fine-tuning: failed: {type(exc).__name__}: {exc}")
    for loss, module in (("fused-linear-ce", "liger_kernel"), ("cut-ce", "cut_cross_entropy")):
        if importlib.util.find_spec(module) is None:
            print(f"  --loss {loss}: skipped ({module} is not installed)")
            continue
        try:
            torch.manual_seed(0)
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
            if loss == "fused-linear-ce":  # only the loss kernel, as lorplan prices it
                from liger_kernel.transformers import _apply_liger_kernel_to_instance

                _apply_liger_kernel_to_instance(model=model, rope=False, rms_norm=False, swiglu=False,
                                                cross_entropy=False, fused_linear_cross_entropy=True)
            model = lora(_no_cache(model), "CAUSAL_LM").train()
            if loss == "cut-ce":  # the PyPI package has no transformers patch: call its kernel on the hidden states
                model = _CutCE(model)
            measured = _measure(model, [p for p in model.parameters() if p.requires_grad],
                                lambda: {"input_ids": ids, "labels": ids}, args.steps)
            m = estimate(spec, TrainingSetup(micro_batch=mb, seq_len=seq, loss=loss, cuda_context_bytes=context), 8)
            report(f"--loss {loss}, mb{mb} s{seq}", measured, m.details["allocated"])
            del model
            torch.cuda.empty_cache()
        except Exception as exc:
            print(f"  --loss {loss}: failed: {type(exc).__name__}: {exc}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("skipped: no CUDA (torch is not installed)")
        return 0
    if not torch.cuda.is_available():
        print("skipped: no CUDA")
        return 0
    from lorplan.core.model import load_spec

    spec = load_spec(args.model)
    torch.cuda.init()
    torch.ones(1, device="cuda") @ torch.ones(1, 1, device="cuda")  # context + cuBLAS handle
    torch.cuda.synchronize()
    context = _nvml_process_bytes(torch.cuda.current_device())
    print(f"{torch.cuda.get_device_name()}  torch {torch.__version__}  model {spec.id} (random weights)")
    print(f"CUDA context measured through NVML: {_fmt(context)}")
    print(_meter_device(torch.cuda.current_device()))
    with tempfile.TemporaryDirectory() as tmp:
        # the no-prepare NF4 variants last, so the four that earlier logs hold come first, as they did
        for quant, prepare in (("none", True), ("nf4", True), ("nf4", False)):
            for gc_on in (False, True):
                try:
                    run_variant(spec, quant, gc_on, args, context or 0, tmp, prepare)
                except Exception as exc:  # one variant failing (e.g. bitsandbytes without its CUDA build)
                    print(f"\n{quant}{'' if prepare else ' no-prepare'} GC={gc_on}: failed: "
                          f"{type(exc).__name__}: {exc}")
    run_new_terms(args, context or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
