"""The machine restarts mid-ladder: every lorplan process (the waiting command, the driver, the scheduler, the
probe training) is killed with SIGKILL, then the user re-attaches with `lorplan recommend --run RUN`. The
driver was started again, but the probe that was training read 'died' and the ladder went on without it (the
base, or one of the learning rates, lost for good). Now re-attaching queues it again, once, and says so."""

from __future__ import annotations

import json
import subprocess
import time

from pinned_load import lorplan_argv
from run_processes import kill_run

from lorplan.cli import main
from lorplan.probe.backend import lock_held
from lorplan.probe.runner import attempts
from lorplan.probe.runs import find_run, list_runs


def _kill_everything(run) -> None:
    """SIGKILL the run's driver, scheduler and probes, each in its own process group, as a power cut would: every
    process that names the run folder, until none is left (tests/run_processes.py: a probe the scheduler had just
    started has no proc.json yet to name its group)."""
    assert kill_run(run.path) == []


def _first_running_probe(state_home, command: subprocess.Popen, log, timeout_s: float):
    """The ladder's run and its first probe that runs: its alive.lock held and its proc.json written. The
    scheduler takes the lock before it starts the process and writes proc.json after; a probe seen between the
    two has no process group on record, so _kill_everything could not kill it and it trained on (a result, or
    no 'queued again' on re-attach). Fails at once, with what it said (`log`), when `command` (the terminal's
    `lorplan recommend`, which waits for its ladder) exits before that: no probe will start (a budget that buys
    no ladder, a refused input); the test waited its whole timeout_s for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ended = command.poll()  # read before the look: a probe started just before it exited is still seen
        for run in list_runs(state_home):
            if (run.path / "ladder.json").exists() and lock_held(run.path / "ladder.lock"):  # its driver started
                for p in run.plan().probes:
                    if lock_held(run.alive_lock(p.id)) and run.proc_path(p.id).exists():
                        return run, p.id
        if ended is not None:
            raise AssertionError(f"no probe started: `lorplan recommend` exited {ended} first; it said: "
                                 + log.read_text(errors="replace"))
        time.sleep(0.1)
    raise AssertionError(f"no probe started within {timeout_s:g} s")


def _held_locks(run) -> list[str]:
    locks = [run.path / "ladder.lock", run.path / "scheduler.lock", *run.path.glob("probes/*/alive.lock")]
    return [str(p.relative_to(run.path)) for p in locks if lock_held(p)]


def test_a_probe_killed_with_the_machine_runs_again_on_reattach(state_home, tiny_bert, cls_data, tmp_path, capsys):
    log = tmp_path / "first-terminal.log"
    with open(log, "wb") as out:
        # its first pass sized as for an idle CPU (tests/pinned_load.py): the real load average in this process
        # of its own made a busy machine's 2 minutes buy no ladder, and no probe started
        first = subprocess.Popen(lorplan_argv("recommend", "--model", str(tiny_bert), "--data", str(cls_data),
                                              "--budget-minutes", "2", "--probe-steps", "20", load=0.0),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        run, cut = _first_running_probe(state_home, first, log, 180)
    finally:
        first.kill()  # the terminal's command, then every process of the run: SIGKILL, as a power cut
        first.wait()
    _kill_everything(run)
    # SIGKILL is delivered at once, but a process lets go of its locks only once the kernel has torn it down
    deadline = time.monotonic() + 30
    while _held_locks(run) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _held_locks(run) == [] and not run.result_path(cut).exists()

    assert main(["recommend", "--run", run.id]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert (f"probe ladder {run.id}: its driver had stopped; started it again, and queued again the probe whose "
            f"process had ended with it, without a result (the machine restarted, or its processes were killed): "
            f"{cut}") in said
    assert attempts(run, cut) == 1
    deadline = time.monotonic() + 240
    while not run.result_path(cut).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert json.loads(run.result_path(cut).read_text())["state"] == "finished"
    # the driver counts it (recommendation.json follows the result within its poll), and a second re-attach
    # leaves it alone: it ran again once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert main(["recommend", "--run", run.id, "--json"]) == 0
        rec = json.loads(capsys.readouterr().out)
        if {p["id"]: p["state"] for p in rec["probes"]}[cut] == "finished":
            break
        time.sleep(0.5)
    assert {p["id"]: p["state"] for p in rec["probes"]}[cut] == "finished"
    assert attempts(run, cut) == 1
    assert main(["probe", "cancel", run.id]) == 0
    assert find_run(run.id, state_home) == run
