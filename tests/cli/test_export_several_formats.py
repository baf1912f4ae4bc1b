"""`lorplan export PLAN --to A,B` (or --to A --to B) writes several formats in one command, as the planner's export
dialog does (core.export.write_exports: one atomic write, all or none), each in its own place: beside the plan,
named after it, or with -o FOLDER in that folder under the dialog's names. It took one format (`--to peft,axolotl`
was "invalid choice"). A bad item is refused by name. The parsers take no abbreviated option: `--out X` was read as
--output while the errors said `-o X`; it is now refused, pointing at --output."""

from __future__ import annotations

import argparse
import json

import pytest

from lorplan.cli import build_parser, main
from lorplan.core.vocab import ExportFormat

PEFT, AXOLOTL, LLAMAFACTORY, TRL = (ExportFormat.PEFT, ExportFormat.AXOLOTL, ExportFormat.LLAMAFACTORY,
                                    ExportFormat.TRL)


@pytest.fixture
def plan(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(30)))
    path = tmp_path / "p.toml"
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", str(data),
                 "--write", str(path)]) == 0
    return path


def _refused_by_argparse(argv) -> None:
    with pytest.raises(SystemExit) as caught:  # argparse's own checks exit 2 with the one line
        main(argv)
    assert caught.value.code == 2


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _texts(paths):
    return {p.name: p.read_text() for p in paths}


def test_a_comma_list_writes_each_format_where_one_format_goes(plan, tmp_path, capsys):
    capsys.readouterr()
    formats = [PEFT, AXOLOTL, LLAMAFACTORY]
    assert main(["export", str(plan), "--to", ",".join(f.value for f in formats)]) == 0
    out, err = capsys.readouterr()
    written = [tmp_path / line for line in out.split()]
    assert all(p.is_file() for p in written)
    expected = {tmp_path / f"p-{f.file_name}" for f in formats}
    assert {p if p.parent == tmp_path else p.parent for p in written} >= expected
    # each as the one-format command writes it
    for fmt in formats:
        one = tmp_path / "one" / fmt.value
        one.mkdir(parents=True)
        target = one / fmt.file_name
        assert main(["export", str(plan), "--to", fmt.value, "-o", str(target)]) == 0
        mine = tmp_path / f"p-{fmt.file_name}"
        if fmt is PEFT:
            assert _texts(_files(target)) == _texts(_files(mine))
        elif fmt is LLAMAFACTORY:  # its dataset_dir names the folder beside the YAML
            assert mine.read_text().replace(str(tmp_path / "p-llamafactory-data"), "D") == \
                target.read_text().replace(str(one / "llamafactory-data"), "D")
        else:
            assert mine.read_text() == target.read_text()
    # a line of several formats' warnings says whose it is
    warned = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warned and all(line.split(": ")[1] in {f.value for f in formats} for line in warned), warned


def test_a_repeated_to_and_a_repeated_name_write_each_format_once(plan, tmp_path, capsys):
    capsys.readouterr()
    assert main(["export", str(plan), "--to", f"{TRL.value},{PEFT.value}", "--to", TRL.value]) == 0
    out = capsys.readouterr().out.split()
    assert out.count(str(tmp_path / f"p-{TRL.file_name}")) == 1
    assert any(line.startswith(str(tmp_path / f"p-{PEFT.file_name}")) for line in out)


def test_o_names_a_folder_that_holds_each_format_under_the_dialogs_names(plan, tmp_path, capsys):
    folder = tmp_path / "exports"  # made, as peft's folder is; the folder above it must be there
    formats = [PEFT, AXOLOTL, LLAMAFACTORY]
    assert main(["export", str(plan), "--to", ",".join(f.value for f in formats), "--output", str(folder)]) == 0
    names = {p.relative_to(folder).parts[0] for p in _files(folder)}
    assert names == {f.file_name for f in formats} | {"llamafactory-data"}
    assert (folder / "llamafactory-data" / "dataset_info.json").is_file()
    assert str(folder / "llamafactory-data") in (folder / LLAMAFACTORY.file_name).read_text()


def test_a_bad_item_is_refused_by_name_and_nothing_is_written(plan, tmp_path, capsys):
    before = _files(tmp_path)
    capsys.readouterr()
    _refused_by_argparse(["export", str(plan), "--to", f"{PEFT.value},axolotol"])
    err = capsys.readouterr().err.strip()
    assert err.startswith("lorplan export: error: --to: unknown format 'axolotol' (choose from ")
    assert err.endswith("(did you mean axolotl?)") and "\n" not in err
    _refused_by_argparse(["export", str(plan), "--to", f"{PEFT.value},"])
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lorplan export: error: --to: '{PEFT.value},' has an empty format name"), err
    assert _files(tmp_path) == before


def test_one_existing_file_writes_none_of_the_formats(plan, tmp_path, capsys):
    taken = tmp_path / f"p-{AXOLOTL.file_name}"
    taken.write_text("# mine\n")
    before = _files(tmp_path)
    capsys.readouterr()
    assert main(["export", str(plan), "--to", f"{TRL.value},{AXOLOTL.value}"]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan export: error: {taken} already exists; pass --force to "
                                               "overwrite it")
    assert _files(tmp_path) == before and taken.read_text() == "# mine\n"


def test_o_naming_a_file_for_several_formats_is_refused(plan, tmp_path, capsys):
    out = tmp_path / "x.yaml"
    out.write_text("# mine\n")
    capsys.readouterr()
    assert main(["export", str(plan), "--to", f"{TRL.value},{AXOLOTL.value}", "-o", str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan export: error: -o {out}: that is a file; with several formats -o names a folder, "
                   f"which holds each format under its own name ({TRL.file_name}, {AXOLOTL.file_name})")
    assert out.read_text() == "# mine\n"


# ---- no abbreviated options ----

def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_no_parser_takes_an_abbreviated_option():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 8  # the top parser, every command and probe's subcommands
    assert [p.prog for p in parsers if p.allow_abbrev] == []


def test_export_refuses_out_and_points_at_output(plan, tmp_path, capsys):
    capsys.readouterr()
    for typed in ("--out", "--ou"):
        _refused_by_argparse(["export", str(plan), "--to", TRL.value, typed, str(tmp_path / "x.yaml")])
        err = capsys.readouterr().err.strip()
        assert err == (f"lorplan export: error: unrecognized arguments: {typed} {tmp_path / 'x.yaml'} "
                       "(did you mean --output?)"), err
    assert not (tmp_path / "x.yaml").exists()
