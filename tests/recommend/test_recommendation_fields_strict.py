"""Every field of a recommendation.json read strictly (recommend.types: Recommendation, Fit, Remedy, LadderRow,
Evidence .from_json). The file is written by a ladder's driver, but a user may edit it by hand and another tool may
write it: int() read a rank of 1.5 as 1 and bool() read "false" as True, silently; "abc" was a ValueError naming no
field; a fits' budget_bytes, gpu, rank_that_fits and sharding were not checked at all. A wrong type is now one
BadInput line naming the field (its dotted key) and the value; a whole number written as a float (2.0, as another
JSON writer may) reads as that int. The readers of a ladder's file (`lorplan recommend --run RUN`, the planner's
recommend_bridge.read_recommendation) name the file too."""

from __future__ import annotations

import copy
import json
import reprlib

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.recommend.types import Evidence, Fit, LadderRow, Recommendation, Remedy

REC = Recommendation(
    rank=8, alpha=16, use_rslora=False, learning_rate=2e-4, target_modules=("q_proj", "v_proj"),
    rank_pattern={"q_proj": 16, "v_proj": 4}, tolerance=0.05, confidence=(4, 16), cost_seconds=12.5,
    fits=Fit(8, 10 << 30, 24 << 30, "H100", False, 4, (Remedy("--grad-checkpointing", 9 << 30, True),),
             "rank 8 needs 10 GiB", gpus=2, sharding="ddp"),
    ladder=(LadderRow(4, 2e-4, 1.25, train_seconds=3.5, trainable_params=1024, peak_memory_bytes=1 << 20, steps=10,
                      seed=0, predicted_loss=1.1, predicted_error=0.05),
            LadderRow(8, 2e-4, 1.2, stopped_early=True, state="cancelled", seed=1)),
    evidence=(Evidence("ladder", 8, "the knee"), Evidence("learning rate", None, "the policy's rate")),
    model="tiny", task="causal-lm", alpha_pattern={"q_proj": 32.0}, capacity={"rule": "tokens"},
    pattern_checked=True,
)

# (dotted path to the field, a value of the wrong type, the name the line must give)
BAD = [
    (("rank",), 1.5, "rank"), (("rank",), "abc", "rank"), (("rank",), True, "rank"), (("rank",), 0, "rank"),
    (("rank",), None, "rank"),
    (("alpha",), "16", "alpha"), (("alpha",), True, "alpha"), (("alpha",), float("nan"), "alpha"),
    (("use_rslora",), "false", "use_rslora"), (("use_rslora",), 0, "use_rslora"),
    (("learning_rate",), "2e-4", "learning_rate"), (("learning_rate",), 0, "learning_rate"),
    (("target_modules",), "q_proj", "target_modules"), (("target_modules", 1), 3, "target_modules[1]"),
    (("rank_pattern",), ["q_proj"], "rank_pattern"), (("rank_pattern", "q_proj"), 1.5, "rank_pattern['q_proj']"),
    (("rank_pattern", "q_proj"), "16", "rank_pattern['q_proj']"),
    (("tolerance",), "0.05", "tolerance"), (("tolerance",), -0.1, "tolerance"),
    (("confidence",), "4-16", "confidence"), (("confidence", "low"), 1.5, "confidence.low"),
    (("confidence", "high"), "16", "confidence.high"),
    (("cost_seconds",), "12", "cost_seconds"), (("cost_seconds",), -1, "cost_seconds"),
    (("fits", "rank"), 1.5, "fits.rank"), (("fits", "rank"), "abc", "fits.rank"),
    (("fits", "total_bytes"), 1.5, "fits.total_bytes"), (("fits", "total_bytes"), "abc", "fits.total_bytes"),
    (("fits", "budget_bytes"), "24GB", "fits.budget_bytes"), (("fits", "budget_bytes"), 1.5, "fits.budget_bytes"),
    (("fits", "gpu"), 100, "fits.gpu"), (("fits", "fits"), "yes", "fits.fits"),
    (("fits", "rank_that_fits"), 2.5, "fits.rank_that_fits"), (("fits", "rank_that_fits"), "4", "fits.rank_that_fits"),
    (("fits", "gpus"), "two", "fits.gpus"), (("fits", "sharding"), 2, "fits.sharding"),
    (("fits", "explanation"), 5, "fits.explanation"), (("fits", "remedies"), "abc", "fits.remedies"),
    (("fits", "remedies", 0), "abc", "fits.remedies[0]"),
    (("fits", "remedies", 0, "change"), 1, "fits.remedies[0].change"),
    (("fits", "remedies", 0, "total_bytes"), 1.5, "fits.remedies[0].total_bytes"),
    (("fits", "remedies", 0, "fits"), "no", "fits.remedies[0].fits"),
    (("ladder",), "x", "ladder"), (("ladder", 1), 8, "ladder[1]"), (("ladder", 0, "rank"), 1.5, "ladder[0].rank"),
    (("ladder", 0, "eval_loss"), "0.5", "ladder[0].eval_loss"), (("ladder", 0, "steps"), 2.5, "ladder[0].steps"),
    (("ladder", 1, "stopped_early"), "no", "ladder[1].stopped_early"), (("ladder", 0, "state"), 3, "ladder[0].state"),
    (("ladder", 1, "seed"), "1", "ladder[1].seed"),
    (("evidence", 0, "source"), 3, "evidence[0].source"), (("evidence", 0, "rank"), "8", "evidence[0].rank"),
    (("model",), 3, "model"), (("task",), ["causal-lm"], "task"),
    (("alpha_pattern", "q_proj"), "x", "alpha_pattern['q_proj']"), (("capacity",), "x", "capacity"),
    (("pattern_checked",), "true", "pattern_checked"),
    # a number JSON holds that a float does not (a 400-digit integer): was OverflowError, which no reader caught
    (("learning_rate",), 10**400, "learning_rate"), (("ladder", 0, "train_seconds"), 10**400, "ladder[0].train_seconds"),
    # nan and inf are no measurement (the driver writes none: tests/recommend/test_diverged_probe_ladder.py)
    (("ladder", 0, "predicted_loss"), float("nan"), "ladder[0].predicted_loss"),
    (("ladder", 0, "eval_accuracy"), float("inf"), "ladder[0].eval_accuracy"),
]


def _with(obj: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(obj)
    at = out
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    return out


def test_to_json_reads_back_as_it_was():
    assert Recommendation.from_json(json.loads(json.dumps(REC.to_json()))) == REC


@pytest.mark.parametrize("path, value, name", BAD, ids=lambda v: reprlib.repr(v) if not isinstance(v, tuple) else ".".join(map(str, v)))
def test_a_wrong_type_is_one_line_naming_the_field(path, value, name):
    with pytest.raises(BadInput) as err:
        Recommendation.from_json(_with(REC.to_json(), path, value))
    said = str(err.value)
    shown = "null" if value is None else reprlib.repr(value)
    assert said.startswith(f"{name} must be ") and said.endswith(f", not {shown}") and "\n" not in said, said


def test_a_missing_field_is_named():
    obj = REC.to_json()
    del obj["fits"]["total_bytes"]
    with pytest.raises(BadInput, match=r"^fits\.total_bytes is missing$"):
        Recommendation.from_json(obj)


WHOLE_FLOATS = [("rank",), ("confidence", "low"), ("confidence", "high"), ("rank_pattern", "q_proj"),
                ("fits", "rank"), ("fits", "total_bytes"), ("fits", "budget_bytes"), ("fits", "rank_that_fits"),
                ("fits", "gpus"), ("fits", "remedies", 0, "total_bytes"), ("ladder", 0, "rank"),
                ("ladder", 0, "steps"), ("ladder", 1, "seed"), ("evidence", 0, "rank")]


def _at(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def test_whole_numbers_written_as_floats_read_as_ints():
    obj = REC.to_json()
    for path in WHOLE_FLOATS:
        obj = _with(obj, path, float(_at(obj, path)))
    assert all(type(_at(obj, path)) is float for path in WHOLE_FLOATS)
    back = Recommendation.from_json(obj).to_json()
    for path in WHOLE_FLOATS:
        assert _at(back, path) == _at(REC.to_json(), path) and type(_at(back, path)) is int, path
    assert back == REC.to_json()


def _ladder_with(state_home, path: tuple, value):
    """A done ladder's run folder whose recommendation.json has `value` at `path` (no probe trains)."""
    from ladder_folders import ladder_with_recommendation

    return ladder_with_recommendation(state_home, lambda obj: _with(obj, path, value(obj) if callable(value) else value))


@pytest.mark.parametrize("path, value, name", [(("rank",), 1.5, "rank"), (("rank",), "abc", "rank"),
                                               (("confidence", "low"), "2", "confidence.low"),
                                               (("fits", "budget_bytes"), "24GB", "fits.budget_bytes"),
                                               (("use_rslora",), "false", "use_rslora"),
                                               (("learning_rate",), 10**400, "learning_rate")],
                         ids=lambda v: reprlib.repr(v) if not isinstance(v, tuple) else ".".join(map(str, v)))
def test_a_run_folders_bad_field_is_one_line_naming_the_file_and_field(state_home, capsys, path, value, name):
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = _ladder_with(state_home, path, value)
    with pytest.raises(BadInput) as err:
        read_recommendation(files.recommendation_path)
    said = str(err.value)
    assert said.startswith(f"{files.recommendation_path}: not a recommendation ({name} must be "), said
    for json_flag in ((), ("--json",)):
        rc = main(["recommend", "--run", run.id, *json_flag])
        cap = capsys.readouterr()
        assert rc == 2 and cap.out == "", cap.out
        line = cap.err.strip()
        assert "\n" not in line and "Traceback" not in line, cap.err
        assert f"--run {run.id}: its recommendation.json is damaged ({name} must be " in line, line
        assert reprlib.repr(value) in line, line


def test_a_run_folders_whole_float_rank_prints_as_an_int(state_home, capsys):
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = _ladder_with(state_home, ("rank",), lambda obj: float(obj["rank"]))
    files.write_recommendation({**files.recommendation(), "alpha": float(files.recommendation()["alpha"])})
    rank = files.recommendation()["rank"]
    assert type(rank) is float and type(files.recommendation()["alpha"]) is float
    assert read_recommendation(files.recommendation_path).recommendation.rank == rank
    assert main(["recommend", "--run", run.id, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["rank"] == rank and type(got["rank"]) is int
    assert type(got["alpha"]) is int and type(got["confidence"]["low"]) is int and type(got["fits"]["rank"]) is int
