"""The state_home fixture's reaping (tests/run_processes.reap_runs) ends a run's process that holds no lock yet.

A start returns once it has launched the run's scheduler (or a ladder's driver): the process takes its lock a
moment later (a Python start-up, seconds on a busy machine). A test that ended in that moment, as
tests/tui/test_start_once.py does after starting a run on purpose, left the scheduler and its held probe running
after the test, their run folder deleted with tmp_path: reap_runs killed only the runs a lock said were alive."""

from __future__ import annotations

import subprocess
import sys

from run_processes import reap_runs


def test_a_process_naming_a_run_that_holds_no_lock_yet_is_ended(tmp_path):
    runs = tmp_path / "runs"
    run = runs / "20260101-000000-abcd"
    run.mkdir(parents=True)
    # what `python -m lorplan.probe.scheduler RUN_FOLDER` is before it takes scheduler.lock: a process whose
    # command line names the run folder
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(run)],
                            start_new_session=True)
    try:
        reap_runs(runs)
        assert proc.wait(timeout=10) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
