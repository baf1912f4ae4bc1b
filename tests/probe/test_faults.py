"""Real probe processes under faults: the parent killed, a probe killed, a worker that raises, an injected
out-of-memory, a cancel. Every process is killed by group in the state_home fixture's teardown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lorplan.cli import main as cli_main
from lorplan.probe import runner
from lorplan.probe.runs import find_run
from lorplan.probe.status import run_status

pytestmark = pytest.mark.slow

SMALL = ["--micro-batch", "4", "--eval-every", "5", "--eval-examples", "16", "--device", "cpu"]


def wait_for(predicate, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def step_of(run, probe_id):
    return {p.id: p for p in run_status(run).probes}[probe_id].step


def test_killing_the_parent_leaves_probes_running_to_complete_results(state_home, capsys):
    # The parent: `lorplan probe start` then a long sleep, in its own process group (as a terminal would be).
    # 4 steps: the parent is killed as soon as the probe process exists, while it still loads the model (one
    # probe: a second, launched alike, cost a process of torch and checked nothing more)
    code = ("import sys, time; from lorplan.cli import main; "
            f"main(['probe', 'start', '--ranks', '4', '--steps', '4', *{SMALL!r}]); "
            "sys.stdout.flush(); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              start_new_session=True, env={**os.environ})
    try:
        run_id = parent.stdout.readline().strip()
        run = find_run(run_id)
        wait_for(lambda: run.proc_path("r4").exists(), what="probe launched")
        os.killpg(parent.pid, signal.SIGKILL)  # kill -9 the whole terminal group
        parent.wait(10)
        states = [p.state for p in run_status(run).probes]
        assert states == ["running"]  # the probe outlived its parent's kill
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    assert cli_main(["probe", "wait", run_id, "--timeout", "240"]) == 0
    capsys.readouterr()
    assert cli_main(["probe", "status", run_id, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["run"] == run_id and [p["id"] for p in status["probes"]] == ["r4"]
    for p in status["probes"]:
        assert p["state"] == "finished" and p["step"] == 4
        assert p["eval_loss"] > 0 and 0 <= p["eval_accuracy"] <= 1
        assert p["tokens_per_second"] > 0 and p["peak_memory_bytes"] > 0 and p["wall_seconds"] > 0
    result = json.loads(run.result_path("r4").read_text())
    assert result["state"] == "finished" and result["trainable_params"] > 0 and result["memory"]["peak_rss_bytes"] > 0


def test_kill_9_one_probe_is_died_at_its_last_step_and_the_others_go_on(state_home, monkeypatch, tmp_path):
    # r8 stays mid-run (after step 2) until killed; r4 stays after step 4 while the gate file exists, so it
    # cannot finish and free its slot for r16 before the scheduler is killed (on a loaded machine r4 once
    # trained all 6 steps while r8 was still loading, and the scheduler launched r16)
    gate = tmp_path / "hold-r4"
    gate.touch()
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@3:r8,hold@5:r4")
    monkeypatch.setenv("LORPLAN_PROBE_HOLD", str(gate))
    # 6 steps: past r8's hang at step 3; r4 and r16 train them all (30 steps cost CPU, not a check: r4's
    # competed with r8's start, r16's came after the restart)
    plan = runner.make_plan((4, 8, 16), steps=6, micro_batch=4, eval_every=3, eval_examples=16, device="cpu",
                            max_parallel=2)
    run = runner.start(plan)
    wait_for(lambda: step_of(run, "r8") >= 2, timeout=180, what="r8 at step 2")
    # kill -9 the scheduler too: r16 is still queued and nothing would launch it
    os.killpg(int(run.scheduler_lock.read_text().strip()), signal.SIGKILL)
    # it was asked for when the run started: age that stamp past the restart's grace (runner.RESTART_GRACE_S,
    # for a scheduler still starting) rather than wait it out; this one is dead, and the restart is what is tested
    past = time.time() - runner.RESTART_GRACE_S - 1
    os.utime(run.scheduler_log, (past, past))
    proc = json.loads(run.proc_path("r8").read_text())
    os.killpg(proc["pgid"], signal.SIGKILL)
    wait_for(lambda: {p.id: p.state for p in run_status(run).probes}["r8"] == "died", timeout=30, what="r8 died")
    st = run_status(run)
    assert st.stalled and {p.id: p.state for p in st.probes}["r16"] == "queued"
    gate.unlink()
    last = step_of(run, "r8")
    st = runner.wait(run, timeout=240)  # hands the queued probe to a new scheduler
    by = {p.id: p for p in st.probes}
    assert by["r8"].state == "died" and by["r8"].step == last == 2
    assert "step" in by["r8"].message
    assert by["r4"].state == "finished" and by["r4"].step == 6
    assert by["r16"].state == "finished" and by["r16"].step == 6


def test_raise_oom_and_cancel_are_results(state_home, monkeypatch, capsys):
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "raise@2:r4,oom@2:r8,hang@4:r16")
    plan = runner.make_plan((4, 8, 16), steps=20, micro_batch=4, eval_every=10, eval_examples=8, device="cpu",
                            max_parallel=3)
    run = runner.start(plan)
    wait_for(lambda: step_of(run, "r16") >= 1, timeout=180, what="r16 running")
    assert cli_main(["probe", "cancel", run.id, "--rank", "16"]) == 0
    st = runner.wait(run, timeout=240)
    capsys.readouterr()
    cli_main(["probe", "status", run.id, "--json"])
    by = {p["id"]: p for p in json.loads(capsys.readouterr().out)["probes"]}
    assert by["r4"]["state"] == "failed"
    assert "injected failure at step 2" in by["r4"]["error"] and "Traceback" in by["r4"]["error"]
    assert by["r8"]["state"] == "oom" and by["r8"]["message"].startswith("does not fit at micro-batch 4")
    assert by["r8"]["step"] == 1
    assert by["r16"]["state"] == "cancelled" and 1 <= by["r16"]["step"] <= 3
    # the worker itself recorded the cancel (SIGTERM handler), with its memory figures
    result = json.loads(run.result_path("r16").read_text())
    assert result["state"] == "cancelled" and result["peak_memory_bytes"] > 0
    assert not st.scheduler_alive or st.done
