"""lorplan recommend --run RUN re-attaches to a ladder that has its own data and setup: --model, --data and the
ladder flags were refused with it, but the data's size and the training setup (--gpu-memory 24G, --quant nf4,
--trained-tokens 1M, ...) were taken and ignored, the ladder's recommendation printed with exit 0 as if they had
been used."""

import os
import subprocess
import sys

import pytest

SUFFIX = "--run RUN re-attaches to a ladder, which already has its model, data and settings"


def _recommend(tmp_path, *flags):
    return subprocess.run([sys.executable, "-m", "lorplan", "recommend", "--run", "20260101", *flags],
                          env={**os.environ, "XDG_STATE_HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("flags", [
    ["--gpu-memory", "24G"], ["--gpu", "H100"], ["--quant", "nf4"], ["--double-quant"], ["--trained-tokens", "1M"],
    ["--examples", "500"], ["--task", "causal-lm"], ["--num-labels", "3"], ["--epochs", "2"],
    ["--targets", "attention"], ["--micro-batch", "4"], ["--seq-len", "512"], ["--rope-scaling", "2"],
    ["--grad-checkpointing"], ["--optimizer", "sgd"], ["--probes", "none"],
])
def test_a_setup_or_data_flag_with_run_is_refused_naming_it(tmp_path, flags):
    done = _recommend(tmp_path, *flags)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"lorplan recommend: error: {flags[0]}: {SUFFIX}"]


@pytest.mark.parametrize("flags", [[], ["--quant", "none"], ["--optimizer", "adamw"], ["--json"]])
def test_the_defaults_and_output_flags_still_reach_the_run_lookup(tmp_path, flags):
    done = _recommend(tmp_path, *flags)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"lorplan recommend: error: --run 20260101: no such probe run; {tmp_path}/lorplan/runs holds none yet "
        "(lorplan recommend --model M --data FILE starts a probe ladder)"]
