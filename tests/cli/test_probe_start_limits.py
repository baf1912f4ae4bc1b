"""`probe start --max-parallel 99999999999999` built a list of 10^14 device slots (it hung, then ran out of
memory) and `--micro-batch 99999999999` started a run that `lorplan plan` would refuse; both are one line
naming the flag now (exit 2), and no run is created. So are `--steps 99999999999999999999999` and
`--eval-every` beyond lorplan.core.limits.MAX_STEPS (10^9; a run was started) and `--seq-len` beyond MAX_SEQ_LEN;
`recommend --probe-steps` and `--epochs` (1e308 was read) have the same bounds."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.limits import MAX_EPOCHS, MAX_MICRO_BATCH, MAX_PARALLEL_PROBES, MAX_SEQ_LEN, MAX_STEPS


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--max-parallel", "99999999999999", f"--max-parallel: 99999999999999 must be at most {MAX_PARALLEL_PROBES:,}"),
    ("--micro-batch", "99999999999", f"--micro-batch: 99999999999 must be at most {MAX_MICRO_BATCH:,}"),
    ("--steps", "99999999999999999999999", f"--steps: 99999999999999999999999 must be at most {MAX_STEPS:,}"),
    ("--steps", str(MAX_STEPS + 1), f"--steps: {MAX_STEPS + 1} must be at most {MAX_STEPS:,}"),
    ("--eval-every", "10000000000", f"--eval-every: 10000000000 must be at most {MAX_STEPS:,}"),
    ("--seq-len", "99999999999", f"--seq-len: 99999999999 must be at most {MAX_SEQ_LEN:,}"),
])
def test_beyond_the_limit_is_refused(state_home, capsys, flag, value, says):
    with pytest.raises(SystemExit) as exc:
        main(["probe", "start", flag, value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == f"lorplan probe start: error: {says}\n", err
    assert not state_home.exists() or not any(state_home.iterdir())


@pytest.mark.parametrize(("args", "says"), [
    (["--probe-steps", "99999999999999999999999"], f"--probe-steps: 99999999999999999999999 must be at most {MAX_STEPS:,}"),
    (["--epochs", "1e308"], f"--epochs: 1e308 must be at most {MAX_EPOCHS:,}"),
    (["--epochs", "10000.5"], f"--epochs: 10000.5 must be at most {MAX_EPOCHS:,}"),
])
def test_recommend_refuses_the_same_bounds(state_home, capsys, args, says):
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--model", "gpt2", "--trained-tokens", "1M", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == f"lorplan recommend: error: {says}\n", err


def test_recommend_takes_the_bound_itself(capsys):
    assert main(["recommend", "--model", "gpt2", "--trained-tokens", "1M", "--epochs", str(MAX_EPOCHS), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["capacity"]["epochs"] == MAX_EPOCHS
