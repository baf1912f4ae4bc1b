"""The LLaMA-Factory export trains lorplan's tokens: the exported YAML run through LLaMA-Factory's own argument
parsing, template and get_dataset (0.9.5, transformers 5.6), compared token for token with `lorplan train`'s
encoding (lorplan.train.data.tokenize), on a byte-level BPE tokenizer trained here (with and without a BOS).
Runs where llamafactory is importable; the YAML-only checks run everywhere."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.data.schema import to_example
from lorplan.core.export import export_plan, write_export
from lorplan.core.plan import read_plan

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"
EOS, BOS = "<|endoftext|>", "<s>"
ROWS = {
    "text": [{"text": "The quick brown fox."}, {"text": "jumps over the lazy dog"}],
    "prompt-completion": [{"prompt": "Question: what is it?", "completion": " a fox."},
                          {"prompt": "2 + 2 =", "completion": " 4"}],
    "alpaca": [{"instruction": "what is it?", "input": "", "output": "a fox."},
               {"instruction": "add", "input": "2 + 2", "output": "4"}],
}


def _plan(schema: str, train_on: str, path: Path, packing: bool = False):
    plan = read_plan(SAMPLE)
    return replace(plan, data=replace(plan.data, path=str(path), schema=schema, train_on=train_on, eval_split=0.0),
                   training=replace(plan.training, packing=packing, seq_len=96))


def _exported(plan) -> tuple[dict, tuple[str, ...]]:
    result = export_plan(plan, "llamafactory")
    (text,) = result.files.values()
    return yaml.safe_load(text), result.warnings


@pytest.mark.parametrize(("schema", "stage", "template"), [
    ("text", "pt", "empty"), ("auto", "pt", "empty"), ("prompt-completion", "sft", "empty"),
    ("alpaca", "sft", "alpaca"), ("messages", "sft", None),
])
def test_the_stage_and_template_that_train_the_schemas_text(schema, stage, template, tmp_path):
    """The export wrote `template: default` for every schema (a prompt trained as "Human: ...</s>\\nAssistant:")
    and sft for text rows, which LLaMA-Factory drops as having no response."""
    cfg, warnings = _exported(_plan(schema, "completion", tmp_path / "d.jsonl"))
    assert (cfg["stage"], cfg["template"]) == (stage, template)
    assert ("train_on_prompt" in cfg) is (stage == "sft")  # pt refuses it
    assert not any("instead of default" in w for w in warnings)


def test_every_schemas_warning_says_what_differs(tmp_path):
    said = {schema: " ".join(_exported(_plan(schema, "completion", tmp_path / "d.jsonl"))[1])
            for schema in ("text", "prompt-completion", "alpaca", "messages")}
    assert "add_bos_token" in said["text"]
    assert "adds no EOS" in said["prompt-completion"] and "end each completion with the EOS" in said["prompt-completion"]
    assert '"### Input:"' in said["alpaca"] and "trained after the EOS" in said["alpaca"]
    assert "chat template" in said["messages"]


# ---- LLaMA-Factory's own preprocessing ----

def _llamafactory():
    pytest.importorskip("llamafactory")
    if importlib.util.find_spec("torchaudio") is None:
        # llamafactory.data imports torchaudio at the top of mm_plugin (for audio files only); no wheel exists for
        # the torch these tests run with
        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args

    return get_train_args, get_template_and_fix_tokenizer, get_dataset


def _tokenizer(bos: bool):
    """A byte-level BPE (GPT-2's pre-tokenizer) with EOS; bos=True adds BOS by its post-processor, as Llama 3's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    corpus = [json.dumps(rows) for rows in ROWS.values()] * 5
    t.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=[EOS, BOS],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if bos:
        t.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, t.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=t, eos_token=EOS, **({"bos_token": BOS} if bos else {}))


def _llamafactory_tokens(plan, rows, bos: bool, tmp_path: Path) -> list[tuple[list, list]]:
    """input_ids and labels as LLaMA-Factory builds them from the exported config as `lorplan export` writes it
    (the YAML and the dataset_info.json beside it, which its dataset_dir names; pt: labels = input_ids)."""
    get_train_args, get_template, get_dataset = _llamafactory()
    Path(plan.data.path).write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_export(export_plan(plan, "llamafactory"), tmp_path / "lf.yaml", force=True)
    cfg = yaml.safe_load((tmp_path / "lf.yaml").read_text())
    assert (Path(cfg["dataset_dir"]) / "dataset_info.json").is_file()
    _tokenizer(bos).save_pretrained(tmp_path / "tok")
    cfg.update(model_name_or_path=str(tmp_path / "tok"), output_dir=str(tmp_path / "out"), bf16=False,
               overwrite_cache=True, report_to="none", flash_attn="auto")
    model_args, data_args, training_args, ft_args, _ = get_train_args(cfg)
    tok = _tokenizer(bos)
    template = get_template(tok, data_args)
    ds = get_dataset(template, model_args, data_args, training_args, stage=ft_args.stage, tokenizer=tok)
    return [(list(r["input_ids"]), list(r.get("labels", r["input_ids"]))) for r in ds["train_dataset"]]


def _lorplan_tokens(plan, rows, bos: bool) -> list[tuple[list, list]]:
    from lorplan.train.data import tokenize

    examples = [to_example(i + 1, row, plan.data.schema) for i, row in enumerate(rows)]
    items = tokenize(examples, _tokenizer(bos), task="causal-lm", seq_len=plan.training.seq_len,
                     packing=plan.training.packing, mask_prompt=plan.data.train_on == "completion")
    return [(list(x.input_ids), list(x.labels)) for x in items]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("packing", [False, True])
@pytest.mark.parametrize("train_on", ["completion", "all"])
def test_text_trains_lorplans_tokens(train_on, packing, tmp_path):
    """stage pt: each text then EOS, every token trained, packed into the same blocks (no BOS in this tokenizer)."""
    rows = ROWS["text"] * (8 if packing else 1)
    plan = _plan("text", train_on, tmp_path / "d.jsonl", packing=packing)
    plan = replace(plan, training=replace(plan.training, seq_len=16 if packing else 96))
    ours = _lorplan_tokens(plan, rows, bos=False)
    assert len(ours) >= (5 if packing else 2)
    assert _llamafactory_tokens(plan, rows, False, tmp_path) == ours


@pytest.mark.filterwarnings("ignore")
def test_text_without_add_bos_token_loses_the_bos_as_warned(tmp_path):
    plan = _plan("text", "all", tmp_path / "d.jsonl")
    ours = _lorplan_tokens(plan, ROWS["text"], bos=True)
    theirs = _llamafactory_tokens(plan, ROWS["text"], True, tmp_path)
    bos_id = _tokenizer(True).bos_token_id
    assert [(ids[1:], labels[1:]) for ids, labels in ours] == theirs and all(ids[0] == bos_id for ids, _ in ours)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("bos", [False, True])
@pytest.mark.parametrize("train_on", ["completion", "all"])
def test_prompt_completion_trains_lorplans_tokens_with_the_warned_eos_and_bos(train_on, bos, tmp_path):
    """template empty: prompt then completion, the loss masked as lorplan masks it. Without EOS (and BOS) in the
    data LLaMA-Factory trains one token fewer (two); with them written as the warning says, the same tokens."""
    plan = _plan("prompt-completion", train_on, tmp_path / "d.jsonl")
    ours = _lorplan_tokens(plan, ROWS["prompt-completion"], bos)
    as_is = _llamafactory_tokens(plan, ROWS["prompt-completion"], bos, tmp_path)
    lead = 1 if bos else 0
    assert as_is == [(ids[lead:-1], labels[lead:-1]) for ids, labels in ours]
    warned = [{"prompt": (BOS if bos else "") + r["prompt"], "completion": r["completion"] + EOS}
              for r in ROWS["prompt-completion"]]
    assert _llamafactory_tokens(plan, warned, bos, tmp_path) == ours


@pytest.mark.filterwarnings("ignore")
def test_alpaca_differs_from_lorplans_prompt_as_warned(tmp_path):
    """template alpaca: lorplan's Stanford Alpaca text but for the three differences the warning names."""
    from lorplan.core.data.example import alpaca_prompt

    plan = _plan("alpaca", "all", tmp_path / "d.jsonl")
    plan = replace(plan, training=replace(plan.training, seq_len=512))
    tok = _tokenizer(False)
    theirs = [tok.decode(ids) for ids, _ in _llamafactory_tokens(plan, ROWS["alpaca"], False, tmp_path)]
    head = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    for row, text in zip(ROWS["alpaca"], theirs, strict=True):
        joined = "\n".join(x for x in (row["instruction"], row["input"]) if x)  # the input on a new line
        ours = alpaca_prompt(joined, None) + row["output"]
        assert ours.startswith(head)
        assert text == ours.replace("### Response:", "### Response:\n") + EOS + "\n\n"
