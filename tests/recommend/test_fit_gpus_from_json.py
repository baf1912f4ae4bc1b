"""A fits object's gpus as a recommendation.json holds it: Fit.from_json read it with int(), so a hand-edited 1.5
read as 1 GPU, true as 1, -1 and 0 as themselves, and "two" was a ValueError. A whole number written as a float
(2.0) reads as that int; anything else is refused in one line naming the field, and the readers of a ladder's file
(`lorplan recommend --run RUN`, the planner's recommend_bridge.read_recommendation) name the file too."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.recommend.types import Fit

FITS = {"fits": True, "rank": 16, "total_bytes": 10 << 30, "budget_bytes": 24 << 30, "gpu": "H100", "gpus": 2,
        "sharding": "ddp", "rank_that_fits": 16, "remedies": [], "explanation": "rank 16 fits H100"}
BAD_GPUS = (1.5, "two", -1, 0, True, False, -2.0, 0.0, "2", float("nan"), float("inf"), [2])


def test_a_whole_float_reads_as_that_int():
    fit = Fit.from_json({**FITS, "gpus": 2.0})
    assert fit.gpus == 2 and type(fit.gpus) is int
    assert Fit.from_json({**FITS, "gpus": 4}).gpus == 4
    assert Fit.from_json({**FITS, "gpus": None}).gpus is None  # not recorded
    assert Fit.from_json({k: v for k, v in FITS.items() if k != "gpus"}).gpus is None


@pytest.mark.parametrize("gpus", BAD_GPUS, ids=repr)
def test_anything_else_is_refused_naming_the_field(gpus):
    with pytest.raises(BadInput) as err:
        Fit.from_json({**FITS, "gpus": gpus})
    said = str(err.value)
    assert "gpus" in said and repr(gpus) in said and "\n" not in said, said


def _ladder_with_gpus(state_home, gpus):
    from ladder_folders import ladder_with_recommendation

    return ladder_with_recommendation(state_home, lambda obj: {**obj, "fits": {**obj["fits"], "gpus": gpus}}, gpus=2,
                                      sharding="ddp")


@pytest.mark.parametrize("gpus", (1.5, "two", 0, True), ids=repr)
def test_a_run_folders_damaged_gpus_is_refused_naming_the_file(state_home, capsys, gpus):
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = _ladder_with_gpus(state_home, gpus)
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    said = str(err.value)
    assert str(files.recommendation_path) in said and "gpus" in said and repr(gpus) in said, said
    for json_flag in ((), ("--json",)):
        rc = main(["recommend", "--run", run.id, *json_flag])
        cap = capsys.readouterr()
        assert rc != 0 and cap.out == "", cap.out
        line = cap.err.strip()
        assert "\n" not in line and "Traceback" not in line, cap.err
        assert f"--run {run.id}" in line and "recommendation.json" in line and "gpus" in line, line


def test_a_run_folders_whole_float_gpus_reads_as_an_int(state_home, capsys):
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = _ladder_with_gpus(state_home, 2.0)
    assert read_recommendation(files.recommendation_path).recommendation.fits.gpus == 2
    assert main(["recommend", "--run", run.id, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["fits"]["gpus"]
    assert got == 2 and type(got) is int


NOT_AN_OBJECT = ("H100", [FITS], 16, True)


@pytest.mark.parametrize("fits", NOT_AN_OBJECT, ids=lambda v: type(v).__name__)
def test_a_fits_that_is_no_object_is_refused_by_both_readers(state_home, capsys, fits):
    """A fits that is no JSON object: Fit.from_json said "string indices must be integers" (the planner's
    line), and `lorplan recommend --run` printed it as it was, exit 0 (--json: "fits": "H100")."""
    from lorplan.tui.recommend_bridge import read_recommendation

    with pytest.raises(BadInput, match=r"^fits: must be a JSON object or null, not "):
        Fit.from_json(fits)
    run, files = _ladder_with_gpus(state_home, 2)
    files.write_recommendation({**files.recommendation(), "fits": fits})
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    assert str(files.recommendation_path) in str(err.value) and "fits: must be a JSON object" in str(err.value)
    for json_flag in ((), ("--json",)):
        rc = main(["recommend", "--run", run.id, *json_flag])
        cap = capsys.readouterr()
        assert rc == 2 and cap.out == "", cap.out
        line = cap.err.strip()
        assert "\n" not in line and f"--run {run.id}" in line and "fits: must be a JSON object" in line, line


def test_a_null_fits_is_no_budget(state_home, capsys):
    """fits null (no budget priced) is read as before by both."""
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = _ladder_with_gpus(state_home, 2)
    files.write_recommendation({**files.recommendation(), "fits": None})
    assert read_recommendation(files.recommendation_path).recommendation.fits is None
    assert main(["recommend", "--run", run.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fits"] is None
