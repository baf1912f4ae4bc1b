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


# 2. a symbolic link to nothing (a dangling link, a link loop) where the output goes: Path.exists() follows the
#    link and said "not there", so the write replaced the user's link with a file, without --force


@pytest.mark.parametrize("loop", [False, True])
def test_an_export_or_plan_onto_a_link_to_nothing_needs_force(tmp_path, capsys, plan_file, loop):
    link = tmp_path / "out.yaml"
    if loop:
        (tmp_path / "other").symlink_to(link)
        link.symlink_to(tmp_path / "other")
    else:
        link.symlink_to(tmp_path / "unmounted" / "out.yaml")
    target = str(link.readlink())
    _refused(capsys, ["export", "--to", "axolotl", str(plan_file), "-o", str(link)],
             f"{link} already exists (a link to {target}, which is not there); pass --force to overwrite it")
    _refused(capsys, ["plan", "--model", QWEN, "--rank", "8", "--write", str(link)],
             f"--write {link}: that file already exists (a link to {target}, which is not there); "
             "pass --force to overwrite it")
    assert link.is_symlink() and str(link.readlink()) == target  # the link is as it was
    rc, _, err = _run(capsys, "export", "--to", "axolotl", str(plan_file), "-o", str(link), "--force")
    assert rc == 0 and link.is_file() and not link.is_symlink(), err


# 3. a named pipe (or a device) given as the plan: read_plan read it to its end, so with no writer at the other end
#    export and train waited forever, and /dev/null read as an empty plan (five lines of missing tables)


@pytest.mark.parametrize("command", [["export", "--to", "peft"], ["train"]])
def test_a_named_pipe_or_a_device_as_the_plan_is_refused_without_waiting(tmp_path, command, state_home):
    import os
    import subprocess
    import sys

    pipe = tmp_path / "plan.toml"
    os.mkfifo(pipe)
    for path, kind in ((str(pipe), "a named pipe"), ("/dev/null", "a device")):
        proc = subprocess.run([sys.executable, "-m", "lorplan", *command, path], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        prog = f"lorplan {command[0]}"
        assert proc.returncode == 2 and proc.stderr == f"{prog}: error: {path}: {kind}, not a plan file (give the " \
                                                       "plan's .toml file)\n", proc.stderr


# 4. a file (or a pipe) named as peft's -o, whose export is a folder: the folder could not be made there, and the
#    refusal was "FILE/adapter_config.json: cannot write there (File exists)", naming neither the flag nor the fault


@pytest.mark.parametrize("kind", ["file", "named pipe", "device", "socket"])
def test_a_file_as_peft_output_folder_is_refused_naming_the_flag(tmp_path, capsys, plan_file, kind):
    import os
    import socket
    import tempfile

    out = tmp_path / "adapter"
    with tempfile.TemporaryDirectory(dir="/tmp") as short, socket.socket(socket.AF_UNIX) as sock:
        if kind == "file":
            out.write_text("mine\n")
        elif kind == "named pipe":
            os.mkfifo(out)
        elif kind == "device":
            out = "/dev/null"
        else:  # named by lorplan.core.filekind as the plan reader names it (this said "a file")
            out = os.path.join(short, "s")  # an AF_UNIX name is at most 107 bytes
            sock.bind(out)
        # worded as a one-file export's -o naming a folder is ("-o X: that is a folder; give a file name, ...")
        _refused(capsys, ["export", "--to", "peft", str(plan_file), "-o", str(out)],
                 f"lorplan export: error: -o {out}: that is a {kind}; give a folder name (--to peft writes a folder, "
                 "adapter_config.json in it)\n")
    assert kind != "file" or out.read_text() == "mine\n"
