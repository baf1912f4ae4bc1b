"""Printed sentences wrap at the terminal's width when it is narrower than 110 columns: an 80-column SSH window
wrapped every line of `lorplan recommend`'s evidence in two. Output to a pipe keeps 110 columns."""

from __future__ import annotations

import os
import subprocess
import sys

from pty_output import run_in_pty

ARGS = [sys.executable, "-m", "lorplan", "recommend", "--model", "all-MiniLM-L6-v2", "--examples", "900",
        "--num-labels", "6"]


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "HF_HUB_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}


def _in_terminal(tmp_path, columns: int) -> str:
    rc, text = run_in_pty(ARGS, columns=columns, cwd=tmp_path, env=_env(tmp_path), timeout=120)
    assert rc == 0
    return text.replace("\r\n", "\n")


def _evidence(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("evidence") + 1:]


def test_evidence_wraps_at_a_narrow_terminal_and_at_110_columns_in_a_pipe(tmp_path):
    piped = subprocess.run(ARGS, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    wide = _evidence(piped.stdout)
    assert max(map(len, wide)) > 80 and max(map(len, wide)) <= 110  # the pipe's lines reach past 80 columns
    narrow = _evidence(_in_terminal(tmp_path, 80))
    assert narrow and max(map(len, narrow)) <= 79, narrow
    # the same words, wrapped differently
    assert " ".join(" ".join(narrow).split()) == " ".join(" ".join(wide).split())
    # a terminal wider than 110 columns keeps 110 (long lines are hard to read)
    assert _evidence(_in_terminal(tmp_path, 200)) == wide
