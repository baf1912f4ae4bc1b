"""The fallback's build server (core.model.fallback._Server, _fallback_child.serve): one child imports torch and
transformers once and builds config after config; its answers are the reports and the refusals a child of its own
gives; it is started again when it died, ended idle or the environment or the transformers on disk changed; a
thread that finds it busy, and a build that may run the model's own code, get a child of their own; a build over
the time limit, or a request interrupted before its answer, stops it; it ends with the process that started it
and holds none of its descriptors. The tests of the server's lifetime run a stand-in child (_STAND_IN: the
server's own loop, a report() that imports no torch), so that they take a fraction of a second each."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import fallback

pytestmark = pytest.mark.slow


def _bart(tmp_path, name: str, **over) -> Path:
    """A tiny BART config.json in a folder of its own (the fallback builds BART's causal LM)."""
    cfg = {"model_type": "bart", "vocab_size": 100, "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
           "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
           "max_position_embeddings": 64, **over}
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder / "config.json"


@pytest.fixture
def server(monkeypatch):
    """A server of this test's own as the fallback's, stopped after it."""
    own = fallback._Server()
    monkeypatch.setattr(fallback, "_SERVER", own)
    yield own
    own.stop()


def test_one_server_builds_config_after_config_with_a_child_s_own_answers(server, tmp_path):
    small, wide, bad = _bart(tmp_path, "small"), _bart(tmp_path, "wide", d_model=64), _bart(tmp_path, "bad",
                                                                                            d_model="x")
    first = fallback.run_child(small, False)
    pid = server.pid()
    assert pid is not None and first["class"] == "BartForCausalLM"
    second = fallback.run_child(wide, False)
    assert server.pid() == pid  # the same process built both
    assert second["linears"][0]["in"] == 64 and first["linears"][0]["in"] == 32
    with pytest.raises(BadInput) as served:
        fallback.run_child(bad, False)
    assert server.pid() == pid  # a config transformers refuses does not end it
    # a child of its own (the one a build that may run the model's own code gets; this config has none to run)
    # gives the same report and the same refusal, word for word
    assert fallback.run_child(wide, True) == second
    with pytest.raises(BadInput) as own:
        fallback.run_child(bad, True)
    assert str(served.value) == str(own.value) and "transformers cannot build it (" in str(own.value)
    assert "'d_model'" in str(own.value) and server.pid() == pid


def test_a_build_over_the_time_limit_stops_the_server(server, tmp_path, monkeypatch):
    monkeypatch.setattr(fallback, "TIMEOUT_S", 0.01)  # the server is still importing torch
    with pytest.raises(BadInput, match=r"building the model took over 0.01s"):
        fallback.run_child(_bart(tmp_path, "m"), False)
    assert server.pid() is None


# _fallback_child run as the server and as a child of its own, with a report() that reads the config file and
# imports no torch: "odd" in it fails as reading the built model can (an exception outside _build), with a
# message of two lines
_STAND_IN = """
import json, sys
from lorplan.core.model import _fallback_child as child

class Odd(Exception):
    pass

def report(path, trust):
    text = open(path, encoding="utf-8").read()
    if "odd" in text:
        raise Odd("first line\\nsecond line")
    return 0, json.dumps({"read": text})

child.report = report
sys.exit(child.main(sys.argv[1:]))
"""


@pytest.fixture
def stand_in(server, tmp_path, monkeypatch):
    """The test's server, running _STAND_IN."""
    (tmp_path / "stand_in_child.py").write_text(_STAND_IN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, (str(tmp_path), os.environ.get("PYTHONPATH")))))
    monkeypatch.setattr(fallback, "CHILD", "stand_in_child")
    return server


def _config(tmp_path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": name}))
    return folder / "config.json"


def test_a_failure_reading_the_built_model_is_said_alike_by_the_server_and_a_child_of_its_own(stand_in, tmp_path):
    config = _config(tmp_path, "odd")
    with pytest.raises(BadInput) as served:
        fallback.run_child(config, False)
    assert stand_in.pid() is not None  # the server answered, and lives on
    with pytest.raises(BadInput) as own:
        fallback.run_child(config, True)
    # a child of its own once ended with a traceback, whose last line is the message's last ("second line")
    assert str(served.value) == str(own.value) == f"config.json at {config}: transformers cannot build it (Odd: first line)"


def test_a_request_interrupted_before_its_answer_stops_the_server(stand_in, tmp_path, monkeypatch):
    first, second = _config(tmp_path, "first"), _config(tmp_path, "second")

    def interrupted(*args):  # Ctrl-C while the server builds `first`
        monkeypatch.setattr(fallback, "select", select)
        raise KeyboardInterrupt

    monkeypatch.setattr(fallback, "select", SimpleNamespace(select=interrupted))
    with pytest.raises(KeyboardInterrupt):
        fallback.run_child(first, False)
    assert stand_in.pid() is None
    assert fallback.run_child(second, False) == {"read": second.read_text()}  # not first's answer


def test_a_server_is_started_again_when_the_transformers_on_disk_changes(stand_in, tmp_path, monkeypatch):
    config = _config(tmp_path, "m")
    fallback.run_child(config, False)
    before, key = stand_in.pid(), fallback.cache_key(config)
    monkeypatch.setattr(fallback, "_transformers_version", lambda folders: "99.0")  # a pip install meanwhile
    assert fallback.cache_key(config) != key  # a report is kept under the new version's key ...
    fallback.run_child(config, False)
    assert stand_in.pid() not in (None, before) and not _alive(before)  # ... so the old server may not make it


def test_a_build_that_may_run_the_model_s_own_code_never_reaches_the_server(stand_in, tmp_path):
    config = _config(tmp_path, "m")
    assert fallback.run_child(config, True) == {"read": config.read_text()}  # a child of its own built it
    assert stand_in.pid() is None  # none was started


def test_a_server_that_died_ended_idle_or_met_another_environment_is_started_again(stand_in, tmp_path, monkeypatch):
    monkeypatch.setattr(stand_in, "IDLE_S", 1.0)
    config = _config(tmp_path, "m")
    built = {"read": config.read_text()}
    fallback.run_child(config, False)
    killed = stand_in.pid()
    os.kill(killed, signal.SIGKILL)  # died (the kernel's out-of-memory killer, a user's kill)
    while _alive(killed):
        time.sleep(0.02)
    assert fallback.run_child(config, False) == built
    old = stand_in.pid()
    assert old not in (None, killed)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "error")  # what the child's transformers reads
    fallback.run_child(config, False)
    assert stand_in.pid() not in (None, killed, old)
    assert not _alive(old)  # the old one was ended, not left behind
    idle = stand_in._proc
    idle.wait(timeout=60)  # it ends by itself, IDLE_S seconds after its last answer
    assert idle.returncode == 0 and stand_in.pid() is None
    assert fallback.run_child(config, False) == built
    assert stand_in.pid() not in (None, killed, old, idle.pid)


def test_a_busy_server_sends_the_build_to_a_child_of_its_own(stand_in, tmp_path):
    taken = threading.Event()
    release = threading.Event()

    def hold():
        with stand_in._lock:
            taken.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(10)
    try:
        assert stand_in.ask(_config(tmp_path, "m")) is None  # at once: not waiting for the other build
        config = _config(tmp_path, "n")
        assert fallback.run_child(config, False) == {"read": config.read_text()}
        assert stand_in.pid() is None  # built by a child of its own
    finally:
        release.set()
        holder.join()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
def test_the_server_ends_with_its_process_and_holds_none_of_its_descriptors(stand_in, tmp_path):
    config, held = _config(tmp_path, "m"), tmp_path / "held.lock"
    script = (f"import os, sys\nfrom pathlib import Path\nfrom lorplan.core.model import fallback\n"
              f"fallback.CHILD = 'stand_in_child'\n"
              f"os.set_inheritable(os.open({str(held)!r}, os.O_RDWR | os.O_CREAT), True)\n"
              f"fallback.run_child(Path({str(config)!r}), False)\n"
              f"print(fallback._SERVER.pid(), flush=True)\n"
              f"sys.exit(0) if sys.stdin.readline() == 'exit\\n' else os.kill(os.getpid(), 9)\n")
    for end in ("exit", "kill -9"):
        parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        pid = int(parent.stdout.readline())
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert str(held) not in fds and len(fds) <= 4, fds  # its stdin, stdout, stderr and its answers' copy
        parent.communicate(end + "\n", timeout=30)
        assert parent.returncode == (0 if end == "exit" else -signal.SIGKILL)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), end


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped) reads as ended
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
