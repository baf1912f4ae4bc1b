"""A learning rate above lorplan.core.limits.MAX_LEARNING_RATE (100): LoRA with AdamW trains at about 1e-5 to
1e-3 and SGD at up to a few (3.2 in Goyal et al. 2017), so learning_rate = 1e300 in a plan is a typo, which
export wrote out and train would have trained at. The plan's key is named; probe start's --lr has the same
bound."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.limits import MAX_LEARNING_RATE
from lorplan.core.plan.tomlfile import read_plan
from tests.cli import test_bad_input_audit_files as audit
from tests.cli.test_bad_input_audit_files import _refused

plan_file = audit.plan_file  # the fixture: a plan `lorplan plan --write` wrote for a catalog model


@pytest.mark.parametrize("command", [["export", "--to", "peft"], ["train"]])
@pytest.mark.parametrize("rate", ["1e300", "150"])
def test_a_plan_with_a_learning_rate_above_the_bound_is_refused_naming_the_key(tmp_path, capsys, plan_file, command,
                                                                          rate):
    text = plan_file.read_text()
    assert "learning_rate = " in text
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(f"learning_rate = {rate}" if line.startswith("learning_rate = ") else line
                             for line in text.splitlines()) + "\n")
    _refused(capsys, [*command, str(bad)],
             f"{bad}: training.learning_rate: must be at most {MAX_LEARNING_RATE:,} (got {float(rate)})")


def test_an_sgd_sized_learning_rate_is_still_a_plan(tmp_path, plan_file):
    text = plan_file.read_text()
    ok = tmp_path / "ok.toml"
    ok.write_text("\n".join("learning_rate = 3.2" if line.startswith("learning_rate = ") else line
                            for line in text.splitlines()) + "\n")
    assert read_plan(ok).training.learning_rate == 3.2


def test_probe_start_refuses_the_same_rates(state_home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["probe", "start", "--lr", "1e-4,200"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == f"lorplan probe start: error: --lr: 200 must be at most {MAX_LEARNING_RATE:,}\n"
