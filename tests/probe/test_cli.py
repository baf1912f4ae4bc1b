"""`lorplan probe` subcommands that need no training process: bad input, empty state, cancel, list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.demo import DEMO_LEARNING_RATE, DEMO_SEQ_LEN
from lorplan.probe.runs import RunDir, create_run


def test_bad_inputs_are_one_line_exit_2(state_home, capsys, tmp_path):
    assert main(["probe", "start", "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["probe", "start", "--model", str(tmp_path), "--ranks", "4"]) == 2
    assert "--data: give your dataset with --model" in capsys.readouterr().err
    assert main(["probe", "start", "--model", "nobody/not-cached", "--data", __file__]) == 2
    assert "not in the local Hugging Face cache" in capsys.readouterr().err
    assert main(["probe", "status"]) == 2
    assert "no probe runs" in capsys.readouterr().err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


def test_list_cancel_and_status_of_a_prepared_run(state_home, capsys):
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []
    run = create_run(runner.make_plan((4, 8), steps=5, device="cpu", run="20260101-000000-aaaa"), state_home)
    assert main(["probe", "cancel", "20260101", "--rank", "8"]) == 0
    assert "cancelled r8" in capsys.readouterr().out
    assert main(["probe", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["runs"]
    assert row["run"] == run.id and row["ranks"] == [4, 8] and row["counts"] == {"queued": 1, "cancelled": 1}
    assert main(["probe", "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert [(p["rank"], p["state"]) for p in st["probes"]] == [(4, "queued"), (8, "cancelled")]
    assert main(["probe", "cancel", run.id, "--rank", "32"]) == 2
    assert "--rank 32" in capsys.readouterr().err
    assert main(["probe", "status"]) == 0
    assert "r8" in capsys.readouterr().out


def test_start_records_train_on_in_the_run(state_home, capsys, tiny_llama, tmp_path):
    data = tmp_path / "pc.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(30)))
    assert main(["probe", "start", "--model", str(tiny_llama), "--data", str(data), "--ranks", "4", "--steps", "2",
                 "--device", "cpu", "--train-on", "all", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    try:
        assert RunDir(Path(started["path"])).plan().train_on == "all"
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
    capsys.readouterr()
    assert main(["probe", "start", "--ranks", "4", "--steps", "2", "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    try:
        plan = RunDir(Path(started["path"])).plan()
        # no data: the demo, at its own learning rate and row length (lorplan.probe.demo)
        assert plan.probes[0].lr == DEMO_LEARNING_RATE and plan.seq_len == DEMO_SEQ_LEN
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
    with pytest.raises(SystemExit) as exited:
        main(["probe", "start", "--train-on", "prompts"])
    assert exited.value.code == 2 and "--train-on: invalid choice" in capsys.readouterr().err


def test_start_refuses_causal_lm_flags_for_a_classifier(state_home, capsys, tmp_path):
    """--train-on and --packing choose a causal LM's tokens; probes that classify (the demo, or labelled rows
    on the shipped MiniLM) took them and trained exactly as without them."""
    labelled = tmp_path / "labels.jsonl"
    labelled.write_text("".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(40)))
    for argv, said in (
        (["--train-on", "all"], "--train-on all: the probes classify the demo's rows, one label per example; "
         "--train-on is for a causal LM's tokens"),
        (["--packing"], "--packing: the probes classify the demo's rows"),
        (["--data", str(labelled), "--packing"], f"--packing: the probes classify the labelled rows of {labelled}"),
        (["--data", str(labelled), "--train-on", "completion"], "--train-on completion: the probes classify"),
    ):
        assert main(["probe", "start", "--ranks", "4", "--steps", "2", "--device", "cpu", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lorplan probe start: error: {said}") and len(err.strip().splitlines()) == 1, err
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []  # no run was created


def test_start_names_the_shipped_model_and_refuses_one_without_weights(state_home, capsys, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello", "label": 1}\n{"text": "bye", "label": 0}\n' * 2)
    assert main(["probe", "start", "--model", "gpt2", "--data", str(data), "--ranks", "4"]) == 2
    err = capsys.readouterr().err
    assert "model gpt2 is not on disk" in err and "hf download openai-community/gpt2" in err
    assert main(["probe", "start", "--model", "qwen2.5-7b", "--data", str(data)]) == 2  # resolved, not on disk
    assert "model qwen2.5-7b is not on disk" in capsys.readouterr().err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started
    assert main(["probe", "start", "--model", "all-MiniLM-L6-v2", "--data", str(data), "--ranks", "4", "--steps",
                 "2", "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    try:
        plan = RunDir(Path(started["path"])).plan()
        assert plan.model == "sentence-transformers/all-MiniLM-L6-v2"
        assert plan.probes[0].lr is None and plan.seq_len == 512  # the user's data: the task's defaults
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0


def test_a_seeded_run_over_two_rates_lists_each_rank_once_and_aligns_long_ids(state_home, capsys):
    """ids as long as r4-lr0.00033-s2 pushed status' columns out of line; list printed 0,4,8,0,4,8,… (one
    rank per probe) and cancel --rank 99 listed the ranks with repeats."""
    run = create_run(runner.make_plan((0, 4, 8), (3.3e-4, 1e-3), seeds=(0, 1, 2), steps=100, device="cpu",
                                      run="20260101-000000-cccc"), state_home)
    assert max(len(p.id) for p in run.plan().probes) == len("r4-lr0.00033-s0")
    assert main(["probe", "cancel", run.id, "--rank", "99"]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan probe cancel: error: --rank 99: run {run.id} has no probe at that rank "
                                               "(its ranks: 0, 4, 8)")
    assert main(["probe", "cancel", run.id]) == 0  # nothing queued: status starts no scheduler
    capsys.readouterr()
    assert main(["probe", "status", run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[1], [ln for ln in lines[2:] if ln.startswith("r")]
    messages = [ln for ln in lines[2:] if ln.strip() == "cancelled by the user"]
    state_at, step_end = header.index("state"), header.index("step") + len("step")
    assert len(rows) == 18 and all(r[state_at:].startswith("cancelled ") for r in rows), lines
    assert len(messages) == 18 and all(m.index("cancelled") == state_at for m in messages)  # under the state
    assert all(r[:step_end].endswith("0/100") for r in rows), lines  # the step column ends under its header
    assert main(["probe", "list"]) == 0
    assert " ranks base,4,8 " in capsys.readouterr().out  # rank 0 trains no adapter: the base
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["ranks"] == [0, 4, 8]
