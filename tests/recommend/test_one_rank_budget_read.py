"""The one-rank budget line (recommend.table.one_rank_budget: "the 5-minute budget bought rank 2 alone ...") divided
recommendation.json's budget_seconds by 60 as it found it: a hand-edited 400-digit integer there (JSON holds it, a
float does not) raised OverflowError out of both its readers, `lorplan recommend --run RUN` and the planner's
recommend_bridge.read_recommendation, a traceback where a damaged file gives one line, and inf read "the inf-minute
budget". Its budget_seconds and passes are now read as both readers read the file's other fields (recommend.types):
null is no budget ("the budget"), anything but what the driver writes is one line naming the field."""

from __future__ import annotations

import reprlib

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


@pytest.mark.parametrize("value, spent", [(300, "the 5-minute budget"), (None, "the budget")], ids=["300", "null"])
def test_the_one_rank_budget_line_names_the_budget_it_was_given(state_home, capsys, value, spent):
    run, files = ladder_with_recommendation(state_home, _one_rank(value))
    note = read_recommendation(files.recommendation_path).budget_note
    assert note.startswith(f"{spent} bought rank 2 alone (the learning-rate pass); a ladder budget of 5 minutes "), note
    assert main(["recommend", "--run", run.id]) == 0
    out = capsys.readouterr().out
    assert f"{spent} bought rank 2 alone (the learning-rate pass); --budget-minutes 5 buys the ranks pass" in " ".join(
        out.split()), out


@pytest.mark.parametrize("key, value, said", [
    ("budget_seconds", 10**400, f"budget_seconds must be a positive number, not {reprlib.repr(10**400)}"),
    ("budget_seconds", "300", "budget_seconds must be a positive number, not '300'"),
    ("budget_seconds", True, "budget_seconds must be a positive number, not True"),
    ("budget_seconds", -60, "budget_seconds must be a positive number, not -60"),
    ("budget_seconds", float("inf"), "budget_seconds must be a positive number, not inf"),
    ("passes", [5], "passes[0] must be a JSON object, not 5"),
    ("passes", [{"name": "first"}, None], "passes[1] must be a JSON object, not null"),
    ("passes", "first", "passes must be a JSON array, not 'first'"),
    ("passes", [{"budget_minutes": 2.5}], "passes[0].budget_minutes must be a whole number of at least 1, not 2.5"),
    ("passes", [{"budget_minutes": "5"}], "passes[0].budget_minutes must be a whole number of at least 1, not '5'"),
], ids=["400 digits", "text", "true", "negative", "inf", "a number pass", "null pass", "text passes", "2.5 minutes",
        "text minutes"])
def test_what_the_line_reads_that_is_not_the_drivers_is_one_line_naming_the_field(state_home, capsys, key, value,
                                                                                    said):
    """budget_seconds and passes, which the line reads, as both readers read the file's other fields: 400 digits
    were OverflowError's traceback in both, text a TypeError's in the CLI, a pass that is no object an
    AttributeError's in `lorplan recommend --run RUN` (--json too); true, -60 and inf read 'the 0.0167-minute', 'the
    -1-minute' and 'the inf-minute budget', and 2.5 minutes 'a ladder budget of 2 minutes (the minutes field).5'."""
    run, files = ladder_with_recommendation(state_home, lambda obj: {**_one_rank(300)(obj), key: value})
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    assert str(err.value) == f"{files.recommendation_path}: not a recommendation ({said})"
    for json_flag in ([], ["--json"]):
        assert main(["recommend", "--run", run.id, *json_flag]) == 2  # was: AttributeError's traceback
        out, err_text = capsys.readouterr()
        assert out == "" and err_text == (f"lorplan recommend: error: --run {run.id}: its recommendation.json is "
                                          f"damaged ({said}); `lorplan probe status {run.id}` shows its probes\n")
