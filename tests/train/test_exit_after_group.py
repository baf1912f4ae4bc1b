"""lorplan.train.runner.exit_after_group: a process of a run on several processes whose group was destroyed
leaves through os._exit once its exit handlers ran and its output was flushed, so neither Python's teardown nor
C++'s runs (where a follower died of SIGABRT after its line, test_ddp_full_disk). The DDP runs themselves
(test_ddp_normal_paths, test_ddp_full_disk) check their exit codes and that their exit handlers ran."""

from __future__ import annotations

import subprocess
import sys

from lorplan.cli import main
from lorplan.train import runner

CHILD = """\
import atexit, sys, threading, time
from lorplan.train import runner


class TornDown:
    def __del__(self):
        sys.stdout.write(" torn down")


atexit.register(lambda: sys.stdout.write(" exit handler"))
kept = TornDown()
sys.stdout.write("said")  # no newline: left in the buffer for exit_after_group to flush
sys.stderr.write("its line")
{thread}
{ended}
runner.exit_after_group(3)
sys.stdout.write(" returned")
"""


def _child(ended: str, thread: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD.format(ended=ended, thread=thread)], capture_output=True,
                          text=True, timeout=120)


def test_a_process_that_ended_its_group_leaves_past_teardown_with_its_code_and_output():
    done = _child("runner._ENDED.append(object())")
    assert done.returncode == 3, done
    assert done.stdout == "said exit handler", done  # flushed after the handlers; no __del__ at teardown
    assert done.stderr == "its line", done


def test_any_other_process_returns_and_exits_as_python_does():
    done = _child("")
    assert done.returncode == 0, done
    assert done.stdout == "said returned exit handler torn down", done


def test_main_with_argv_never_ends_the_callers_process(monkeypatch, capsys):
    monkeypatch.setattr(runner, "_ENDED", [object()])
    assert main(["models"]) == 0  # main(argv) returned: this test process goes on
    assert capsys.readouterr().out


def test_a_running_thread_finishes_before_the_process_leaves():
    """A non-daemon thread still running (a file a library writes in the background) is joined first, as a normal
    exit joins it; os._exit alone killed it before its write."""
    late = ("threading.Thread(target=lambda: (time.sleep(0.5), sys.stderr.write(' and its thread'), "
            "sys.stderr.flush())).start()")
    done = _child("runner._ENDED.append(object())", late)
    assert done.returncode == 3, done
    assert done.stderr == "its line and its thread", done
    assert done.stdout == "said exit handler", done
