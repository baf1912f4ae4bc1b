"""The dispatcher: broken pipes end quietly, bad flags exit 2."""

import os
import subprocess
import sys


def test_broken_pipe_is_quiet():
    # `lorplan models | head -1`: the reader is gone before lorplan writes; no traceback may reach the user.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "lorplan", "models"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == 0


def test_unknown_command_exits_2():
    out = subprocess.run([sys.executable, "-m", "lorplan", "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "frobnicate" in out.stderr


def test_argparse_errors_are_one_line_naming_the_flag():
    # Errors raised by argument types and by argparse itself (missing arguments), at every nesting level.
    cases = [
        (["probe", "start", "--ranks", "0"], "--ranks: 0 must be at least 1"),
        (["profile", "--data", "f", "--seq-len", "abc"], "--seq-len: 'abc' is not an integer"),
        (["profile"], "required: --data"),
        (["probe", "cancel"], "required: RUN"),
    ]
    for argv, expected in cases:
        out = subprocess.run([sys.executable, "-m", "lorplan", *argv], capture_output=True, text=True)
        assert out.returncode == 2, argv
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert expected in lines[0] and "argument --" not in lines[0], lines[0]
