"""Ctrl-C in the terminal that waits for a probe ladder, as a user presses it: `lorplan recommend` runs as a
real process with a pseudo-terminal as its controlling terminal, and ^C is typed into it. The command stops
waiting and the ladder goes on in its own processes; the message said how to pick it up again
(`lorplan recommend --run RUN --wait`) but not how to stop it, so a user who meant to stop the ladder left
probes training. Now it names `lorplan probe cancel RUN` too, and that command leaves no process behind."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from pinned_load import python_args

from lorplan.cli import main
from lorplan.probe.backend import lock_held
from lorplan.probe.runs import find_run

# the child: a session leader whose controlling terminal is the pty on its stdin, then lorplan itself
TAKE_TERMINAL = ("import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                 "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def _read_until(fd: int, proc: subprocess.Popen, text: bytes, timeout_s: float, got: bytearray) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and text not in got:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal's last writer closed it
                return text in got
            if not chunk:
                return text in got
            got += chunk
        elif proc.poll() is not None:
            return text in got
    return text in got


def _processes_of(run) -> list[str]:
    locks = [run.path / "ladder.lock", run.path / "scheduler.lock", *run.path.glob("probes/*/alive.lock")]
    return [str(p.relative_to(run.path)) for p in locks if lock_held(p)]


def test_ctrl_c_stops_waiting_and_says_how_to_reattach_or_cancel(state_home, tiny_bert, cls_data, capsys):
    master, slave = os.openpty()
    # lorplan in the child with its ladder's first pass sized as for an idle CPU (tests/pinned_load.py): the real
    # load average there made a busy machine's 2 minutes buy no ladder, and no line came to type ^C after
    cmd = [sys.executable, "-c", TAKE_TERMINAL, *python_args(load=0.0), "recommend", "--model", str(tiny_bert),
           "--data", str(cls_data), "--budget-minutes", "2", "--probe-steps", "4"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    got = bytearray()
    try:
        assert _read_until(master, proc, b"picks it up again", 180, got), got.decode(errors="replace")
        os.write(master, b"\x03")  # Ctrl-C: the terminal sends SIGINT to its foreground process group
        _read_until(master, proc, b"stops it", 30, got)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    said = " ".join(got.decode(errors="replace").split())
    run_id = said.split("probe ladder ", 1)[1].split(":", 1)[0]
    assert "Traceback" not in said
    assert (f"stopped waiting; the ladder keeps running in the background: `lorplan recommend --run {run_id} "
            f"--wait` picks it up again, `lorplan probe cancel {run_id}` stops it") in said
    run = find_run(run_id, state_home)
    # Ctrl-C stopped the waiting, not the ladder's driver: it lives in its own session, and on a busy machine it
    # may still be importing (before it takes ladder.lock) when the first line is printed and ^C typed
    deadline = time.monotonic() + 30
    while "ladder.lock" not in _processes_of(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ladder.lock" in _processes_of(run)
    # the command the message names stops the ladder, and nothing of it keeps running
    assert main(["probe", "cancel", run_id]) == 0
    capsys.readouterr()
    deadline = time.monotonic() + 30
    while _processes_of(run) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_of(run) == []
    assert main(["recommend", "--run", run_id, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["state"] == "cancelled" and rec["cancelled_after"] is not None
