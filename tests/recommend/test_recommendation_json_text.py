"""The planner's reader of a ladder's recommendation.json (recommend_bridge.read_recommendation) parsed it with
json.loads and caught only its JSONDecodeError: a hand-edited number of more digits than Python's int() converts
(4,300) raised json's ValueError, which tells the reader to call sys.set_int_max_str_digits(), and an array nested
deeper than Python recurses a RecursionError, each a traceback in the planner's reading worker. Now it reads the
file as lorplan reads every JSON file (core.jsontext.loads_json, through lorplan.tui.bridge): one line naming it."""

from __future__ import annotations

import sys

import pytest
from ladder_folders import ladder_with_recommendation

from lorplan.core.errors import BadInput
from lorplan.tui.recommend_bridge import read_recommendation


@pytest.mark.parametrize("text, said", [
    ('{"rank": ' + "9" * 5000 + "}", f"a number of 5000 digits, more than the {sys.get_int_max_str_digits()} json "
                                     "reads"),
    ("[" * 100_000, "arrays or objects nested too deeply for Python's json module"),
], ids=["5000 digits", "nested too deeply"])
def test_json_that_python_will_not_read_is_one_line_naming_the_file(state_home, text, said):
    run, files = ladder_with_recommendation(state_home, lambda obj: obj)
    files.recommendation_path.write_text(text)
    with pytest.raises(BadInput) as err:  # was: ValueError (sys.set_int_max_str_digits), RecursionError
        read_recommendation(files.recommendation_path)
    assert str(err.value) == f"{files.recommendation_path}: cannot read the recommendation ({said})"
