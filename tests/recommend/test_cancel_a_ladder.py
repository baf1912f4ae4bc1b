"""`lorplan probe cancel RUN` on a probe ladder's run, mid-ladder, with the terminal that started it still waiting
(real processes: lorplan recommend on a tiny classifier). It printed 'cancelled r4-lr0.001, …' and nothing of
the ladder, and between two passes, with no probe to cancel, 'nothing to cancel: those probes had already
ended' though the cancel did stop the ladder. Now it says the ladder stops and where its recommendation is; the
waiting terminal ends with the recommendation from what finished, and no process of the run is left."""

from __future__ import annotations

import json
import subprocess
import time

from pinned_load import lorplan_argv

from lorplan.cli import main
from lorplan.probe.backend import lock_held
from lorplan.probe.runs import list_runs


def _processes_of(run) -> list[str]:
    locks = [run.path / "ladder.lock", run.path / "scheduler.lock", *run.path.glob("probes/*/alive.lock")]
    return [str(p.relative_to(run.path)) for p in locks if lock_held(p)]


def _ladder_with_a_running_probe(root, command: subprocess.Popen, timeout_s: float):
    """The ladder's run once its driver lives and a probe of it runs (its alive.lock held). Fails at once, with
    what it said, when `command` (the terminal's `lorplan recommend`, which waits for its ladder) exits before
    that: no probe will start (a budget that buys no ladder, a refused input); the test waited its whole
    timeout_s for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ended = command.poll()  # read before the look: a probe started just before it exited is still seen
        for run in list_runs(root):
            if (run.path / "ladder.json").exists() and lock_held(run.path / "ladder.lock") and any(
                    lock_held(run.alive_lock(p.id)) for p in run.plan().probes):
                return run
        if ended is not None:
            out, err = command.communicate()
            raise AssertionError(f"no probe of a ladder started: `lorplan recommend` exited {ended} first; it "
                                 f"said: {out}{err}")
        time.sleep(0.2)
    raise AssertionError(f"no probe of a ladder started within {timeout_s:g} s")


def test_cancel_mid_ladder_says_the_ladder_stops_and_leaves_nothing_running(state_home, tiny_bert, tmp_path,
                                                                             capsys):
    rows = [{"text": f"the room was {'lovely' if i % 2 else 'awful'} {i}", "label": i % 2} for i in range(120)]
    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # its first pass sized as for an idle CPU (tests/pinned_load.py): the real load average in this process of its
    # own made a busy machine's 2 minutes buy no ladder, and no probe started to cancel
    waiting = subprocess.Popen(lorplan_argv("recommend", "--model", str(tiny_bert), "--data", str(data),
                                            "--budget-minutes", "2", "--probe-steps", "20", load=0.0),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, text=True)
    try:
        run = _ladder_with_a_running_probe(state_home, waiting, 180)
        assert main(["probe", "cancel", run.id]) == 0
        said = " ".join(capsys.readouterr().out.split())
        assert said.startswith("cancelled ")
        assert (f"the probe ladder stops: no further pass starts; `lorplan recommend --run {run.id}` prints its "
                "recommendation from the probes that finished") in said
        out, err = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert f"run {run.id}: cancelled by the user after" in out and "Traceback" not in err
    deadline = time.monotonic() + 30
    while _processes_of(run) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _processes_of(run) == []
    # cancelling again: nothing left to cancel, and the ladder is done, so nothing about it stopping
    assert main(["probe", "cancel", run.id]) == 0
    assert capsys.readouterr().out == "nothing to cancel: those probes had already ended\n"
