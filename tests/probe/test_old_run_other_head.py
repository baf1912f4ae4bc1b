"""Probes of a run started before lorplan refused a checkpoint whose config.json names a head it does not train (a
token classifier, a question-answering model: db3f90c refuses it at the start). A retry (the planner's retry key,
runner.retry), a restart of its stalled scheduler (`lorplan probe status`, `lorplan probe wait`) and `lorplan
recommend --run RUN` of such a ladder would train the causal LM planned from it, another model without its head.
Now they refuse in the start's line, naming the run (runner.run_model_refusal): nothing is moved, queued or started.
No process is started: the refusals come before the backend's submit, and the control uses a backend that records
submit instead of launching a scheduler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.probe.status import run_status
from lorplan.recommend.decide import probe_specs
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState, Pass

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}
WORDS = ("config.json names LlamaForTokenClassification, a token-classification model transformers builds with "
         "AutoModelForTokenClassification, a head lorplan does not train")


class NoSpawnBackend(LocalProcessBackend):
    """The local backend minus the scheduler's launch (a test boundary): records submit calls."""

    def __init__(self) -> None:
        super().__init__(False)
        self.submitted: list[str] = []

    def submit(self, run) -> None:
        self.submitted.append(run.id)


def _folder(tmp_path: Path, architectures: list[str]) -> Path:
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    return folder


def _run(state_home, folder: Path, *, failed: bool):
    """A run of `folder` as an older lorplan left it: r4 failed (failed) or still queued with no scheduler."""
    run = create_run(runner.make_plan((4,), steps=10, device="cpu", model=str(folder)), state_home)
    if failed:
        atomic_write_json(run.proc_path("r4"), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        atomic_write_json(run.result_path("r4"), {"state": "failed", "step": 2, "traceback": "Boom"})
    return run


def test_a_retry_is_refused(tmp_path, state_home):
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    run = _run(state_home, folder, failed=True)
    backend = NoSpawnBackend()
    with pytest.raises(runner.OtherHeadRefused) as refused:
        runner.retry(run, "r4", backend=backend)
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"run {run.id}: model {folder}: {WORDS}"), line
    assert line.endswith("; probe r4 is not queued again")
    assert backend.submitted == [] and runner.attempts(run, "r4") == 0
    assert run_status(run).probes[0].state == "failed"


def test_a_retry_of_its_causal_lm_goes_ahead(tmp_path, state_home):
    """The folder naming its causal LM first: queued again as before (the refusal reads the head named first)."""
    run = _run(state_home, _folder(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"]), failed=True)
    assert runner.run_model_refusal(run) is None
    backend = NoSpawnBackend()
    runner.retry(run, "r4", backend=backend)
    assert backend.submitted == [run.id] and run_status(run).probes[0].state == "queued"


def test_status_and_wait_start_no_scheduler_for_its_queued_probes(tmp_path, state_home, capsys):
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    run = _run(state_home, folder, failed=False)
    assert main(["probe", "status", run.id]) == 0  # the status is printed, with the line why nothing runs
    out, err = capsys.readouterr()
    assert f"note: run {run.id}: model {folder}: {WORDS}" in err and err.count("\n") == 1, err
    assert "; its queued probes are not started" in err and "r4" in out
    assert not run.scheduler_log.exists()
    assert main(["probe", "wait", run.id, "--timeout", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lorplan probe wait: error: run {run.id}: model {folder}: {WORDS}")
    assert not run.scheduler_log.exists()


def test_recommend_run_refuses_such_a_ladder(tmp_path, state_home, capsys):
    """`lorplan recommend --run RUN` of a ladder of such a checkpoint, its driver and scheduler dead: no driver or
    scheduler is started, and its recommendation is not printed or written (it is of another model)."""
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    run = create_run(runner.make_plan((2, 4), steps=10, device="cpu", model=str(folder)), state_home)
    spec = LadderSpec(kind="data", model=str(folder), spec_source=str(folder), task="causal-lm",
                      target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 750, "examples": 48},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 16},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=10, seeds=(0,),
                      ranks=(2, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=False)
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(Pass("first", probe_specs((2, 4), spec), (2, 4)),)))
    plan = tmp_path / "plan.toml"
    assert main(["recommend", "--run", run.id, "--write", str(plan)]) == 2
    out, err = capsys.readouterr()
    err = err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lorplan recommend: error: run {run.id}: model {folder}: {WORDS}")
    assert out == "" and not plan.exists() and not run.scheduler_log.exists()
    assert not (run.path / "ladder.launched").exists() and not files.log_path.exists()  # no driver launched
