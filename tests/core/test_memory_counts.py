"""The memory model's trainable counts and static bytes against lorplan.core.lora, the exact reference.

lora.trainable_params / trainable_tensors are checked against real peft 0.21 in test_lora_exact.py (MoE experts
and routers through target_parameters, embeddings, DoRA, rank_pattern, modules_to_save). Here the sweep's
figures must follow them digit for digit, for every catalog model: trainable_params, adapter and gradient bytes
(LoRA tensors in the adapter dtype, modules_to_save / task-head copies in the module's own dtype, as
test_memory_static.py checks against peft), AdamW states, and bitsandbytes 8-bit AdamW's per-tensor rule
(fp32 states below 4096 elements), recomputed here from the ungrouped tensor list with bitsandbytes' rule
written out (not lorplan's optimizer module). Pure Python, no torch.
"""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets, trainable_params, trainable_tensors
from lorplan.core.memory import TrainingSetup, estimate, rank_table
from lorplan.core.model import catalog, load_spec

RANKS = (1, 8, 64)
MODELS = [e.id for e in catalog.ENTRIES]


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _bnb_adamw8bit_bytes(numels: list[int]) -> int:
    """bitsandbytes AdamW8bit's state bytes, from Optimizer2State.init_state: tensors under min_8bit_size (4096)
    elements keep fp32 state1 and state2; larger ones uint8 state1 and state2 plus fp32 absmax1 and absmax2 per
    block of 256; the signed and unsigned 256-entry fp32 qmaps once when any state is 8-bit."""
    total, eight_bit = 0, False
    for n in numels:
        if n < 4096:
            total += 2 * 4 * n
        else:
            eight_bit = True
            total += 2 * n + 2 * 4 * -(-n // 256)
    return total + (2 * 256 * 4 if eight_bit else 0)


def _expected(spec, targets: LoraTargets, rank: int, setup: TrainingSetup) -> tuple[int, int, int]:
    """(trainable params, adapter bytes, 8-bit AdamW bytes) from the ungrouped per-tensor list."""
    pbytes = {"fp32": 4, "bf16": 2, "fp16": 2}[setup.adapter_dtype]
    copy_bytes = 4 if (setup.quant != "none" and setup.prepare_kbit) else {"fp32": 4, "bf16": 2, "fp16": 2}[
        setup.base_dtype]
    tensors = []
    for name, shape in trainable_tensors(spec, targets, rank):
        lora = name.rsplit(".", 1)[-1].startswith("lora_")
        tensors.append((_numel(shape), 1, pbytes if lora else copy_bytes))
    adapter = sum(n * b for n, _, b in tensors)
    return sum(n for n, _, _ in tensors), adapter, _bnb_adamw8bit_bytes([n for n, _, _ in tensors])


def _check(spec, targets: LoraTargets, ranks=RANKS, **kw) -> None:
    setup = TrainingSetup(targets=targets, **kw)
    rows = rank_table(spec, setup, ranks).rows
    rows8 = rank_table(spec, TrainingSetup(targets=targets, optimizer="adamw-8bit", **kw), ranks).rows
    for row, row8 in zip(rows, rows8, strict=True):
        params, adapter, opt8 = _expected(spec, targets, row.rank, setup)
        assert row.trainable_params == params == trainable_params(spec, targets, row.rank), row.rank
        m = row.memory
        assert m.adapter == adapter and m.gradients == adapter, row.rank
        assert m.optimizer == 2 * adapter  # AdamW: m and v in each tensor's dtype
        assert row8.memory.optimizer == opt8, row.rank


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("preset", ["all-linear", "attention", "mlp"])
def test_every_catalog_model_counts_like_lora(model, preset):
    spec = load_spec(model)
    targets = LoraTargets(modules=(preset,))
    try:
        trainable_params(spec, targets, 8)
    except BadInput as e:  # a preset that matches nothing: the plan says the same
        with pytest.raises(BadInput, match="--targets"):
            rank_table(spec, TrainingSetup(targets=targets), RANKS)
        assert "--targets" in str(e)
        return
    _check(spec, targets)


@pytest.mark.parametrize(
    ("model", "targets", "kw"),
    [
        ("openai-community/gpt2", LoraTargets(modules=("wte", "c_attn")), {}),
        ("openai-community/gpt2", LoraTargets(modules=("wte", "wpe", "c_fc"), rank_pattern={"wpe": 4}), {}),
        ("Qwen/Qwen2.5-0.5B-Instruct", LoraTargets(modules=("embed_tokens", "q_proj")), {"adapter_dtype": "bf16"}),
        ("Qwen/Qwen2.5-0.5B-Instruct", LoraTargets(modules=("attention",), modules_to_save=("lm_head",)), {}),
        ("meta-llama/Llama-3.1-8B-Instruct", LoraTargets(modules=("mlp",), modules_to_save=("lm_head",)),
         {"quant": "nf4"}),
        ("google-bert/bert-base-uncased", LoraTargets(modules=("query", "value"), modules_to_save=("pooler",)), {}),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", LoraTargets(use_dora=True), {}),
        ("openai-community/gpt2", LoraTargets(modules=("wte", "c_attn"), use_dora=True), {}),
        ("Qwen/Qwen3-8B", LoraTargets(rank_pattern={"q_proj": 4, "down_proj": 32}), {}),
        ("Qwen/Qwen3-30B-A3B", LoraTargets(), {}),
        ("Qwen/Qwen3-30B-A3B", LoraTargets(modules=("mlp",), rank_pattern={"gate_up_proj": 4}), {}),
        ("Qwen/Qwen3-30B-A3B", LoraTargets(layers_to_transform=(0, 1)), {"quant": "nf4"}),
        ("mistralai/Mixtral-8x7B-v0.1", LoraTargets(modules=("w1", "w3", "w2", "q_proj")), {}),
    ],
    ids=lambda v: "-".join(v.modules) if isinstance(v, LoraTargets) else None,
)
def test_embeddings_experts_dora_rank_pattern_and_modules_to_save(model, targets, kw):
    _check(load_spec(model), targets, ranks=(1, 8, 64, 300), **kw)


def test_8bit_adamw_small_tensor_rule_is_per_tensor():
    # Qwen3-30B-A3B's routers: lora_B is (128, r), under 4096 elements up to r = 31, so it keeps fp32 states;
    # the expert factors are millions of elements. Lumping them together would hide the small tensors.
    spec = load_spec("Qwen/Qwen3-30B-A3B")
    router_only = LoraTargets(modules=("gate",))
    setup = TrainingSetup(targets=router_only, optimizer="adamw-8bit")
    r8 = estimate(spec, setup, 8)
    # 48 routers: lora_A (8, 2048) = 16384 elements (8-bit + absmax), lora_B (128, 8) = 1024 (fp32 states)
    per_router = (2 * 16384 + 2 * 4 * 64) + 2 * 1024 * 4
    assert r8.optimizer == 48 * per_router + 2 * 256 * 4


def test_plan_json_matches_lora_for_moe_and_embedding_targets(capsys):
    for argv, model in (
        (["--model", "Qwen/Qwen3-30B-A3B"], "Qwen/Qwen3-30B-A3B"),
        (["--model", "openai-community/gpt2", "--targets", "wte,c_attn"], "openai-community/gpt2"),
    ):
        assert main(["plan", *argv, "--ranks", "8", "--json"]) == 0
        row = json.loads(capsys.readouterr().out)["rows"][0]
        spec = load_spec(model)
        targets = LoraTargets(modules=tuple(argv[3].split(","))) if len(argv) > 2 else LoraTargets()
        assert row["trainable_params"] == trainable_params(spec, targets, 8)
        assert row["memory"]["adapter"] == 4 * row["trainable_params"]
    assert trainable_params(load_spec("Qwen/Qwen3-30B-A3B"), LoraTargets(), 8) == 498_253_824
    assert trainable_params(load_spec("openai-community/gpt2"), LoraTargets(modules=("wte", "c_attn")), 8) == 703_112


def test_moe_and_embedding_lora_add_their_saved_tensors():
    moe = load_spec("Qwen/Qwen3-30B-A3B")
    attn = estimate(moe, TrainingSetup(targets=LoraTargets(modules=("attention",))), 8)
    full = estimate(moe, TrainingSetup(), 8)
    merged = sum(t.numel for t in moe.tensors if t.kind in ("experts", "router")) * 2  # bf16 merged weights
    assert full.details["lora_merged_expert_weights"] == merged
    assert attn.details["lora_merged_expert_weights"] == 0
    assert full.activations - attn.activations > merged
    gc = estimate(moe, TrainingSetup(grad_checkpointing=True), 8)  # only one layer's merged weights at a time
    assert gc.activations < full.activations - merged * 0.9
    gpt2 = load_spec("openai-community/gpt2")
    base = estimate(gpt2, TrainingSetup(targets=LoraTargets(modules=("c_attn",))), 8)
    emb = estimate(gpt2, TrainingSetup(targets=LoraTargets(modules=("wte", "c_attn"))), 8)
    assert emb.details["lora_mid"] - base.details["lora_mid"] == 2 * 8 * 2048  # the r-wide lookup, bf16
    assert emb.activations > base.activations


def test_dropout_on_fused_experts_is_bad_input():
    # peft's lora.ParamWrapper raises ValueError for lora_dropout != 0: the plan says so before anything runs
    moe = load_spec("Qwen/Qwen3-30B-A3B")
    with pytest.raises(BadInput, match="--lora-dropout"):
        rank_table(moe, TrainingSetup(lora_dropout=0.05), (8,))
    attention = LoraTargets(modules=("attention",))
    row = rank_table(moe, TrainingSetup(lora_dropout=0.05, targets=attention), (8,)).rows[0]
    assert row.trainable_params == trainable_params(moe, attention, 8)
    assert row.memory.details["lora_dropout_masks"] > 0  # attention-only LoRA takes dropout: its masks are priced
