"""Odd files where lorplan reads a plan or writes one (a bad-input audit of every subcommand): each is refused in
one line naming the input, exit 2, never a traceback, and nothing the user had is replaced."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from tests.cli.test_input_edges import _run

QWEN = "Qwen/Qwen3-8B"


@pytest.fixture
def plan_file(tmp_path, capsys, state_home):
    """A plan for a catalog model (no weights needed to export it), written by `lorplan plan --write`."""
    path = tmp_path / "plan.toml"
    assert main(["plan", "--model", QWEN, "--rank", "8", "--write", str(path)]) == 0
    capsys.readouterr()
    return path


def _refused(capsys, argv, expected):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, rc, err)
    assert expected in err, (argv, err)
    return out, err


# 1. an integer of more than 4,300 digits in a plan: tomllib's int() raised ValueError ("Exceeds the limit (4300
#    digits) for integer string conversion"), which is no TOMLDecodeError: a traceback from export and train


@pytest.mark.parametrize("command", [["export", "--to", "peft"], ["train"]])
def test_an_integer_too_long_to_read_in_a_plan_is_refused_naming_the_file(tmp_path, capsys, command, state_home):
    plan = tmp_path / "huge.toml"
    plan.write_text("version = " + "9" * 5000 + "\n")
    _refused(capsys, [*command, str(plan)],
             f"{plan}: not valid TOML (line 1: an integer of more than 4,300 digits, more than Python reads)")
