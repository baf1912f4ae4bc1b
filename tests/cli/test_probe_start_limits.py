"""`probe start --max-parallel 99999999999999` built a list of 10^14 device slots (it hung, then ran out of
memory) and `--micro-batch 99999999999` started a run that `lorplan plan` would refuse; both are one line
naming the flag now (exit 2), and no run is created."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.limits import MAX_MICRO_BATCH, MAX_PARALLEL_PROBES


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--max-parallel", "99999999999999", f"--max-parallel: 99999999999999 must be at most {MAX_PARALLEL_PROBES:,}"),
    ("--micro-batch", "99999999999", f"--micro-batch: 99999999999 must be at most {MAX_MICRO_BATCH:,}"),
])
def test_beyond_the_limit_is_refused(state_home, capsys, flag, value, says):
    with pytest.raises(SystemExit) as exc:
        main(["probe", "start", flag, value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == f"lorplan probe start: error: {says}\n", err
    assert not state_home.exists() or not any(state_home.iterdir())
