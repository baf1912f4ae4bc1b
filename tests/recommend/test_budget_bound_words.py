"""One checker for the ladder budget's bound (recommend.launch.check_budget_minutes): the CLI's early refusal
and the ladder's own say the same words, each led by the name the user knows the value by."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.recommend.launch import check_budget_minutes, data_ladder

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.parametrize("minutes", ["20000", "1e300"])
def test_the_cli_and_the_ladder_refuse_a_budget_in_the_same_words(minutes, capsys):
    """`--budget-minutes 20000` said "20000 is more than 10,080 minutes", the ladder "ladder budget: 20000
    minutes is not between 0 and 10,080": two wordings of one bound."""
    with pytest.raises(BadInput) as ladder:
        data_ladder(None, None, None, None, None, None, None, None, target_modules=(), learning_rate=(1e-3, ""),
                    epochs=1.0, budget_minutes=float(minutes), budget_bytes=None, gpu=None)
    assert main(["recommend", "--model", QWEN, "--trained-tokens", "1M", "--budget-minutes", minutes]) == 2
    err = capsys.readouterr().err.strip()
    rest = str(ladder.value).removeprefix("ladder budget: ")
    assert rest != str(ladder.value)  # the ladder names the value as its own
    assert err == f"lorplan recommend: error: --budget-minutes: {rest}", err
    assert rest.startswith(f"{float(minutes):,g} minutes is not between 0 and 10,080 minutes")


@pytest.mark.parametrize("minutes", [0.0, -1.0, float("nan"), 10_080.5])
def test_the_checker_refuses_outside_a_week(minutes):
    with pytest.raises(BadInput, match=r"^Some field: .* minutes is not between 0 and 10,080 minutes"):
        check_budget_minutes(minutes, "Some field")


def test_the_checker_keeps_a_week():
    assert check_budget_minutes(10_080.0, "x") == 10_080.0 and check_budget_minutes(0.5, "x") == 0.5
