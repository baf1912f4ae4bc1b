"""`lorplan plan --no-prepare-kbit` (and recommend's) prices a quantized base without peft's
prepare_model_for_kbit_training, whose fp32 up-cast of every parameter bitsandbytes leaves unquantized (norms,
embeddings, the head) the memory model otherwise adds. The plan records it as [quantization] prepare_kbit = false;
`lorplan train` and probes used to call prepare_model_for_kbit_training on every quantized base anyway, so a plan
that fit only without it trained with it. Now they read the plan's setting (lorplan.train.model.prepares_kbit),
and without it still do what training needs: gradient checkpointing (use_reentrant=False) and input gradients.

bitsandbytes' quantization is skipped on the CPU (load_kwargs), so here the decision is read from real plan files
and _enable_checkpointing is run on a real bf16 model (the up-cast does not depend on quantization); the same
check on a quantized model belongs on a GPU: benchmarks/gpu_probe_check.py --train-kbit (lorplan train's engine on
NF4 plans written with and without --no-prepare-kbit) and gpu_memory_check.py's nf4+dq no-prepare variants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import dumps_plan, loads_plan, read_plan

ROOT = Path(__file__).resolve().parents[2]
QLORA = ROOT / "sample_configs" / "llama-3.1-8b-qlora-24gb.toml"


def _written(tmp_path: Path, *flags: str) -> Path:
    from lorplan.cli import main

    out = tmp_path / f"plan{len(list(tmp_path.glob('*.toml')))}.toml"
    assert main(["plan", "--model", "meta-llama/Llama-3.1-8B", "--rank", "8", "--seq-len", "256",
                 *flags, "--write", str(out)]) == 0
    return out


def test_the_plan_file_says_whether_train_prepares_the_quantized_base(tmp_path, capsys):
    from lorplan.probe import runner
    from lorplan.probe.plans import base_plan, plan_settings, probe_plan
    from lorplan.train.model import prepares_kbit

    skipped = read_plan(_written(tmp_path, "--quant", "nf4", "--no-prepare-kbit"))
    prepared = read_plan(_written(tmp_path, "--quant", "nf4"))
    plain = read_plan(_written(tmp_path))
    capsys.readouterr()
    assert skipped.quantization.prepare_kbit is False and prepared.quantization.prepare_kbit is True
    assert prepares_kbit(skipped) is False
    assert prepares_kbit(prepared) is True
    assert prepares_kbit(plain) is False  # nothing quantized: nothing to prepare
    # [estimate] is what was priced, not how to train: a plan without it keeps its setting
    assert prepares_kbit(replace(prepared, estimate=None)) is True
    assert prepares_kbit(replace(skipped, estimate=None)) is False
    assert prepares_kbit(read_plan(QLORA)) is True

    # a probe of the plan (its run stores the plan as a document) trains as the plan does
    for base, want in ((skipped, False), (prepared, True)):
        run = runner.make_plan((4,), (1e-3,), steps=10, **plan_settings(base))
        probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
        assert probe.lora.r == 4 and prepares_kbit(probe) is want
        assert loads_plan(dumps_plan(probe)) == probe  # a valid file: no [estimate] of the base's rank in it


def _bf16_model(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16)


def _checkpointing(model) -> bool:
    on = getattr(model, "is_activation_checkpointing", None)  # transformers 5 (is_gradient_checkpointing: 4)
    return bool(model.is_gradient_checkpointing if on is None else on)


@pytest.mark.slow
@pytest.mark.parametrize("checkpointing", [True, False])
def test_without_prepare_the_16_bit_params_stay_16_bit_and_lora_trains(tiny_llama, checkpointing):
    import torch
    from peft import get_peft_model

    from lorplan.train.model import _enable_checkpointing, lora_config

    ids = torch.randint(0, 64, (2, 8))
    dtypes = {}
    for prepare in (True, False):
        model = _bf16_model(tiny_llama)
        model = _enable_checkpointing(model, prepare=prepare, enabled=checkpointing)
        norm = model.model.norm.weight
        dtypes[prepare] = (norm.dtype, model.get_input_embeddings().weight.dtype, model.lm_head.weight.dtype)
        if prepare:  # (peft checkpoints only a model bitsandbytes loaded: this one is not)
            continue
        assert _checkpointing(model) is checkpointing
        # what training needs without peft's call: checkpointing that still sends gradients to the adapters
        plan = read_plan(ROOT / "sample_configs" / "smollm2-135m-cpu.toml")
        from lorplan.core.model import load_spec

        spec = load_spec(str(tiny_llama))
        peft_model = get_peft_model(model, lora_config(plan, spec))
        peft_model.train()
        out = peft_model(input_ids=ids, labels=ids)
        out.loss.backward()
        grads = [p.grad for n, p in peft_model.named_parameters() if "lora_B" in n]
        assert grads and all(g is not None for g in grads)
        assert any(bool(g.abs().sum() > 0) for g in grads)
    assert dtypes[True] == (torch.float32,) * 3  # peft's up-cast, which the plan priced away
    assert dtypes[False] == (torch.bfloat16,) * 3
