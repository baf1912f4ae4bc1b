"""Static terms of the memory model against the real libraries: bitsandbytes storage of quantized weights
(through transformers' own quantized loading on CPU), peft's kbit up-casts, bitsandbytes 8-bit AdamW state."""

from __future__ import annotations

import pytest

from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.optimizer import MIN_8BIT_SIZE, optimizer_states
from lorplan.core.memory.weights import quantized_weight_bytes, weight_bytes

torch = pytest.importorskip("torch")
bnb = pytest.importorskip("bitsandbytes")


def _nbytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        if t is None or not torch.is_tensor(t):
            continue
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


@pytest.mark.parametrize("shape", [(96, 130), (64, 64), (33, 7), (352, 128)])
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("double_quant", [False, True])
def test_4bit_bytes_match_bitsandbytes_storage(shape, quant_type, double_quant):
    import bitsandbytes.functional as F

    w = torch.randn(*shape, dtype=torch.bfloat16)
    q, qs = F.quantize_4bit(w, blocksize=64, compress_statistics=double_quant, quant_type=quant_type)
    parts = [q, qs.absmax, qs.code]
    if double_quant:
        parts += [qs.state2.absmax, qs.state2.code, qs.offset]
    assert _nbytes(parts) == quantized_weight_bytes(w.numel(), shape[0], quant_type, double_quant)


def test_int8_bytes_match_bitsandbytes_storage():
    import bitsandbytes.functional as F

    w = torch.randn(96, 130, dtype=torch.float16)
    cb, scb, _ = F.int8_vectorwise_quant(w)
    assert _nbytes([cb, scb]) == quantized_weight_bytes(w.numel(), 96, "int8", False)


def _quantized_model_bytes(model) -> int:
    parts = []
    for p in model.parameters():
        parts.append(p)
        qs = getattr(p, "quant_state", None)
        if qs is not None:
            parts += [qs.absmax, qs.code]
            if qs.state2 is not None:
                parts += [qs.state2.absmax, qs.state2.code, qs.offset]
        parts.append(getattr(p, "SCB", None))
    return _nbytes(parts)


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["nf4", "nf4-dq", "int8"])
def test_weights_match_transformers_bnb_loading_and_kbit_prep(tmp_path, quant):
    import memtrace
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    cfg = memtrace.tiny_config("llama")
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    spec = memtrace.spec_from_model(model, "tiny-llama")
    model.save_pretrained(tmp_path)
    if quant == "int8":
        qcfg = BitsAndBytesConfig(load_in_8bit=True)
    else:
        qcfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=quant == "nf4-dq", bnb_4bit_compute_dtype=torch.bfloat16)
    qm = AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=qcfg, dtype=torch.bfloat16,
                                              device_map="cpu")
    setup_kw = {"quant": "int8" if quant == "int8" else "nf4", "double_quant": quant == "nf4-dq"}
    loaded = sum(weight_bytes(spec, TrainingSetup(prepare_kbit=False, **setup_kw)).values())
    assert _quantized_model_bytes(qm) == loaded
    qm = prepare_model_for_kbit_training(qm, use_gradient_checkpointing=False)
    prepared = sum(weight_bytes(spec, TrainingSetup(prepare_kbit=True, **setup_kw)).values())
    assert _quantized_model_bytes(qm) == prepared
    assert prepared > loaded  # embeddings, head and norms went to fp32


@pytest.mark.parametrize("paged", [False, True])
def test_8bit_adamw_states_match_bitsandbytes(paged):
    sizes = [100, MIN_8BIT_SIZE - 1, MIN_8BIT_SIZE, 5000, 200_000]
    params = [torch.nn.Parameter(torch.randn(n)) for n in sizes]
    opt = bnb.optim.AdamW8bit(params)  # on CPU bnb never pages; sizes are the same
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    real = _nbytes([v for p in params for v in opt.state[p].values()])
    setup = TrainingSetup(optimizer="paged-adamw-8bit" if paged else "adamw-8bit")
    alloc, paged_bytes, _ = optimizer_states(setup.optimizer, [(n, 1, 4) for n in sizes], counters_on_device=True)
    assert alloc + paged_bytes == real
    # only the 200k-element states are paged (>= 1e5 elements), 2 uint8 buffers
    assert paged_bytes == (2 * 200_000 if paged else 0)


def test_torch_adamw_and_sgd_momentum_states_match_torch():
    params = [torch.nn.Parameter(torch.randn(n)) for n in (10, 4096, 12345)]
    for opt_name, opt in (("adamw", torch.optim.AdamW(params)),
                          ("sgd-momentum", torch.optim.SGD(params, lr=0.1, momentum=0.9)),
                          ("sgd", torch.optim.SGD(params, lr=0.1))):
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
        states = [v for p in params for v in opt.state[p].values()]
        steps = [v for p in params for k, v in opt.state[p].items() if k == "step"]
        got = optimizer_states(opt_name, [(p.numel(), 1, 4) for p in params], counters_on_device=True)
        assert got.allocated == _nbytes(states), opt_name  # CPU parameters: the step counters are on the device
        assert got.step_counters == _nbytes(steps), opt_name
        assert optimizer_states(opt_name, [(p.numel(), 1, 4) for p in params], False).allocated == _nbytes(
            [v for p in params for k, v in opt.state[p].items() if k != "step"]), opt_name


@pytest.mark.slow
@pytest.mark.parametrize("modules_to_save", [(), ("lm_head",)])
def test_adapter_bytes_match_peft_including_modules_to_save(modules_to_save):
    import memtrace
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import estimate

    model = AutoModelForCausalLM.from_config(memtrace.tiny_config("llama"), dtype=torch.bfloat16)
    spec = memtrace.spec_from_model(model, "tiny-llama")
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"],
                                                  modules_to_save=list(modules_to_save) or None,
                                                  task_type="CAUSAL_LM"))
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    frozen = [p for p in peft_model.parameters() if not p.requires_grad]
    setup = TrainingSetup(targets=LoraTargets(modules=("q_proj", "v_proj"), modules_to_save=modules_to_save))
    mem = estimate(spec, setup, 8)
    assert mem.adapter == _nbytes(trainable)  # fp32 LoRA + the bf16 copy peft trains
    assert mem.weights == _nbytes(frozen)  # the original head stays, frozen
    # the sweep's optimizer figure against the real optimizers' states on peft's real tensors (step counters
    # live on the host for CUDA parameters, so they are not in the GPU figure)
    for name, make in (("adamw", lambda ps: torch.optim.AdamW(ps)),
                       ("sgd-momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
                       ("adamw-8bit", lambda ps: bnb.optim.AdamW8bit(ps))):
        opt = make(trainable)
        for p in trainable:
            p.grad = torch.ones_like(p)
        opt.step()
        states = [v for p in trainable for k, v in opt.state[p].items() if k != "step" and torch.is_tensor(v)]
        priced = estimate(spec, TrainingSetup(targets=setup.targets, optimizer=name), 8).optimizer
        assert priced == _nbytes(states), name
