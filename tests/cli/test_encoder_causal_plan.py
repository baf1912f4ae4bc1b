"""A causal-LM plan of an encoder lorplan plans as a sequence classifier (a hand-edited plan: `lorplan plan` and the
planner write task = "sequence-classification" for it, and `lorplan recommend --task causal-lm` refuses it).

Before: `lorplan train` of such a plan for ModernBertForMaskedLM ended in a traceback (transformers'
AutoModelForCausalLM has no ModernBERT class), and `lorplan export` wrote it for axolotl, TRL, Unsloth, peft and
accelerate (only LLaMA-Factory was refused): TRL 1.16 loads ModernBertForMaskedLM and peft's causal-LM LoRA fails on
it ("'ModernBertForMaskedLM' object has no attribute 'prepare_inputs_for_generation'"), axolotl and LLaMA-Factory
load AutoModelForCausalLM. A BERT (planned as a classifier too) was exported and trained as BertLMHeadModel with its
attention bidirectional, each token seeing the one it predicts. Now both commands refuse it in one line naming
model.task (core.plan.context.plan_task_refusal), and export_plan refuses a masked LM for every causal-only format."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from model_builders import copy_tokenizer, tiny_bert

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export import export_plan
from lorplan.core.export.common import CAUSAL_ONLY
from lorplan.core.plan import read_plan, write_plan
from lorplan.core.vocab import ExportFormat, Task

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
ROWS = "".join(json.dumps({"prompt": f"Question {i}?", "completion": f" Answer {i}."}) + "\n" for i in range(8))


def _modernbert(folder: Path) -> Path:
    """A 2-layer ModernBertForMaskedLM (random weights) saved with MiniLM's tokenizer."""
    import torch
    import transformers

    copy_tokenizer(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    cfg = transformers.ModernBertConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=128, global_attn_every_n_layers=1, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, cls_token_id=tok.cls_token_id,
        sep_token_id=tok.sep_token_id)
    torch.manual_seed(0)
    transformers.ModernBertForMaskedLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("encoders")
    return {"modernbert": _modernbert(root / "modernbert"), "bert": tiny_bert(root / "bert")}


def _causal_plan(tmp_path: Path, model: Path) -> Path:
    """The sample causal-LM plan pointed at `model`, with data beside it, a short sequence and a CPU run."""
    data = tmp_path / "train.jsonl"
    data.write_text(ROWS)
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    assert plan.model.task == Task.CAUSAL_LM
    plan = replace(plan, model=replace(plan.model, id=None, path=str(model)),
                   data=replace(plan.data, path=str(data)),
                   training=replace(plan.training, seq_len=64, output_dir=str(tmp_path / "out")))
    path = tmp_path / "plan.toml"
    write_plan(plan, path)
    return path


def _one_line(capsys, argv: list[str]) -> str:
    rc = main(argv)
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, (rc, cap.err)
    return lines[0]


def test_train_refuses_a_masked_lm_planned_as_a_causal_lm(tmp_path, capsys, monkeypatch, models):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = _causal_plan(tmp_path, models["modernbert"])
    line = _one_line(capsys, ["train", str(plan)])
    assert line.startswith(f'lorplan train: error: {plan}: model.task = "{Task.CAUSAL_LM.value}": '), line
    assert f"is planned as {Task.SEQUENCE_CLASSIFICATION.value}" in line and "not as a causal LM" in line, line
    assert "BERT-style" not in line, line  # the reason holds for a reward model's named classifier too
    assert not (tmp_path / "out").exists()  # refused before the run's folder is made


@pytest.mark.parametrize("model", ["modernbert", "bert"])
@pytest.mark.parametrize("fmt", [f.value for f in ExportFormat])
def test_export_refuses_it_for_every_format(tmp_path, capsys, monkeypatch, models, model, fmt):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = _causal_plan(tmp_path, models[model])
    out = tmp_path / "exported"
    line = _one_line(capsys, ["export", str(plan), "--to", fmt, "-o", str(out)])
    assert f'model.task = "{Task.CAUSAL_LM.value}"' in line and "not as a causal LM" in line, line
    assert "BERT-style" not in line, line  # the reason holds for a reward model's named classifier too
    assert not out.exists()


def test_export_plan_refuses_a_masked_lm_for_every_causal_only_format(tmp_path, models):
    """export_plan's own check (config.json alone, for callers without a spec): every causal-only format, not
    LLaMA-Factory alone; the peft export of the same plan is left to the plan's check (above)."""
    plan = read_plan(_causal_plan(tmp_path, models["modernbert"]))
    for fmt in CAUSAL_ONLY:
        with pytest.raises(BadInput) as err:
            export_plan(plan, fmt.value)
        line = str(err.value)
        assert line.startswith(f"--to {fmt.value}: {CAUSAL_ONLY[fmt]} trains causal language models only"), line
        assert "ModernBertForMaskedLM" in line and "\n" not in line
    classifier = replace(plan, model=replace(plan.model, task=Task.SEQUENCE_CLASSIFICATION.value, num_labels=2))
    assert export_plan(classifier, "peft").files  # planned as lorplan plans it: exported


def test_a_causal_lm_and_a_decoder_planned_as_a_classifier_are_not_refused():
    from lorplan.core.model import load_spec
    from lorplan.core.plan.context import plan_task_refusal

    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    spec = load_spec(plan.model.source, allow_fallback=False)
    assert plan_task_refusal(plan, spec, "p.toml") is None
    classifier = replace(plan, model=replace(plan.model, task=Task.SEQUENCE_CLASSIFICATION.value, num_labels=2))
    assert plan_task_refusal(classifier, spec, "p.toml") is None
