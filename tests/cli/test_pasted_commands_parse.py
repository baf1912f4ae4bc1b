"""Every command lorplan prints for the user to paste carries a user's path so that lorplan's own parser reads
it back as the same path. `--write -x.toml` (a file whose name starts with a minus, given as --write=-x.toml)
was printed as `lorplan recommend --run RUN --wait --write -x.toml`, which argparse reads as --write with no
value ("expected one argument"); a --data path with a space was printed unquoted in the skipped-rows note.
Each printed command is split as a shell would and parsed by lorplan.cli's real parser."""

from __future__ import annotations

import shlex

import pytest

from lorplan.cli import build_parser
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
