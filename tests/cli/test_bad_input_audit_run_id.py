"""An empty RUN given to lorplan probe status / wait / cancel: "" is a prefix of every run id, so with one run
`lorplan probe cancel ""` went on to that run (with several it said "RUN '': ambiguous, matches ...")."""

import os
import subprocess
import sys

import pytest

MESSAGE = "RUN: empty run id (give a run id or a unique prefix of it; lorplan probe list shows them)"


@pytest.mark.parametrize("command", ["status", "wait", "cancel"])
@pytest.mark.parametrize("run_id", ["", "  "])
def test_an_empty_run_id_is_refused_before_any_run_is_looked_up(tmp_path, command, run_id):
    lone = tmp_path / "lorplan" / "runs" / "20260101-000000-abcd"
    lone.mkdir(parents=True)
    (lone / "plan.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "lorplan", "probe", command, run_id],
                          env={**os.environ, "XDG_STATE_HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"lorplan probe {command}: error: {MESSAGE}"]
    assert sorted(p.name for p in lone.iterdir()) == ["plan.json"]  # nothing cancelled or started there
