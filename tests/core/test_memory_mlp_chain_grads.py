"""The widest adapted module's LoRA weight gradients (LoraSaved.chain_grads) in the MLP's backward phases
(mlp_top / mlp_bottom): made by then when that module is the MLP output projection, not when it is an attention
projection (the MLP back-propagates first). Whether lora_A saves a copy of its input (LoraSaved.widest_saved) says
nothing about which module it is: with bf16 adapters and no dropout lora_A keeps the input itself."""

from __future__ import annotations

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.activations import activation_model
from lorplan.core.memory.lora_saved import lora_saved
from lorplan.core.memory.phases import GRADIENTS, phase_pieces
from lorplan.core.memory.targets import memory_targets
from lorplan.core.model import load_spec


def _gradients(modules: tuple[str, ...], adapter: str) -> tuple[dict[str, float], float, float]:
    """(each phase's GRADIENTS bytes, chain_grads, widest_saved) for Mistral-7B, rank 16, checkpointing."""
    spec = load_spec("mistralai/Mistral-7B-v0.3")
    setup = TrainingSetup(targets=LoraTargets(modules=modules), micro_batch=2, seq_len=1024, grad_checkpointing=True,
                          adapter_dtype=adapter)
    am = activation_model(spec, setup)
    ls = lora_saved(memory_targets(spec, setup.targets), 16, setup, am.act_bytes)
    grads = {name: sum(p.const for p in pieces if p.label == GRADIENTS)
             for name, pieces in phase_pieces(am, ls, setup, 0)}
    return grads, ls.chain_grads, ls.widest_saved


def test_mlp_output_projection_keeps_its_lora_gradients_in_the_mlp_phases():
    grads, chain, widest_saved = _gradients(("all-linear",), "bf16")
    assert chain == 2 * 16 * (14336 + 4096)  # down_proj's lora_A and lora_B
    assert widest_saved == 0  # lora_A saves down_proj's input itself
    assert "mlp_top" in grads and "mlp_bottom" in grads  # the MLP's backward outweighs the gradient chain
    assert grads["mlp_top"] == grads["recompute_top"] == chain
    assert grads["mlp_bottom"] == grads["recompute_bottom"]


def test_attention_projection_lora_gradients_are_not_made_when_the_mlp_back_propagates():
    grads, chain, _ = _gradients(("q_proj", "v_proj"), "fp32")
    assert chain == 4 * 16 * (4096 + 4096)  # q_proj's (v_proj's is narrower)
    assert grads["recompute_top"] == chain and grads["mlp_top"] == 0
    assert grads["mlp_bottom"] == grads["recompute_bottom"] - chain
