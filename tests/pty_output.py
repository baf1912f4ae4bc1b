"""Run a command with one of its output streams on a real pseudo-terminal (of a chosen width) and read what it
wrote there: how the tests see what a user's terminal would show."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios


def run_in_pty(argv: list[str], *, stream: str = "stdout", columns: int = 120, rows: int = 40,
               timeout: float = 300, **popen) -> tuple[int, str]:
    """(exit code, text written to the terminal) of `argv` with `stream` ("stdout" or "stderr") on a
    pseudo-terminal of columns × rows (a new one is 0 columns wide) and the other stream discarded."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    other = "stderr" if stream == "stdout" else "stdout"
    try:
        proc = subprocess.Popen(argv, **{stream: slave, other: subprocess.DEVNULL}, **popen)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal's last handle
                break
            if not chunk:
                break
            chunks.append(chunk)
        rc = proc.wait(timeout=timeout)
    finally:
        os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def piped_and_in_terminal(argv: list[str], *, cwd, env: dict, columns: int | None = None,
                          timeout: float = 120) -> str:
    """What `argv` writes to its standard output when that is a pipe (`columns` None) or a terminal `columns`
    wide (line ends as a file would hold them); it must exit 0."""
    if columns is None:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    rc, text = run_in_pty(argv, columns=columns, cwd=cwd, env=env, timeout=timeout)
    assert rc == 0, text
    return text.replace("\r\n", "\n")
