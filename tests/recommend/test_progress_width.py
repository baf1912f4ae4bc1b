"""`lorplan recommend`'s progress on stderr (what each ended probe measured, the ladder's start and re-attach
lines, the notes) on a terminal narrower than a line: wrapped at its width as the tables on stdout are fitted,
a re-attach command kept on one line; into a file or a pipe every line is written whole, as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pty_output import run_in_pty

from lorplan.cli.recommend import _probe_line

RUN_ID = "20261205-064647-cb0a"
LADDER = {"state": "done", "learning_rate": 1e-3, "seeds": [0, 1], "probes": [
    {"id": "base", "rank": 0, "lr": None, "seed": None, "state": "finished", "step": 0, "curve": [[0, 2.3026]]},
    {"id": "r16-s0", "rank": 16, "lr": 1e-3, "seed": 0, "state": "finished", "step": 100, "curve": [[100, 0.2612]],
     "eval_accuracy": 0.991, "train_seconds": 12.3},
    {"id": "r16-lr3-s1", "rank": 16, "lr": 3e-3, "seed": 1, "state": "finished", "step": 100,
     "curve": [[100, 0.2484]], "eval_accuracy": 0.987, "train_seconds": 12.9},
    {"id": "r32-s1", "rank": 32, "lr": 1e-3, "seed": 1, "state": "oom", "step": 3, "curve": []},
]}
# the ladder waited for (its probe lines), then the line a started ladder prints with the command to re-attach
SCRIPT = f"""
import sys, types
from pathlib import Path
from lorplan.cli.recommend import _wait, reattach_command, say
args = types.SimpleNamespace(json=False, write=None, trust_remote_code=False)
_wait(types.SimpleNamespace(path=Path(sys.argv[1]), id={RUN_ID!r}), args=args)
command = reattach_command(args, {RUN_ID!r})
say(f"probe ladder {RUN_ID}: 15 probes to start with, in the background; if this terminal goes away, "
    f"`{{command}}` picks it up again", whole=(command,))
"""
COMMAND = f"lorplan recommend --run {RUN_ID} --wait"


def _argv(tmp_path) -> list[str]:
    (tmp_path / "recommendation.json").write_text(json.dumps(LADDER))
    return [sys.executable, "-c", SCRIPT, str(tmp_path)]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def test_piped_progress_lines_are_written_whole(tmp_path):
    proc = subprocess.run(_argv(tmp_path), env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[:-1] == [_probe_line(p, LADDER) for p in LADDER["probes"]]
    assert max(map(len, lines)) > 79  # lines longer than the terminal below
    assert lines[-1].endswith(f"terminal goes away, `{COMMAND}` picks it up again")


def test_progress_lines_on_a_narrow_terminal_wrap_at_its_width(tmp_path):
    argv = _argv(tmp_path)
    piped = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=120).stderr
    rc, text = run_in_pty(argv, stream="stderr", columns=60, env=_env(), timeout=120)
    assert rc == 0, text
    lines = text.replace("\r\n", "\n").splitlines()
    assert max(map(len, lines)) <= 59, text
    assert text.split() == piped.split()  # every word, in order
    assert len(lines) > len(piped.splitlines())
    # a probe's line goes on under its first, indented past the two spaces that lead each probe's line
    first = next(i for i, ln in enumerate(lines) if ln.startswith("  rank 16 lr 0.003 seed 1:"))
    assert lines[first + 1].startswith("      ") and not lines[first + 1].startswith("       ")
    assert any(f"`{COMMAND}`" in ln for ln in lines), text  # the command to copy, on one line


def test_a_probes_training_time_is_not_split_from_its_unit(tmp_path):
    # an 80-column terminal broke `lorplan recommend --data sentiment.jsonl`'s line after "28.1", leaving "s training"
    # to start the next row
    ladder = {"state": "done", "learning_rate": 3e-3, "seeds": [0, 1], "probes": [
        {"id": "r16-lr1", "rank": 16, "lr": 1e-3, "seed": 0, "state": "finished", "step": 57,
         "curve": [[57, 0.0014]], "eval_accuracy": 1.0, "train_seconds": 28.1},
        {"id": "r16", "rank": 16, "lr": 3e-3, "seed": 0, "state": "finished", "step": 57,
         "curve": [[57, 0.0016]], "eval_accuracy": 1.0, "train_seconds": 27.6}]}
    (tmp_path / "recommendation.json").write_text(json.dumps(ladder))
    # 88 columns: each line's "28.1" ends at the 87th column, where the line must break (seeds [0, 1] add " seed 0")
    rc, text = run_in_pty([sys.executable, "-c", SCRIPT, str(tmp_path)], stream="stderr", columns=88, env=_env(),
                          timeout=120)
    assert rc == 0, text
    lines = text.replace("\r\n", "\n").splitlines()
    assert max(map(len, lines)) <= 87, text
    assert sum("28.1 s training" in ln for ln in lines) == 1, text
    assert sum("27.6 s training" in ln for ln in lines) == 1, text
