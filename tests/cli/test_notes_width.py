"""The `note:` lines `lorplan plan --write` and `lorplan train` print on stderr were printed whole on a terminal
narrower than them (a padding note of 200 characters ran over three rows, broken mid-word), while `lorplan
recommend`'s wrap (cli._common.say): now they wrap at stderr's width, a path never broken; into a file or a pipe
every line is byte for byte what it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pty_output import run_in_pty

COLUMNS = 60


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "XDG_CONFIG_HOME": str(tmp_path),
            "XDG_STATE_HOME": str(tmp_path), "TOKENIZERS_PARALLELISM": "false"}


def _piped_and_narrow(tmp_path, piped_args: list[str], narrow_args: list[str]) -> tuple[str, list[str]]:
    """(stderr into a pipe, stderr's rows on a 60-column terminal) of two runs of lorplan."""
    env = _env(tmp_path)
    piped = subprocess.run([sys.executable, "-m", "lorplan", *piped_args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    rc, text = run_in_pty([sys.executable, "-m", "lorplan", *narrow_args], stream="stderr", columns=COLUMNS,
                          cwd=tmp_path, env=env, timeout=300)
    assert rc == 0, text
    return piped.stderr, text.replace("\r\n", "\n").splitlines()


def _check(piped: str, rows: list[str], *whole: str) -> None:
    assert max(map(len, piped.splitlines())) >= COLUMNS  # a note longer than the terminal
    assert max(map(len, rows)) < COLUMNS, rows
    assert "\n".join(rows).split() == piped.split()  # every word, in order
    assert len(rows) > len(piped.splitlines())
    for word in whole:  # a path or a flag stays whole on its row
        assert any(word in row.split() or f"{word}:" in row.split() for row in rows), (word, rows)


def test_plan_writes_notes_wrapped_on_a_narrow_terminal_and_whole_into_a_pipe(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n{broken\n")
    flags = ["plan", "--model", "meta-llama/Llama-3.2-1B", "--rank", "8", "--seq-len", "1024", "--micro-batch",
             "4", "--data", "d.jsonl", "--write"]
    piped, rows = _piped_and_narrow(tmp_path, [*flags, "a.toml"], [*flags, "b.toml"])
    notes = piped.splitlines()
    assert [n.split(" ")[0] for n in notes] == ["note:", "note:"], piped  # the skipped row, the padding mask
    assert notes[1].startswith("note: lorplan train right-pads batches") and len(notes[1]) > 2 * COLUMNS
    _check(piped, rows, "d.jsonl", "--padding-mask")


@pytest.mark.slow
def test_train_writes_notes_wrapped_on_a_narrow_terminal_and_whole_into_a_pipe(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": i % 2}) + "\n" for i in range(8)) + "{broken\n")
    env = _env(tmp_path)
    assert subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", "all-MiniLM-L6-v2", "--rank", "2",
                           "--seq-len", "16", "--data", "d.jsonl", "--write", "p.toml"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120).returncode == 0
    train = ["train", "p.toml", "--max-steps", "1", "--no-progress", "--output"]
    piped, rows = _piped_and_narrow(tmp_path, [*train, "a"], [*train, "b"])
    notes = [line for line in piped.splitlines() if line.startswith("note: ")]
    # the input checks' (cli.train) and the engine's (train.runner): the skipped row, the new head
    assert any(n.startswith("note: p.toml: data.path d.jsonl: 1 row") for n in notes), piped
    assert any("trained from scratch" in n for n in notes), piped
    _check(piped, rows, "p.toml:", "d.jsonl:")


def test_plan_write_says_what_it_wrote_before_its_notes(tmp_path):
    """The notes were printed while the plan was being built, so a terminal showed them before `wrote PATH`,
    notes about a plan not yet named; now `wrote PATH` and its data line come first (stdout flushed), then the
    notes on stderr."""
    (tmp_path / "d.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n{broken\n")
    proc = subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", "meta-llama/Llama-3.2-1B", "--rank",
                           "8", "--seq-len", "1024", "--micro-batch", "4", "--data", "d.jsonl", "--write", "p.toml"],
                          cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["wrote", "data", "note:", "note:"], lines
    assert lines[0] == "wrote p.toml" and lines[2].startswith("note: --data d.jsonl: 1 row skipped")
    assert lines[3].startswith("note: lorplan train right-pads batches")
