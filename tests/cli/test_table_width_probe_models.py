"""`lorplan models` (97 columns: a MoE's "(128 experts)" after a 38-column id) and `lorplan probe status` / `list`
(a probe table of 99 columns with lr × seed ids, a by-rank comparison of 93 with intervals, list's lines of 119)
fit a terminal narrower than them, as plan, profile and recommend do (core.columns): each column as wide as its
widest cell, what does not fit in a second table led by the key column (the model, the probe, the rank); every
cell stays. Output to a pipe keeps the wide layout byte for byte."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pty_output import piped_and_in_terminal

LORPLAN = [sys.executable, "-m", "lorplan"]
RUN = "20261205-120000-abcd"


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "XDG_CONFIG_HOME": str(tmp_path),
            "XDG_STATE_HOME": str(tmp_path / "state")}


def _piped(argv, tmp_path) -> str:
    return piped_and_in_terminal(argv, cwd=tmp_path, env=_env(tmp_path))


def _terminal(argv, tmp_path, columns: int) -> str:
    return piped_and_in_terminal(argv, cwd=tmp_path, env=_env(tmp_path), columns=columns)


def _probe_run(tmp_path: Path) -> None:
    """A run on disk: ranks 4, 16, 64 × two learning rates × two seeds; one out of memory (with its message),
    the last two cancelled (none queued: status would start a scheduler for them), the rest finished."""
    from lorplan.probe import runner
    from lorplan.probe.events import append_event
    from lorplan.probe.runs import atomic_write_json, create_run

    run = create_run(runner.make_plan((4, 16, 64), (1e-4, 3e-4), seeds=(0, 1), steps=10, device="cpu", run=RUN,
                                      model="meta-llama/Llama-3.1-8B-Instruct"), tmp_path / "state/lorplan/runs")
    for i, probe in enumerate(runner.status(run).probes):
        if i == 3:
            atomic_write_json(run.result_path(probe.id), {
                "state": "oom", "step": 0,
                "message": "does not fit at micro-batch 1: CUDA out of memory, tried to allocate 2.00 GiB"})
        elif i >= 10:
            atomic_write_json(run.result_path(probe.id), {"state": "cancelled", "step": 0})
        else:
            append_event(run.events_path(probe.id), {"type": "started", "load_seconds": 4.0, "device": "cpu"})
            atomic_write_json(run.result_path(probe.id), {
                "state": "finished", "step": 10, "eval_loss": 1.5 - 0.01 * i, "eval_accuracy": 0.8 + 0.01 * i,
                "tokens_per_second": 1234.0, "peak_memory_bytes": 1536 * 2**20, "wall_seconds": 7.0,
                "load_seconds": 4.0, "train_seconds": 2.5})


def _cells(text: str, keys: list[str]) -> dict[str, list[str]]:
    """Every word of the lines that start with one of `keys`, per key, across the tables they are in."""
    cells: dict[str, list[str]] = {}
    for ln in text.splitlines():
        words = ln.split()
        if words and words[0] in keys:
            cells.setdefault(words[0], []).extend(words[1:])
    return cells


def test_models_fits_80_columns_with_every_cell_and_a_pipe_keeps_the_wide_table(tmp_path):
    argv = [*LORPLAN, "models"]
    piped = _piped(argv, tmp_path)
    assert max(map(len, piped.splitlines())) > 90 and "(128 experts)" in piped  # the wide layout, as before
    narrow = _terminal(argv, tmp_path, 80)
    assert max(map(len, narrow.splitlines())) <= 79, narrow
    ids = [ln.split()[0] for ln in piped.splitlines()[1:] if ln.strip()]
    wide, fitted = _cells(piped, ids), _cells(narrow, ids)
    assert list(fitted) == ids
    for model, words in wide.items():  # family, params, layers, hidden, context, experts, on disk
        assert sorted(w.strip("()") for w in fitted[model]) == sorted(w.strip("()") for w in words), model
    assert narrow.splitlines()[0].split()[0] == "model"
    assert _terminal(argv, tmp_path, 200) == piped  # a terminal wider than the table prints what a pipe gets


def test_probe_status_and_list_fit_80_columns_and_a_pipe_keeps_the_wide_tables(tmp_path):
    _probe_run(tmp_path)
    status, listing = [*LORPLAN, "probe", "status", RUN], [*LORPLAN, "probe", "list"]
    piped = _piped(status, tmp_path)
    assert max(map(len, piped.splitlines())) > 90
    narrow = _terminal(status, tmp_path, 80)
    assert max(map(len, narrow.splitlines())) <= 79, narrow
    ids = [ln.split()[0] for ln in piped.splitlines() if ln.startswith("r") and "-lr" in ln.split()[0]]
    assert len(ids) == 12
    wide, fitted = _cells(piped, ids), _cells(narrow, ids)
    assert list(fitted) == ids
    for probe, words in wide.items():
        assert sorted(fitted[probe]) == sorted(words), (probe, narrow)
    # the out-of-memory message is said, with its probe, under the table: the same words
    assert "does not fit at micro-batch 1: CUDA out of memory" in " ".join(narrow.split())
    ranks = _cells(piped[piped.index("by rank"):], ["4", "16", "64"])
    narrow_ranks = _cells(narrow[narrow.index("by rank"):], ["4", "16", "64"])
    for rank, words in ranks.items():  # every mean, interval, time and memory, each rank's rows across tables
        assert set(words) <= set(narrow_ranks[rank]), (rank, narrow)
    assert _terminal(status, tmp_path, 200) == piped

    piped = _piped(listing, tmp_path)
    assert max(map(len, piped.splitlines())) > 80
    narrow = _terminal(listing, tmp_path, 80)
    assert max(map(len, narrow.splitlines())) <= 79, narrow
    assert narrow.split() == piped.split()  # the same words, the line broken
    assert _terminal(listing, tmp_path, 200) == piped


@pytest.mark.parametrize("columns", [60, 100])
def test_models_at_other_widths_keeps_every_model(tmp_path, columns):
    narrow = _terminal([*LORPLAN, "models", "--search", "qwen3"], tmp_path, columns)
    lines = narrow.splitlines()
    assert all(len(ln) < columns for ln in lines), narrow
    assert "Qwen/Qwen3-30B-A3B" in narrow and "128" in narrow and "experts" in narrow
