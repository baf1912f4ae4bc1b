"""A ladder's driver when its run folder's disk fills up (or its quota, or the folder goes read-only) mid-ladder:
it wrote ladder-clock.json, ladder-state.json and recommendation.json with no care for a failed write, so the
first write on a full disk ended the driver with an OSError traceback (into ladder.log, on the same full disk)
and the ladder stopped deciding. Now a step that cannot write says so in one line and the next step, once there
is space, goes on from the files as they stand. The full disk is simulated at the OS boundary (fsync)."""

from __future__ import annotations

import errno
import json
import os
import time

from test_budget_counts_running_time import _ladder

from lorplan.recommend.driver import Driver


def test_a_full_disk_mid_ladder_is_one_line_and_the_driver_goes_on(state_home, monkeypatch, capsys):
    run, files = _ladder(state_home, started=time.time())
    driver = Driver(run)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("lorplan.core.atomic.os.fsync", full)
    assert driver.try_step() is False
    assert driver.try_step() is False  # said once, not at every poll
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"could not write in {run.path} (No space left on device); the ladder goes on once it can")
    assert not files.recommendation_path.exists()

    monkeypatch.undo()  # space again
    assert driver.try_step() is False  # the ladder is not done: its probes are queued
    assert capsys.readouterr().out.strip().endswith("writing again")
    assert json.loads(files.recommendation_path.read_text())["state"]


def test_another_os_error_is_not_retried_as_a_full_disk(state_home, monkeypatch):
    # too many open files is no full disk: retrying it forever said "could not write ..." and hid the cause
    import pytest

    run, _ = _ladder(state_home, started=time.time())
    driver = Driver(run)

    def no_files(fd):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr("lorplan.core.atomic.os.fsync", no_files)
    with pytest.raises(OSError) as caught:
        driver.try_step()
    assert caught.value.errno == errno.EMFILE
