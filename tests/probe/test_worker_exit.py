"""How a probe's process ends: at once after its result (lorplan.probe.worker.exit_promptly), with everything it
wrote complete and its exit status as before.

The interpreter's own teardown of torch's and transformers' modules took 1.3-2.1 s per probe on 2 shared cores
while the probe's slot stayed held (the scheduler counts a slot busy until its process exits); the time it
takes now is printed by benchmarks/probe_exit.py, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from lorplan.probe import runner
from lorplan.probe.adapters import adapter_dir, mark_save_adapter
from lorplan.probe.backend import child_env
from lorplan.probe.events import read_events
from lorplan.probe.runs import create_run

# stdout into a file is block-buffered without PYTHONUNBUFFERED; a MemoryHandler writes its records only when
# flushed or closed (logging.shutdown, an atexit handler); an idle ThreadPoolExecutor's worker is a non-daemon
# thread that ends only when threading's shutdown tells it to; a non-daemon thread writes after a pause
SCRIPT = textwrap.dedent("""\
    import atexit, logging, logging.handlers, sys, threading, time
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from lorplan.probe.worker import exit_promptly

    out = Path(sys.argv[1])
    log = logging.getLogger("probe-exit-test")
    log.addHandler(logging.handlers.MemoryHandler(1000, target=logging.FileHandler(out / "log.txt")))
    log.warning("kept until the handler is closed")
    pool = ThreadPoolExecutor(1)
    pool.submit(lambda: None).result()
    atexit.register(lambda: (out / "atexit.txt").write_text("ran"))
    threading.Thread(target=lambda: (time.sleep(0.3), (out / "thread.txt").write_text("joined"))).start()
    print("buffered line")
    exit_promptly(3)
    print("never printed")
""")


def test_exit_promptly_keeps_what_a_normal_exit_keeps(tmp_path):
    env = child_env()
    env.pop("PYTHONUNBUFFERED", None)
    with open(tmp_path / "stdout.txt", "wb") as stdout:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], stdout=stdout,
                              stderr=subprocess.PIPE, env=env, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()
    assert (tmp_path / "stdout.txt").read_text() == "buffered line\n"
    assert (tmp_path / "log.txt").read_text() == "kept until the handler is closed\n"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert proc.stderr == b""


# what the process had imported when it ended (exit_promptly runs the atexit handlers)
SITECUSTOMIZE = """
import atexit, os, sys
atexit.register(lambda: open(os.environ["LORPLAN_TEST_MODULES"], "w").write(
    "\\n".join(name for name, module in sys.modules.items() if module is not None)))
"""


def _worker(run, probe_id: str, env_extra: dict | None = None, hooks=None) -> subprocess.CompletedProcess:
    """The probe's process as the scheduler starts it (its logs in its folder), waited for; with `hooks`, a
    folder holding a sitecustomize module, that module is loaded first."""
    folder = run.probe_dir(probe_id)
    folder.mkdir(parents=True, exist_ok=True)
    env = child_env({"LORPLAN_PROBE_DEVICE": "cpu", **(env_extra or {})})
    if hooks is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(hooks), env["PYTHONPATH"]])
    with open(folder / "stdout.log", "ab") as out, open(folder / "stderr.log", "ab") as err:
        return subprocess.run([sys.executable, "-m", "lorplan.probe.worker", str(run.path), probe_id],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=folder, timeout=300)


@pytest.mark.slow
def test_a_finished_worker_has_written_everything_when_its_process_exits(state_home, tmp_path, monkeypatch):
    """A probe marked to save its adapter: when its process has exited (status 0), result.json, the event log
    ending in "finished" and the whole adapter are there. It never imported bitsandbytes, which a CPU probe does
    not use (lorplan.train.model.hide_bitsandbytes; peft imported it, 1.4 s of CPU per probe)."""
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu"),
                     state_home)
    mark_save_adapter(run, "r4")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("LORPLAN_TEST_MODULES", str(tmp_path / "modules.txt"))
    proc = _worker(run, "r4", hooks=tmp_path / "hooks")
    assert proc.returncode == 0, run.probe_dir("r4").joinpath("stderr.log").read_text()
    result = json.loads(run.result_path("r4").read_text())
    assert result["state"] == "finished" and result["step"] == 3 and result["eval_loss"] is not None
    events = read_events(run.events_path("r4"))
    assert events[-1] == {"type": "finished", "step": 3, "message": None, "t": events[-1]["t"]}
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3]
    saved = adapter_dir(run, "r4")
    assert result["adapter"] == str(saved) and {"type": "adapter", "path": str(saved)} in [
        {k: v for k, v in e.items() if k != "t"} for e in events]
    config = json.loads((saved / "adapter_config.json").read_text())
    assert config["r"] == 4
    from safetensors.torch import load_file

    assert any("lora_A" in name for name in load_file(saved / "adapter_model.safetensors"))
    modules = (tmp_path / "modules.txt").read_text().split()
    assert "peft" in modules and not any(m.split(".")[0] == "bitsandbytes" for m in modules)


@pytest.mark.slow
def test_a_failed_worker_exits_1_with_its_traceback_in_stderr_log(state_home):
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu"),
                     state_home)
    proc = _worker(run, "r4", {"LORPLAN_PROBE_INJECT": "raise@2"})
    assert proc.returncode == 1
    result = json.loads(run.result_path("r4").read_text())
    assert result["state"] == "failed" and result["step"] == 1
    assert read_events(run.events_path("r4"))[-1]["type"] == "failed"
    stderr = run.probe_dir("r4").joinpath("stderr.log").read_text()
    assert "Traceback" in stderr and "injected failure at step 2" in stderr
