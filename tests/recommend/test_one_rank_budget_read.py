"""The one-rank budget line (recommend.table.one_rank_budget: "the 5-minute budget bought rank 2 alone ...") divided
recommendation.json's budget_seconds by 60 as it found it: a hand-edited 400-digit integer there (JSON holds it, a
float does not) raised OverflowError out of both its readers, `lorplan recommend --run RUN` and the planner's
recommend_bridge.read_recommendation, a traceback where a damaged file gives one line. The line only names the
budget's minutes, as "the budget" when recommendation.json gives none: a budget_seconds that is no finite number of
seconds above 0 is read as none."""

from __future__ import annotations

import pytest
from ladder_folders import ladder_with_recommendation

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.tui.recommend_bridge import read_recommendation


def _one_rank(budget_seconds):
    """The driver's file of a ladder whose budget bought rank 2 alone (its first pass named --budget-minutes 5)."""
    def edit(obj):
        obj["passes"][0]["budget_minutes"] = 5
        obj["budget_seconds"] = budget_seconds
        obj["ladder"] = [{**obj["ladder"][0], "state": "finished", "eval_loss": 1.0, "steps": 10,
                          "train_seconds": 1.0}]
        return obj

    return edit


@pytest.mark.parametrize("value, spent", [(300, "the 5-minute budget"), (10**400, "the budget"),
                                          ("300", "the budget"), (True, "the budget"), (-60, "the budget"),
                                          (float("inf"), "the budget"), (None, "the budget")],
                         ids=["300", "400 digits", "text", "true", "negative", "inf", "null"])
def test_the_one_rank_budget_line_reads_any_budget_seconds(state_home, capsys, value, spent):
    run, files = ladder_with_recommendation(state_home, _one_rank(value))
    note = read_recommendation(files.recommendation_path).budget_note  # was: OverflowError
    assert note.startswith(f"{spent} bought rank 2 alone (the learning-rate pass); a ladder budget of 5 minutes "), note
    assert main(["recommend", "--run", run.id]) == 0  # was: OverflowError's traceback
    out = capsys.readouterr().out
    assert f"{spent} bought rank 2 alone (the learning-rate pass); --budget-minutes 5 buys the ranks pass" in " ".join(
        out.split()), out


@pytest.mark.parametrize("passes, said", [
    ([5], "passes[0] must be a JSON object, not 5"),
    ([{"name": "first"}, None], "passes[1] must be a JSON object, not null"),
    ("first", "passes must be a JSON array, not 'first'"),
    ([{"budget_minutes": 2.5}], "passes[0].budget_minutes must be a whole number of at least 1, not 2.5"),
    ([{"budget_minutes": "5"}], "passes[0].budget_minutes must be a whole number of at least 1, not '5'"),
], ids=["a number", "null", "text", "2.5 minutes", "text minutes"])
def test_passes_that_are_not_the_drivers_are_one_line_naming_the_field(state_home, capsys, passes, said):
    """recommendation.json's passes, which the line reads, as both readers read its other fields: an entry that is
    no object was an AttributeError's traceback in `lorplan recommend --run RUN` (--json too), and 2.5 minutes read
    'a ladder budget of 2 minutes (the minutes field).5' in the planner."""
    run, files = ladder_with_recommendation(state_home, lambda obj: {**_one_rank(300)(obj), "passes": passes})
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    assert str(err.value) == f"{files.recommendation_path}: not a recommendation ({said})"
    for json_flag in ([], ["--json"]):
        assert main(["recommend", "--run", run.id, *json_flag]) == 2  # was: AttributeError's traceback
        out, err_text = capsys.readouterr()
        assert out == "" and err_text == (f"lorplan recommend: error: --run {run.id}: its recommendation.json is "
                                          f"damaged ({said}); `lorplan probe status {run.id}` shows its probes\n")
