"""Every command lorplan prints for the user to paste carries a user's path so that lorplan's own parser reads
it back as the same path. `--write -x.toml` (a file whose name starts with a minus, given as --write=-x.toml)
was printed as `lorplan recommend --run RUN --wait --write -x.toml`, which argparse reads as --write with no
value ("expected one argument"); a --data path with a space was printed unquoted in the skipped-rows note.
Each printed command is split as a shell would and parsed by lorplan.cli's real parser."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from lorplan.cli import build_parser, main
from lorplan.cli import recommend as cli
from lorplan.cli._common import skipped_note

PATHS = ("-x.toml", "-5.toml", "my plan.toml", "--force.toml", "plan.toml")
RUN_ID = "20240101-000000-abcd"


def parse(command: str):
    """The pasted command, split as a shell splits it, through lorplan's parser (argparse's error: SystemExit)."""
    words = shlex.split(command)
    assert words[0] == "lorplan"
    return build_parser().parse_args(words[1:])


def started(*extra: str):
    return build_parser().parse_args(["recommend", "--model", "m", "--data", "d.jsonl", *extra])


@pytest.mark.parametrize("path", PATHS)
def test_reattach_command_reads_back_the_same_write_path(path, capsys):
    args = started(f"--write={path}", "--force", "--json")
    assert args.write == path
    back = parse(cli.reattach_command(args, RUN_ID))
    assert (back.run_id, back.wait, back.write, back.force, back.json) == (RUN_ID, True, path, True, True)


@pytest.mark.parametrize("path", PATHS)
def test_write_failed_command_reads_back_the_same_write_path(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / path).write_text("made meanwhile\n")  # the file another program made while the ladder ran
    args = started(f"--write={path}", "--apply-pattern")
    line = cli._write_failed(args, RUN_ID, f"{path} already exists; pass --force to overwrite it")
    back = parse(line.split("`")[1])
    assert (back.run_id, back.write, back.force, back.apply_pattern) == (RUN_ID, path, True, True)


@pytest.mark.parametrize("path", ("-d.jsonl", "my data.jsonl", "data.jsonl"))
def test_skipped_rows_note_reads_back_the_same_data_path(path):
    line = skipped_note(f"--data {path}", path, 2, 10, "line 3: not JSON", "the recommendation counts")
    back = parse(line.split("`")[1])
    assert (back.command, back.data) == ("profile", path)


@pytest.mark.parametrize("written", ("~/d.jsonl", "d.jsonl"))
def test_train_skipped_rows_note_names_the_file_train_read(written, tmp_path, monkeypatch):
    """`lorplan train PLAN` reads a plan's data.path with `~` expanded, and a relative one beside the plan when the
    working folder has none (train.paths.resolve_path): the note's command named the path as the plan writes it,
    which shlex quoting (8098022) leaves unexpanded ('~/d.jsonl' is no file to `lorplan profile`) and which from
    another working folder is no file either."""
    from model_builders import tiny_bert

    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan

    home, plans, elsewhere = tmp_path / "home", tmp_path / "plans", tmp_path / "elsewhere"
    for folder in (home, plans, elsewhere):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    data = (home if written.startswith("~") else plans) / "d.jsonl"
    rows = [json.dumps({"text": f"row number {i}", "label": i % 2}) for i in range(40)]
    rows[2] = "not json at all"
    data.write_text("\n".join(rows) + "\n")
    model = tiny_bert(tmp_path / "bert", head=2)
    plan = plans / "p.toml"
    assert main(["plan", "--model", str(model), "--rank", "2", "--data", str(data), "--write", str(plan)]) == 0
    plan.write_text(plan.read_text().replace(f"path = {json.dumps(str(data))}", f"path = {json.dumps(written)}", 1))
    monkeypatch.chdir(elsewhere)
    _, notes = check_inputs(read_plan(str(plan)), str(plan), str(tmp_path / "out"), False)
    (note,) = [n for n in notes if "skipped" in n]
    back = parse(note.split("`")[1])
    assert back.command == "profile" and Path(back.data).resolve() == data.resolve(), note


def test_a_narrow_terminal_keeps_the_skipped_rows_command_on_one_row(tmp_path, monkeypatch, capsys):
    """say() wrapped the note at any space, the one inside the quoted path too: `lorplan profile --data '/a
    b/d.jsonl'` pasted from two rows names a path holding a line break and an indent."""
    from model_builders import tiny_bert

    import lorplan.core.units as units

    folder = tmp_path / "my data"
    folder.mkdir()
    data = folder / "d.jsonl"
    rows = [json.dumps({"text": f"row number {i}", "label": i % 2}) for i in range(40)]
    rows[2] = "not json at all"
    data.write_text("\n".join(rows) + "\n")
    model = tiny_bert(tmp_path / "bert", head=2)
    monkeypatch.setattr(units, "stderr_limit", lambda: 60)  # a terminal 61 columns wide
    assert main(["plan", "--model", str(model), "--rank", "2", "--data", str(data), "--write",
                 str(tmp_path / "p.toml")]) == 0
    command = shlex.join(["lorplan", "profile", "--data", str(data)])
    err = capsys.readouterr().err
    assert any(command in line for line in err.splitlines()), err
