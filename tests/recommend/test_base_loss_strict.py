"""The planner's reader of a ladder's recommendation.json (recommend_bridge.read_recommendation) read its
base_loss, the driver's extra key, outside the strict reader: a hand-edited 400-digit integer there (JSON holds
it, a float does not) raised OverflowError out of math.isfinite, a traceback where every other field gives the one
line naming the file and the field. Now base_loss is read by recommend.types.read_field as the other fields are."""

from __future__ import annotations

import reprlib

import pytest
from ladder_folders import ladder_with_recommendation

from lorplan.core.errors import BadInput
from lorplan.tui.recommend_bridge import read_recommendation


@pytest.mark.parametrize("value", [10**400, "2.4", True, float("nan"), float("inf")],
                         ids=["400 digits", "text", "true", "nan", "inf"])
def test_a_bad_base_loss_is_one_line_naming_the_file_and_field(state_home, value):
    run, files = ladder_with_recommendation(state_home, lambda obj: {**obj, "base_loss": value})
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    said = str(err.value)
    assert said == (f"{files.recommendation_path}: not a recommendation (base_loss must be a number, "
                    f"not {reprlib.repr(value)})"), said


@pytest.mark.parametrize("value, read", [(2.4, 2.4), (3, 3.0), (None, None)])
def test_a_base_loss_that_is_a_number_or_null_reads(state_home, value, read):
    run, files = ladder_with_recommendation(state_home, lambda obj: {**obj, "base_loss": value})
    got = read_recommendation(files.recommendation_path).base_loss
    assert got == read and (got is None or type(got) is float)

