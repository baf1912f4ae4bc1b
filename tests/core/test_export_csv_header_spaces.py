"""A CSV header written by hand as `instruction, input, output` (spaces after the commas): lorplan reads the names
stripped, so the rows are alpaca; datasets' csv builder (pandas) keeps " input" and " output". The Unsloth script
renames those columns right after load_dataset (its own lines run here with the real datasets, and every row comes
out as lorplan reads it); TRL, axolotl and LLaMA-Factory, which cannot rename, say so in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.data import iter_examples, readers
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


def test_the_header_is_read_once_per_file_version_by_lorplans_reader_alone(tmp_path, monkeypatch):
    """The exports' header is the one RowSource read for data_head: common.py opens no data file itself, and the
    file is read once per version for every export, then again once it changed."""
    import builtins
    import sys

    data = _write(tmp_path / "hand.csv", PADDED)
    reads, openers = [], []
    real_csv, real_open = readers.RowSource._csv, builtins.open
    monkeypatch.setattr(readers.RowSource, "_csv", lambda self: reads.append(self.path) or real_csv(self))

    def spy_open(file, *args, **kwargs):
        if str(file) == str(data):
            openers.append(sys._getframe(1).f_globals.get("__name__"))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    plan = _plan(tmp_path, data)
    for fmt in ("unsloth", "trl", "axolotl", "llamafactory"):
        export_plan(plan, fmt)
    assert len(reads) == 1
    assert openers and "lorplan.core.export.common" not in openers
    _write(data, PADDED.replace(" input ", "input").replace(" output", "output") + "More.,x,y\n")  # plain now
    assert not any("spaces around" in w for w in export_plan(plan, "trl").warnings)
    assert len(reads) == 2


# Headers both readers must read alike: lorplan's rows (RowSource, names stripped) and the exports' names as written
# (common.csv_header), name for name. A BOM is no part of the first name; a quoted name keeps its comma; a TSV (and
# .tab) splits at tabs only; quotes around a padded name are not part of it.
AGREEING = {
    "bom.csv": ("\ufeffinstruction, input , output\nA,B,C\n", ("instruction", " input ", " output")),
    "quoted.csv": ('instruction," in,put ", output\nA,B,C\n', ("instruction", " in,put ", " output")),
    "tabs.tsv": ("instruction\t input, x\toutput \nA\tB\tC\n", ("instruction", " input, x", "output ")),
    "tabs.tab": ("\ufeff instruction\tinput\toutput\r\nA\tB\tC\r\n", (" instruction", "input", "output")),
    "crlf.csv": ('"instruction",\t"input"\t,output\r\nA,B,C\r\n', ("instruction", '\t"input"\t', "output")),
}


@pytest.mark.parametrize("name", sorted(AGREEING))
def test_the_exports_header_is_the_one_lorplans_rows_are_read_with(tmp_path, name):
    text, written = AGREEING[name]
    data = _write(tmp_path / name, text)
    source = readers.RowSource(data)
    ((_, row),) = source.head(10)
    assert source.header == written  # the names as written, kept by the reader that reads the rows
    assert common.csv_header(str(data)) == written
    assert common.data_head(str(data)).header == written
    assert tuple(row) == tuple(n.strip() for n in written)  # lorplan's columns, stripped
    padded = common.padded_names(str(data))
    assert padded == {n: n.strip() for n in written if n != n.strip()}
    assert set(padded.values()) <= set(row)  # each renamed name is a column lorplan reads


def test_a_header_that_is_not_utf8_gives_no_padded_names(tmp_path):
    data = tmp_path / "latin1.csv"
    data.write_bytes("instruction, entr\xe9e, output\nA,B,C\n".encode("latin-1"))
    assert readers.RowSource(data).head(1)  # lorplan reads the file (its header's bytes escaped)
    assert common.csv_header(str(data)) == () and common.padded_names(str(data)) == {}
    for fmt in ("unsloth", "trl"):
        result = export_plan(_plan(tmp_path, data), fmt)
        assert not any("spaces around" in w for w in result.warnings)
        assert not any("rename_columns" in t for t in result.files.values())


def test_a_utf8_header_over_latin1_rows_is_read_as_lorplan_reads_it(tmp_path):
    """The header decides, as in lorplan's reader (a row of other bytes is that row's problem): before, the
    exports' own reader decoded the file's first 8 KiB strictly and found no header at all."""
    data = tmp_path / "rows.csv"
    data.write_bytes("instruction, input, output\nCaf\xe9,B,C\nTea,B,C\n".encode("latin-1"))
    assert common.csv_header(str(data)) == ("instruction", " input", " output")
    said = [w for w in export_plan(_plan(tmp_path, data), "trl").warnings if "spaces around" in w]
    assert len(said) == 1 and "' input', ' output'" in said[0]


@pytest.mark.parametrize("text", ["", "\n", "instruction, input, output\n"])
def test_a_header_without_rows(tmp_path, text):
    data = _write(tmp_path / "few.csv", text)
    expected = ("instruction", " input", " output") if text.strip() else ()
    assert common.csv_header(str(data)) == expected


def test_no_header_for_other_files(tmp_path):
    data = _write(tmp_path / "rows.jsonl", '{"instruction": "A", " input": "B", "output": "C"}\n')
    assert common.csv_header(str(data)) == () and common.data_head(str(data)).header == ()
    assert readers.RowSource(data).header is None


@pytest.mark.parametrize("fmt", ["unsloth", "trl", "axolotl", "llamafactory"])
def test_a_cell_nested_too_deeply_for_json_does_not_stop_the_export(tmp_path, fmt):
    """The header comes from data_head, which reads every CSV's first rows, whatever the plan's schema (before,
    an alpaca plan read only the header): a `messages` cell of JSON nested deeper than Python's json module
    recurses is a cell lorplan cannot read as a chat (no layout from it), not a RecursionError out of the export."""
    deep = "[" * 5000 + "]" * 5000
    data = _write(tmp_path / "deep.csv", f"instruction, input, output,messages\nA,B,C,{deep}\n")
    result = export_plan(_plan(tmp_path, data), fmt)
    assert common.csv_header(str(data)) == ("instruction", " input", " output", "messages")
    assert common.chat_layout(str(data)).rows == 0  # no chat read from the cell
    renamed = any("rename_columns" in t for t in result.files.values())
    assert renamed or any("spaces around" in w for w in result.warnings)  # the header read all the same
