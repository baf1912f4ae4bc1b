"""`lorplan recommend` on hard cases a user meets: each gets exit 2 and one line naming the input, or exit 0 with
a recommendation whose words say what happened; never a traceback."""

from __future__ import annotations

import pytest

from lorplan.cli import main


def recommend(capsys, *argv):
    rc = main(["recommend", *argv])
    return rc, capsys.readouterr()


@pytest.mark.parametrize("minutes", ["1e308", "1e300", "20000"])
def test_huge_budget_is_refused_in_one_line(minutes, tiny_llama, lm_data, state_home, capsys):
    # 1e308 minutes is inf seconds: plan_ladder's int(inf // s) raised ValueError (a traceback); 1e300 started a
    # ladder whose probes note named a budget of 60,000,...,000 s
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--budget-minutes", minutes,
                        "--json")
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "--budget-minutes" in lines[0] and "10,080 minutes" in lines[0], cap.err
    assert "Traceback" not in cap.err and cap.out == ""
    assert not state_home.exists() or not any(state_home.iterdir())  # no ladder was started


def test_a_week_is_still_a_budget():
    from lorplan.recommend.launch import MAX_BUDGET_MINUTES

    assert MAX_BUDGET_MINUTES == 10_080
