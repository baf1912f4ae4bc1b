"""The Unsloth script and alpaca rows (instruction / input / output), which TRL's SFTTrainer stops on: the script
writes them as prompt/completion as lorplan reads them before the trainer sees them. Its own load_dataset and
dataset lines run here with the real datasets on JSONL and CSV files, and every row comes out as lorplan's reader
makes it (lorplan.core.data: Example.prompt / completion); TRL 1.16's SFTTrainer, built on a tiny random-weight
Llama, takes the rows and trains the tokens lorplan trains."""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from model_builders import tiny_llama

from lorplan.core.data import iter_examples
from lorplan.core.export import export_plan
from lorplan.core.export.trl import ALPACA_NOTE, AUTO_NOTE, PROMPT_COMPLETION_NOTE
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SCRIPT = "unsloth_train.py"
# rows lorplan trains: with an input, none (missing, null, empty), an input of a space, and values that a template
# or a literal could mangle: braces, quotes, newlines, triple quotes, a backslash, other scripts
ROWS = [
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Say hello.", "output": "Hello!"},
    {"instruction": "Name a colour.", "input": None, "output": "Blue."},
    {"instruction": "Name a fruit.", "input": "", "output": "A pear."},
    {"instruction": "Echo the space.", "input": " ", "output": "ok"},
    {"instruction": 'Quote "this" and {that}', "input": 'a """ b\nc \\n d', "output": "'''\n\"\"\"\n{0}"},
    {"instruction": "Traduis : « bonjour »", "input": "日本語 😀", "output": "Grüß Gott — ça va ?"},
    {"instruction": "Keep the zeros.", "input": "NA", "output": "007"},
    {"instruction": "None", "input": "null", "output": "None"},
]
# rows lorplan skips (an empty instruction or output): the script leaves them out too
SKIPPED = [
    {"instruction": "   ", "input": "x", "output": "y"},
    {"instruction": "Reply.", "input": "x", "output": " \n"},
]


def _plan(tmp_path: Path, data: Path, schema: str = "alpaca", train_on: str = "completion"):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")  # a CPU plan: its SFTConfig builds here
    return replace(plan, data=replace(plan.data, path=str(data), schema=schema, train_on=train_on, eval_split=0.0),
                   training=replace(plan.training, output_dir=str(tmp_path / "out")))


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["instruction", "input", "output"])
        for r in rows:
            writer.writerow([r["instruction"], "" if r.get("input") is None else r["input"], r["output"]])
    return path


def _main_steps(text: str, tmp_path: Path, targets: set[str]) -> dict:
    """The script's module-level names (importing it runs nothing) and its own assignments to `targets` in main(),
    run in order with the real datasets and TRL (Unsloth's import aside)."""
    from datasets import load_dataset
    from trl import SFTConfig

    script = tmp_path / SCRIPT
    script.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("unsloth_train_alpaca", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    steps = [n for n in main.body if isinstance(n, ast.Assign)
             and {t.id for t in n.targets if isinstance(t, ast.Name)} & targets]
    names = {**vars(module), "load_dataset": load_dataset, "SFTConfig": SFTConfig}
    for step in steps:
        exec(compile(ast.Module([step], []), str(script), "exec"), names)
    return names


def _lorplan_rows(path: Path) -> list[tuple[str, str]]:
    return [(ex.prompt, ex.completion) for ex in iter_examples(path, schema="alpaca")]


@pytest.mark.parametrize("schema", ["alpaca", "auto"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_script_makes_every_row_lorplans_prompt_and_completion(tmp_path, fmt, schema):
    write = _jsonl if fmt == "jsonl" else _csv
    data = write(tmp_path / f"alpaca.{fmt}", ROWS + SKIPPED)
    text = export_plan(_plan(tmp_path, data, schema), "unsloth").files[SCRIPT]
    dataset = _main_steps(text, tmp_path, {"dataset"})["dataset"]
    ours = _lorplan_rows(data)
    assert len(ours) == len(ROWS)  # lorplan skips the SKIPPED rows, and reads every other
    assert [(r["prompt"], r["completion"]) for r in dataset] == ours
    assert set(dataset.column_names) == {"prompt", "completion"}


def test_a_row_whose_input_is_no_string_is_left_out_as_lorplan_skips_it(tmp_path):
    rows = [{"instruction": "Count.", "input": 5, "output": "five"}, {"instruction": "Add.", "input": "1 and 1",
                                                                      "output": "2"}]
    data = _jsonl(tmp_path / "a.jsonl", rows)
    dataset = _main_steps(export_plan(_plan(tmp_path, data), "unsloth").files[SCRIPT], tmp_path, {"dataset"})[
        "dataset"]
    assert [(r["prompt"], r["completion"]) for r in dataset] == _lorplan_rows(data)
    assert len(dataset) == 1


def test_the_template_is_lorplans_own_text(tmp_path):
    """The script's prompt pieces are lorplan's alpaca_prompt at export time, not a copy that can drift."""
    from lorplan.core.data.example import alpaca_prompt

    data = _jsonl(tmp_path / "a.jsonl", ROWS)
    names = _main_steps(export_plan(_plan(tmp_path, data), "unsloth").files[SCRIPT], tmp_path, set())
    convert = names["alpaca_prompt_completion"]
    assert convert({"instruction": "I", "input": "X", "output": "O"}) == {
        "prompt": alpaca_prompt("I", "X"), "completion": "O"}
    assert convert({"instruction": "I", "input": "", "output": "O"})["prompt"] == alpaca_prompt("I", None)
    assert "### Input:" in alpaca_prompt("I", "X") and "### Input:" not in alpaca_prompt("I", None)


def test_csv_cells_are_read_as_their_text(tmp_path):
    """pandas reads a column of numbers as numbers (007 as 7) and NA or None as null: the script's load_dataset
    reads the alpaca columns as text, as lorplan does."""
    rows = [{"instruction": "n", "input": "1", "output": "007"}, {"instruction": "m", "input": "", "output": "1.50"}]
    data = _csv(tmp_path / "n.csv", rows)
    text = export_plan(_plan(tmp_path, data), "unsloth").files[SCRIPT]
    assert "keep_default_na=False" in text and "converters=ALPACA_CELLS" in text
    dataset = _main_steps(text, tmp_path, {"dataset"})["dataset"]
    assert [r["completion"] for r in dataset] == ["007", "1.50"] == [c for _, c in _lorplan_rows(data)]


def test_the_warnings_say_what_is_still_different(tmp_path):
    data = _jsonl(tmp_path / "a.jsonl", ROWS)
    for schema in ("alpaca", "auto"):
        plan = _plan(tmp_path, data, schema)
        said = export_plan(plan, "unsloth").warnings
        assert ALPACA_NOTE not in said and AUTO_NOTE not in said and PROMPT_COMPLETION_NOTE in said
        assert ALPACA_NOTE in export_plan(plan, "trl").warnings  # a YAML cannot convert rows: its line stays


@pytest.mark.parametrize(("schema", "train_on", "masked"), [
    ("alpaca", "completion", True), ("alpaca", "all", False), ("auto", "completion", True), ("auto", "all", False)])
def test_the_loss_mask_is_the_plans_train_on(tmp_path, schema, train_on, masked):
    data = _jsonl(tmp_path / "a.jsonl", ROWS)
    config = _main_steps(export_plan(_plan(tmp_path, data, schema, train_on), "unsloth").files[SCRIPT], tmp_path,
                         {"config"})["config"]
    assert config.completion_only_loss is masked
    assert config.dataset_text_field is None  # Unsloth's look at a text column stops on prompt/completion rows


def test_other_rows_get_no_conversion(tmp_path):
    data = _jsonl(tmp_path / "pc.jsonl", [{"prompt": "a", "completion": "b"}])
    text = export_plan(_plan(tmp_path, data, "auto"), "unsloth").files[SCRIPT]
    assert "alpaca" not in text and "dataset.filter" not in text


def _bos_tokenizer(folder: Path):
    """The tiny Llama's tokenizer (MiniLM's vocabulary) framed as a Llama's is: BOS ([CLS]) before a sequence,
    nothing after, and an EOS token ([SEP]) for TRL to append to each completion."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A", pair="[CLS] $A $B", special_tokens=[("[CLS]", tok.cls_token_id)])
    tok.eos_token = "[SEP]"
    assert tok("a b")["input_ids"][0] == tok.cls_token_id and tok("a b")["input_ids"][-1] != tok.eos_token_id
    return tok


@pytest.mark.slow
@pytest.mark.parametrize("train_on", ["completion", "all"])
def test_trls_sfttrainer_takes_the_rows_and_trains_lorplans_tokens(tmp_path, train_on):
    from trl import SFTTrainer

    from lorplan.core.data.encode import Encoder

    data = _jsonl(tmp_path / "a.jsonl", ROWS + SKIPPED)
    text = export_plan(_plan(tmp_path, data, "alpaca", train_on), "unsloth").files[SCRIPT]
    names = _main_steps(text, tmp_path, {"dataset", "config"})
    folder = tiny_llama(tmp_path / "model")
    tok = _bos_tokenizer(folder)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=names["dataset"], args=names["config"])
    prepared = trainer.train_dataset
    encoded = Encoder(tok, mask_prompt=train_on != "all").encode_many(list(iter_examples(data, schema="alpaca")))
    assert len(prepared) == len(encoded) == len(ROWS)
    for row, ours in zip(prepared, encoded, strict=True):
        assert tuple(row["input_ids"]) == ours.input_ids
        assert tuple(row["labels"]) == ours.labels
    assert any(-100 in ours.labels for ours in encoded) is (train_on != "all")


def _unsloth_dataset_check():
    """The code Unsloth 2026.10.9 puts at the top of SFTTrainer._prepare_dataset (unsloth/models/rl_replacements.py
    sft_trainer_prepare_dataset's check_text), as a function of _prepare_dataset's arguments returning the text it
    looks at; None without Unsloth's sources (UNSLOTH_SRC)."""
    src = os.environ.get("UNSLOTH_SRC")
    path = Path(src or "-") / "unsloth" / "models" / "rl_replacements.py"
    if not src or not path.is_file():
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "sft_trainer_prepare_dataset")
    check = next(ast.literal_eval(n.value) for n in fn.body if isinstance(n, ast.Assign)  # the text; then its indent
                 and [getattr(t, "id", None) for t in n.targets] == ["check_text"])
    code = ("def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):\n"
            + textwrap.indent(check, "    ") + "    return test_text\n")
    names: dict = {}
    exec(compile(code, str(path), "exec"), names)
    return names["_prepare_dataset"]


def test_unsloths_look_at_the_first_row_takes_the_scripts_rows(tmp_path):
    """Unsloth reads the first row's dataset_text_field column when one is set: SFTConfig's "text" stops on
    prompt/completion rows (KeyError), the script's None reads their prompt and completion."""
    check = _unsloth_dataset_check()
    if check is None:
        pytest.skip("no unsloth sources here (set UNSLOTH_SRC to an unpacked unsloth wheel)")
    from transformers import AutoTokenizer

    data = _jsonl(tmp_path / "a.jsonl", ROWS)
    names = _main_steps(export_plan(_plan(tmp_path, data), "unsloth").files[SCRIPT], tmp_path,
                        {"dataset", "config"})
    dataset, config = names["dataset"], names["config"]
    tok = AutoTokenizer.from_pretrained(tiny_llama(tmp_path / "model"))
    assert check(None, dataset, tok, config, False, None, "train") == dataset[0]["prompt"] + dataset[0]["completion"]
    with pytest.raises(KeyError):
        check(None, dataset, tok, _with_text_field(config), False, None, "train")


def _with_text_field(config):
    """`config` as SFTConfig's default reads: dataset_text_field "text"."""
    import copy

    config = copy.copy(config)
    config.dataset_text_field = "text"
    return config
