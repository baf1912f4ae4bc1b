"""The one guard on restarting a stalled scheduler (runner.restart_stalled): a run that asks for its model's own
code is restarted only with the user's consent, else RemoteCodeRefused; but while a live driver drives the run (a
probe ladder's, holding RunDir.driver_lock) it is left to that driver, which restarts it with the consent it was
started with. `probe status`, `probe wait` and `recommend --run` each wrote that rule themselves; now they all
call restart_stalled, and the driver itself (by_driver) still gets the refusal."""

from __future__ import annotations

import fcntl
import os

import pytest
from test_retry_consent import NoSpawnBackend  # the local backend minus the scheduler's launch

from lorplan.probe import runner
from lorplan.probe.consent import RemoteCodeRefused
from lorplan.probe.runs import create_run


def _stalled_run(state_home):
    """A run asking for its model's code, its probe queued and no scheduler ever started (stalled)."""
    return create_run(runner.make_plan((4,), steps=10, device="cpu", model="/models/remote-code-model",
                                       trust_remote_code=True), state_home)


def _hold(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a live driver holds (lorplan.recommend.driver.drive)
    return fd


def test_a_refused_restart_is_left_to_a_live_driver_once_for_every_caller(state_home):
    run = _stalled_run(state_home)
    backend = NoSpawnBackend()
    assert runner.status(run, backend).stalled and not runner.driver_alive(run)
    with pytest.raises(RemoteCodeRefused, match=f"lorplan probe status {run.id} --trust-remote-code"):
        runner.restart_stalled(run, backend=backend)

    fd = _hold(run.driver_lock)
    try:
        assert runner.driver_alive(run)
        assert runner.restart_stalled(run, backend=backend) is False  # the driver restarts it
        with pytest.raises(RemoteCodeRefused):  # the driver itself is told, and logs it
            runner.restart_stalled(run, backend=backend, by_driver=True)
        # with the consent the restart goes ahead, driver or not
        trusted = NoSpawnBackend(trust_remote_code=True)
        assert runner.restart_stalled(run, backend=trusted) is True and trusted.submitted == [run.id]
    finally:
        os.close(fd)
    assert not runner.driver_alive(run)
    assert backend.submitted == []


def test_recommends_driver_alive_is_the_probe_layers(state_home):
    from lorplan.recommend.driver import driver_alive
    from lorplan.recommend.ladder_spec import LadderFiles

    run = _stalled_run(state_home)
    assert LadderFiles(run).lock_path == run.driver_lock
    fd = _hold(LadderFiles(run).lock_path)
    try:
        assert driver_alive(run) and runner.driver_alive(run)
    finally:
        os.close(fd)
    assert not driver_alive(run)
