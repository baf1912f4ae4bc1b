"""A disk that fills between a ladder's run folder and its ladder files (start_ladder: create_run wrote
plan.json, then ladder-spec.json failed): the OSError was a traceback, and the run was left without its ladder
files, so `probe list` showed it as a plain probe run and `probe status` would start its probes with no driver to
decide. Now one line naming the run folder, and the half-made run is removed before anything starts. The full disk
is simulated at the OS boundary (os.fsync raising ENOSPC after plan.json): CI cannot mount one."""

from __future__ import annotations

import errno
import os

import pytest
from test_driver_launch_window import tiny_ladder

from lorplan.core.errors import BadInput
from lorplan.recommend.driver import start_ladder


def test_a_disk_full_after_the_run_folder_leaves_no_half_ladder(state_home, tiny_llama, lm_data, monkeypatch):
    spec, plan, first = tiny_ladder(tiny_llama, lm_data, "full")
    real, calls = os.fsync, {"n": 0}

    def fsync(fd):  # plan.json (the first atomic write) lands; the next write finds the disk full
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr("lorplan.core.atomic.os.fsync", fsync)
    with pytest.raises(BadInput) as caught:
        start_ladder(spec, plan, first, root=state_home)
    line = str(caught.value)
    assert "\n" not in line and str(state_home / "full") in line and "No space left on device" in line, line
    assert calls["n"] >= 2  # the failure came after the run folder was made
    assert not (state_home / "full").exists()  # nothing for probe list to show or probe status to start
