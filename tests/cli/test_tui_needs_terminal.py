"""`lorplan` with no command (the planner) off a terminal: with stdout into a file it wrote escape codes there and
waited for keys until killed. Now it exits 2 at once with one line naming the text commands; in a terminal
it opens as before. The TUI's own tests drive the app through Textual's run_test, not this entry."""

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


def test_in_a_terminal_the_planner_opens_and_quits(tmp_path):
    """stdin and stdout on a pseudo-terminal (as the README's `... && lorplan`): the planner draws its screen
    (its title among the escape codes) and ctrl+q quits it with exit 0."""
    import select
    import time

    env = {**_env(tmp_path), "TERM": "xterm-256color", "LINES": "40", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    master, slave = _pty()
    proc = subprocess.Popen([sys.executable, "-m", "lorplan"], stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=tmp_path)
    os.close(slave)
    seen, quit_sent, t0 = b"", False, time.monotonic()
    try:
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            if not quit_sent and "plan a LoRA run" in _plain(seen):  # the screen is up, its title drawn
                time.sleep(0.5)
                os.write(master, b"\x11")  # ctrl+q
                quit_sent = True
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert quit_sent, text[-2000:]
    assert code == 0 and "needs a terminal" not in text and "Traceback" not in text, text[-2000:]


def _plain(raw: bytes) -> str:
    """The text of a terminal stream without its CSI escape sequences."""
    import re

    return re.sub(rb"\x1b\[[0-9;?>$]*[a-zA-Z~]", b"", raw).decode("utf-8", "replace")


def test_a_bad_theme_is_said_before_the_terminal_is_asked_for(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lorplan", "--theme", "nope"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lorplan: error: --theme: unknown theme 'nope'") and proc.stderr.count("\n") == 1


def test_text_commands_still_run_without_a_terminal(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lorplan", "models"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 0 and "sentence-transformers/all-MiniLM-L6-v2" in proc.stdout
