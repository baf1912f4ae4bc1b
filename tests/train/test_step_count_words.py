"""Run lengths in --resume's refusals read by their count: "would run 1 steps" was printed for a one-step run."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.train.checkpoint import FinishedRun, check_longer


@pytest.mark.parametrize(("done", "total", "says"), [
    (1, 1, "holds a finished 1-step run, and this one would run 1 step too: pass a --max-steps above 1"),
    (6, 1, "holds a finished 6-step run, and this one would run 1 step: pass a --max-steps above 6"),
    (6, 6, "holds a finished 6-step run, and this one would run 6 steps too: pass a --max-steps above 6"),
])
def test_a_finished_run_is_refused_with_its_count_in_words(tmp_path, done, total, says):
    with pytest.raises(BadInput) as info:
        check_longer(FinishedRun(steps=done, final=None), total, tmp_path)
    assert str(info.value) == f"--resume: {tmp_path} {says} to train it on, or --output to start elsewhere"


def test_a_checkpoint_of_another_length_is_refused_with_the_count_in_words(tmp_path):
    import json

    from lorplan.train.runner import check_resumed_length

    folder = tmp_path / "checkpoint-2"
    folder.mkdir()
    (folder / "state.json").write_text(json.dumps({"step": 2, "total": 5}))
    with pytest.raises(BadInput) as info:
        check_resumed_length((2, folder), 1, tmp_path)
    assert f"checkpoint-2 in {tmp_path} is step 2 of a 5-step run, and this one would run 1 step: its " \
           "learning-rate schedule" in str(info.value)
