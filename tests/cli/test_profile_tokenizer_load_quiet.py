"""`lorplan profile --tokenizer F` where F's tokenizer needs its own Python code (auto_map) and --trust-remote-code
was not given: transformers logged "[transformers] You are using a model of type `evil_llama` to instantiate a
model of type ``. ..." on its way to refusing the code, and that line reached the user before lorplan's one-line
error, which already says what to do. transformers' log records are now held while the tokenizer loads: dropped
when the load fails, passed on when it loads. A real folder (tests/model_builders.remote_code_model) in a real
process, where transformers' own stderr handler writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from model_builders import remote_code_model


def _profile(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1"}
    env.pop("TRANSFORMERS_VERBOSITY", None)
    return subprocess.run([sys.executable, "-m", "lorplan", "profile", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_only_lorplan_s_line_reaches_the_user(tmp_path):
    marker = tmp_path / "ran"
    folder = remote_code_model(tmp_path / "remote", marker, hidden=16, layers=1)
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello there"}\n')
    proc = _profile(tmp_path, "--data", str(data), "--tokenizer", str(folder))
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    assert not marker.exists()
    assert proc.stderr.splitlines() == [
        f"lorplan profile: error: tokenizer at {folder}: cannot load (its config.json or tokenizer_config.json "
        "names Python code of its own (auto_map), which lorplan runs only when asked: --trust-remote-code on the "
        "command line, if you trust that code)"], proc.stderr
