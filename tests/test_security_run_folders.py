"""A probe run folder is data too: its plan.json may ask for the model's own Python code (trust_remote_code), but
only the user's --trust-remote-code on the command line grants it, and the grant travels down the processes
lorplan starts from that command (scheduler, probes, a ladder's driver), never through the folder. Each test
builds a model folder whose auto_map names Python files that write a marker when imported, and a run folder
under $XDG_STATE_HOME/lorplan/runs that asks for them, then runs the real commands and processes on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_builders import remote_code_model

from lorplan.probe import runner
from lorplan.probe.backend import lock_held
from lorplan.probe.runs import ProbeSpec, RunDir, create_run, read_json


@pytest.fixture
def evil(tmp_path, state_home):
    """(model folder, marker, data file, runs folder)."""
    marker = tmp_path / "PWNED"
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"What is {i}+{i}?", "completion": f" {2 * i}."}) + "\n"
                            for i in range(48)))
    return remote_code_model(tmp_path / "evil", marker, hidden=16, layers=1), marker, data, state_home


def _lorplan(*args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The real command, in its own process (the environment is the state_home fixture's)."""
    return subprocess.run([sys.executable, "-m", "lorplan", *args], capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def _run_plan(model: Path, data: Path, ranks=(2,), **kw):
    return runner.make_plan(ranks, model=str(model), data=str(data), steps=2, device="cpu", seq_len=32,
                            micro_batch=1, eval_every=2, eval_examples=8, trust_remote_code=True, **kw)


def _refusal(run: RunDir, model: Path, resume: str, what: str = "its probes") -> str:
    return (f"run {run.id} asks to run the model's own Python code ({model}), which lorplan runs only when "
            f"asked: {what} start again with `{resume}`, if you trust that code")


def _states(run: RunDir) -> dict[str, str]:
    return {p.id: p.state for p in runner.status(run).probes}


def test_a_handed_over_run_folder_runs_no_code_until_the_user_types_the_flag(evil):
    """A run folder (someone else's, or one whose scheduler was killed) with queued probes and
    "trust_remote_code": true: `probe status` and `probe wait` restarted its scheduler and the probe imported
    modeling_evil.py. Now status says why nothing runs, wait returns at once (exit 2), a scheduler or a probe
    process started without the flag runs nothing; `probe wait RUN --trust-remote-code` resumes it."""
    model, marker, data, runs = evil
    run = create_run(_run_plan(model, data, ranks=(2, 4)), runs)  # on disk, no scheduler: nothing started it

    proc = _lorplan("probe", "status", run.id)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "note: " + _refusal(
        run, model, f"lorplan probe status {run.id} --trust-remote-code")
    assert "Traceback" not in proc.stderr
    assert proc.stdout.split()[:4] == ["run", run.id, "running", "scheduler"]  # the status is still printed
    t0 = time.monotonic()
    proc = _lorplan("probe", "wait", run.id, "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert time.monotonic() - t0 < 60  # it returned, instead of waiting for a scheduler it may not start
    assert proc.stderr.strip().splitlines() == ["lorplan probe wait: error: " + _refusal(
        run, model, f"lorplan probe wait {run.id} --json --trust-remote-code")]
    assert not run.scheduler_log.exists() and not lock_held(run.scheduler_lock)
    assert _states(run) == {"r2": "queued", "r4": "queued"}

    # the processes themselves: a scheduler started without the flag launches nothing and leaves them queued...
    sched = subprocess.run([sys.executable, "-m", "lorplan.probe.scheduler", str(run.path)], capture_output=True,
                           text=True, timeout=60)
    assert sched.returncode == 0, sched.stderr
    assert sched.stdout.splitlines()[1].endswith("launched nothing: " + _refusal(
        run, model, f"lorplan probe status {run.id} --trust-remote-code")), sched.stdout
    assert not run.proc_path("r2").exists()
    # ...and a probe process started without it refuses before loading anything (its result says why)
    worker = subprocess.run([sys.executable, "-m", "lorplan.probe.worker", str(run.path), "r4"],
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 1
    result = read_json(run.result_path("r4"))
    assert result["state"] == "failed"
    assert result["message"] == "RemoteCodeRefused: " + _refusal(
        run, model, f"lorplan probe status {run.id} --trust-remote-code")
    time.sleep(0.5)
    assert not marker.exists(), marker.read_text()

    # the user's flag resumes it: the probe trains, and the model's code ran (the marker works)
    proc = _lorplan("probe", "wait", run.id, "--trust-remote-code", "--timeout", "240", timeout=300)
    assert proc.returncode == 1, proc.stderr  # r4 failed above
    assert _states(run) == {"r2": "finished", "r4": "failed"}
    assert "modeling_evil" in marker.read_text()


def _ladder(run_plan, model: Path, runs: Path, first_ranks=(2,)):
    """A probe ladder's files for `run_plan` (not yet started), asking for the model's own code."""
    from lorplan.recommend.decide import probe_specs
    from lorplan.recommend.ladder_spec import LadderSpec, Pass

    spec = LadderSpec(kind="data", model=str(model), spec_source=str(model), task="causal-lm",
                      target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 750, "examples": 48},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 16},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=2, seeds=(0,),
                      ranks=(2, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=False,
                      trust_remote_code=True)
    return spec, Pass("first", probe_specs(first_ranks, spec), first_ranks)


def _handed_over_ladder(model: Path, data: Path, runs: Path):
    """A ladder's run folder as someone could hand it over: its plan, spec and first pass written, no driver or
    scheduler started. (run, its LadderFiles)."""
    from lorplan.recommend.ladder_spec import LadderFiles, LadderState

    run = create_run(_run_plan(model, data), runs)
    spec, first = _ladder(run.plan(), model, runs)
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(first,)))
    return run, files


def test_a_handed_over_ladder_is_not_started_again_without_the_flag(evil):
    """A ladder's run folder whose driver is gone: `lorplan recommend --run RUN --wait` started its driver and
    scheduler (ensure_driver, restart_stalled), which ran the model's code. Now it says how to resume it, in one
    line, and starts nothing; `probe status` on it says the same of its probes."""

    model, marker, data, runs = evil
    run, files = _handed_over_ladder(model, data, runs)

    proc = _lorplan("recommend", "--run", run.id, "--wait")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    resume = f"lorplan recommend --run {run.id} --wait --trust-remote-code"
    assert proc.stderr.strip().splitlines() == [
        "lorplan recommend: error: " + _refusal(run, model, resume, "its driver and probes")]
    proc = _lorplan("probe", "status", run.id)
    assert proc.returncode == 0
    assert "note: " + _refusal(run, model, f"lorplan probe status {run.id} --trust-remote-code") in proc.stderr
    time.sleep(1.0)
    assert not files.log_path.exists() and not lock_held(files.lock_path)  # no driver was started
    assert not run.scheduler_log.exists()
    assert _states(run) == {"r2": "queued"}
    assert not marker.exists(), marker.read_text()
    # a driver process started without the flag steps nothing
    drv = subprocess.run([sys.executable, "-m", "lorplan.recommend.driver", str(run.path)], capture_output=True,
                         text=True, timeout=60)
    assert drv.returncode == 4
    assert drv.stdout.strip().endswith(_refusal(run, model, f"lorplan recommend --run {run.id} --trust-remote-code",
                                                "its driver and probes"))
    assert not run.scheduler_log.exists() and not marker.exists()


def test_a_ladder_started_with_the_flag_goes_on_without_it_being_typed_again(evil, monkeypatch):
    """The legitimate flow: a ladder started with the user's consent (start_ladder, as `lorplan recommend
    --trust-remote-code` calls it). Its scheduler is killed while rank 2 trains and the driver decides a next
    pass (rank 4): the driver, which holds the consent on its own command line, adds the pass and starts a
    scheduler that hands it on, and rank 4 trains the model's code with nobody typing anything."""
    from dataclasses import replace

    from lorplan.recommend.driver import start_ladder
    from lorplan.recommend.ladder_spec import LadderFiles, LadderState, Pass

    model, marker, data, runs = evil
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1:r2")  # r2 stays mid-run: the ladder cannot end meanwhile
    plan = _run_plan(model, data, max_parallel=2)
    spec, first = _ladder(plan, model, runs)
    run = start_ladder(spec, replace(plan, probes=(ProbeSpec("r2", 2),)), first, root=runs)
    files = LadderFiles(run)
    deadline = time.monotonic() + 180
    while not (run.events_path("r2").exists() and '"started"' in run.events_path("r2").read_text()):
        assert time.monotonic() < deadline, (run.scheduler_log.read_text(), files.log_path.read_text())
        time.sleep(0.5)
    assert "modeling_evil" in marker.read_text()  # the launch with consent runs the model's code, as before
    pid = int(run.scheduler_lock.read_text().strip())
    os.killpg(pid, signal.SIGKILL)  # the scheduler this test's start_ladder started (its own session)
    while lock_held(run.scheduler_lock):
        time.sleep(0.1)
    second = Pass("refine", ({"id": "r4", "rank": 4, "lr": None, "seed": None},), (4,))
    files.write_state(LadderState(passes=(first, second)))  # the driver's decision, written before it acts
    deadline = time.monotonic() + 240
    while _states(run).get("r4") not in ("finished", "failed", "died", "cancelled"):
        assert time.monotonic() < deadline, files.log_path.read_text()
        time.sleep(1.0)
    result = read_json(run.result_path("r4"))
    assert result["state"] == "finished", result.get("message")
    assert read_json(run.proc_path("r4"))["scheduler_pid"] != pid  # a scheduler the driver started
    assert "asks to run the model's own Python code" not in files.log_path.read_text()


def test_token_counts_use_a_custom_tokenizer_only_with_the_flag(evil):
    """`lorplan profile --model M --trust-remote-code` and `lorplan recommend --trust-remote-code --data ...`
    refused a tokenizer with its own code (auto_map) even with the flag; the flag now reaches the tokenizer's
    load, and without it nothing runs (no question on stdin either)."""
    model, marker, data, _ = evil
    proc = _lorplan("profile", "--data", str(data), "--model", str(model), stdin="y\ny\n")
    assert proc.returncode == 2 and not marker.exists()
    assert "Do you wish to run the custom code" not in proc.stdout + proc.stderr

    proc = _lorplan("profile", "--data", str(data), "--model", str(model), "--trust-remote-code", "--json")
    assert proc.returncode == 0, proc.stderr
    profile = json.loads(proc.stdout)
    assert profile["estimated"] is False and profile["examples"] == 48
    assert "tokenization_evil" in marker.read_text()
    marker.unlink()

    proc = _lorplan("recommend", "--model", str(model), "--data", str(data), "--probes", "none",
                    "--trust-remote-code", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "tokenization_evil" in marker.read_text()
    assert json.loads(proc.stdout)["rank"] >= 1


def test_probe_status_leaves_a_live_ladders_stalled_scheduler_to_its_driver(evil):
    """A ladder started with the flag whose scheduler was killed with a probe queued: its driver lives and holds
    the consent, so it starts the scheduler again itself. `probe status RUN` without the flag said the run's
    probes start again only with `lorplan probe status RUN --trust-remote-code`, as of a run nobody drives;
    now it prints the status without that note (as `probe wait` and `recommend --run` leave it to the driver),
    and starts nothing."""
    import fcntl


    model, marker, data, runs = evil
    run, files = _handed_over_ladder(model, data, runs)
    fd = os.open(files.lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # the live driver's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = _lorplan("probe", "status", run.id)
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert "asks to run the model's own Python code" not in proc.stderr, proc.stderr
    assert "r2" in proc.stdout
    assert not run.scheduler_log.exists() and not marker.exists()
