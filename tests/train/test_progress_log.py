"""`lorplan train PLAN 2>log`: off a terminal the progress bar is not drawn (every redraw would be kept in the
file); a plain progress line is printed at each logging step instead. On a terminal (a real pseudo-terminal
here) the bar is drawn and no plain lines are."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from pty_output import run_in_pty

from lorplan.cli import main
from lorplan.train.engine import StepStats
from lorplan.train.runner import progress_line

from .test_train import tiny_plan

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    env.pop("TRANSFORMERS_VERBOSITY", None)
    return env


def test_progress_line_says_step_total_loss_lr_epoch_and_time():
    """The epoch is the epochs done, rounded down (tests/train/test_log_counts.py: it said the 0-based pass)."""
    s = StepStats(step=20, loss=0.41274, lr=7.1e-4, epoch=0, tokens=100, seconds=0.5, micro_batch=2, seq_len=48)
    assert progress_line(s, 57, Fraction(20, 57), 17.4) == (
        "training: step 20/57, loss 0.4127, lr 7.10e-04, epoch 0.35, 17 s")
    assert ", epoch 0.99, " in progress_line(s, 57, Fraction(999, 1000), 1.0)  # not yet a whole epoch
    assert ", epoch 3.00, " in progress_line(s, 57, Fraction(3), 1.0)


def test_stderr_into_a_file_gets_plain_progress_lines_not_bar_frames(tmp_path, tiny_llama):
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=5, save_steps=100, logging_steps=2)
    log = tmp_path / "log"
    with open(log, "w") as err:
        proc = subprocess.run([sys.executable, "-m", "lorplan", "train", str(plan)], cwd=tmp_path,
                              env=_env(tmp_path), stdout=subprocess.PIPE, stderr=err, text=True, timeout=300)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text and "%|" not in text, text
    steps = [line for line in text.splitlines() if line.startswith("training: step ")]
    # every logging step (2, 4) and the last step (5), as log.jsonl records them
    assert [line.split(",")[0] for line in steps] == ["training: step 2/5", "training: step 4/5",
                                                      "training: step 5/5"], text
    assert all(", loss " in line and ", lr " in line and line.endswith(" s") for line in steps), steps


def test_no_progress_prints_no_progress_lines(tmp_path, tiny_llama, monkeypatch, capfd):
    """In this process (a child's start and imports saved): its stdout and stderr are pytest's files, not a
    terminal, where without --no-progress the plain lines would be printed; capfd reads file descriptors 1 and 2
    as well as sys.stdout and sys.stderr."""
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=100, logging_steps=1)
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    assert main(["train", str(plan), "--no-progress"]) == 0
    said = capfd.readouterr()
    assert "adapter saved to" in said.out, said  # it trained, and said so
    assert "training:" not in said.out + said.err, said.err


def test_stderr_on_a_terminal_gets_the_bar(tmp_path, tiny_llama):
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=3, save_steps=100, logging_steps=1)
    rc, text = run_in_pty([sys.executable, "-m", "lorplan", "train", str(plan)], stream="stderr", cwd=tmp_path,
                          env=_env(tmp_path))
    assert rc == 0
    assert "training:" in text and "3/3" in text and "\r" in text, text  # tqdm's bar, redrawn in place
    assert "training: step " not in text, text
