"""A CSV header written by hand as `instruction, input, output` (spaces after the commas): lorplan reads the names
stripped, so the rows are alpaca; datasets' csv builder (pandas) keeps " input" and " output". The Unsloth script
renames those columns right after load_dataset (its own lines run here with the real datasets, and every row comes
out as lorplan reads it); TRL, axolotl and LLaMA-Factory, which cannot rename, say so in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.data import iter_examples
from lorplan.core.export import common, export_plan
from lorplan.core.plan import read_plan
from tests.core.test_export_unsloth_alpaca import _main_steps

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SCRIPT = "unsloth_train.py"
# a quoted cell with a comma and a newline, a number pandas would read as 7, NA and null pandas would read as null,
# an empty input, and a row lorplan skips (an instruction of spaces)
PADDED = ('instruction, input , output\n'
          'Add the numbers.,2 and 3,5\n'
          '"Say ""hi"", twice.",,"Hi!\nHi!"\n'
          'Keep the zeros.,007,NA\n'
          'None,null,None\n'
          '   ,x,y\n')


def _plan(tmp_path: Path, data: Path, schema: str = "alpaca"):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, data=replace(plan.data, path=str(data), schema=schema, eval_split=0.0),
                   training=replace(plan.training, output_dir=str(tmp_path / "out")))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _dataset(text: str, tmp_path: Path):
    """The script's `dataset` after main()'s own assignments to it, run in order with the real datasets
    (test_export_unsloth_alpaca._main_steps)."""
    return _main_steps(text, tmp_path, {"dataset"})["dataset"]


@pytest.mark.parametrize("schema", ["alpaca", "auto"])
def test_the_unsloth_script_renames_the_padded_columns_and_reads_lorplans_rows(tmp_path, schema):
    data = _write(tmp_path / "hand.csv", PADDED)
    result = export_plan(_plan(tmp_path, data, schema), "unsloth")
    text = result.files[SCRIPT]
    assert "dataset.rename_columns({' input ': 'input', ' output': 'output'})" in text
    assert "ALPACA_CELLS = {'instruction': str, ' input ': str, ' output': str}" in text  # pandas' names at load
    dataset = _dataset(text, tmp_path)
    ours = [(ex.prompt, ex.completion) for ex in iter_examples(data, schema="alpaca")]
    assert len(ours) == 4  # the row of spaces is skipped
    assert [(r["prompt"], r["completion"]) for r in dataset] == ours
    assert ours[2][1] == "NA" and "007" in ours[2][0]
    assert not any("spaces around" in w for w in result.warnings)  # renamed: nothing left to say


def test_without_the_rename_datasets_finds_no_input_column(tmp_path):
    """What the rename is for: datasets' csv builder keeps the spaces."""
    from datasets import load_dataset

    data = _write(tmp_path / "hand.csv", PADDED)
    assert load_dataset("csv", data_files=str(data), split="train").column_names == [
        "instruction", " input ", " output"]


@pytest.mark.parametrize("fmt", ["trl", "axolotl", "llamafactory"])
def test_tools_that_cannot_rename_get_one_line(tmp_path, fmt):
    data = _write(tmp_path / "hand.csv", PADDED)
    said = [w for w in export_plan(_plan(tmp_path, data), fmt).warnings if "spaces around" in w]
    assert len(said) == 1
    assert str(data) in said[0] and "' input '" in said[0] and "' output'" in said[0]
    assert "'instruction'," not in said[0]  # not padded: not named
    assert "without the spaces" in said[0]


def test_a_tsv_header_is_read_with_tabs(tmp_path):
    data = _write(tmp_path / "hand.tsv", "instruction\t input\toutput \nA\tB\tC\n")
    said = [w for w in export_plan(_plan(tmp_path, data), "trl").warnings if "spaces around" in w]
    assert len(said) == 1 and "' input', 'output '" in said[0]


@pytest.mark.parametrize("fmt", ["unsloth", "trl", "axolotl", "llamafactory"])
def test_a_plain_header_changes_nothing(tmp_path, fmt):
    plain = _write(tmp_path / "plain.csv", PADDED.replace(" input ", "input").replace(" output", "output"))
    result = export_plan(_plan(tmp_path, plain), fmt)
    assert not any("spaces around" in w for w in result.warnings)
    assert not any("rename_columns" in t for t in result.files.values())


def test_the_header_is_read_once_per_file_version(tmp_path, monkeypatch):
    data = _write(tmp_path / "hand.csv", PADDED)
    reads = []
    real = common._read_csv_header
    monkeypatch.setattr(common, "_read_csv_header", lambda path, sep: reads.append(path) or real(path, sep))
    plan = _plan(tmp_path, data)
    for fmt in ("unsloth", "trl", "axolotl", "llamafactory"):
        export_plan(plan, fmt)
    assert len(reads) == 1
    _write(data, PADDED.replace(" input ", "input").replace(" output", "output") + "More.,x,y\n")  # plain now
    assert not any("spaces around" in w for w in export_plan(plan, "trl").warnings)
    assert len(reads) == 2
