"""`lorplan` with no command (the planner) off a terminal: with stdout into a file it wrote escape codes there and
waited for keys until killed. Now it exits 2 at once with one line naming the text commands; in a terminal
it goes on as before (here: as far as its --theme check, which comes after the terminal check)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

LINE = ("lorplan: error: the planner needs a terminal ({away}); without one use the text commands: lorplan plan, "
        "lorplan recommend (lorplan --help lists them all)\n")


def _env(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "HF_HUB_OFFLINE": "1"}
    env.pop("TEXTUAL_DRIVER", None)
    return env


@pytest.mark.parametrize("argv", [[], ["--model", "nope/xyz"], ["--theme", "light"]])
def test_output_into_a_file_exits_2_with_one_line_and_writes_nothing(tmp_path, argv):
    out = tmp_path / "f"
    with open(out, "wb") as fh:
        proc = subprocess.run([sys.executable, "-m", "lorplan", *argv], stdin=subprocess.DEVNULL, stdout=fh,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == LINE.format(away="stdin and stdout are not one")
    assert out.read_bytes() == b""


def _pty():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return master, slave


def test_a_terminal_on_stdin_but_a_pipe_on_stdout_names_stdout(tmp_path):
    master, slave = _pty()
    try:
        proc = subprocess.run([sys.executable, "-m", "lorplan"], stdin=slave, capture_output=True, text=True,
                              env=_env(tmp_path), timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == LINE.format(away="stdout is not one")


def test_in_a_terminal_the_planner_goes_past_the_check(tmp_path):
    """stdin and stdout on a pseudo-terminal: the terminal check lets it through, and the next check (an
    unknown --theme, said before the app starts) is what stops it."""
    master, slave = _pty()
    try:
        proc = subprocess.run([sys.executable, "-m", "lorplan", "--theme", "nope"], stdin=slave, stdout=slave,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path), timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lorplan: error: --theme: unknown theme 'nope'"), proc.stderr
    assert "needs a terminal" not in proc.stderr


def test_text_commands_still_run_without_a_terminal(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lorplan", "models"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 0 and "sentence-transformers/all-MiniLM-L6-v2" in proc.stdout
