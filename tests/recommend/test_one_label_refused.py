"""A classification file whose rows all carry one label teaches a classifier nothing, and `lorplan probe start`
refuses it ("sequence classification needs at least two distinct values of 'label'"). `lorplan recommend --data`
only warned, then wrote a plan with num_labels 2 (which lorplan train trained, to accuracy 0) or ran a whole probe
ladder on it (every probe at accuracy 1.000, a knee from nothing). It is now refused as probe start refuses it,
before anything is written or started."""

from __future__ import annotations

import pytest
from conftest import write_jsonl

from lorplan.cli import main


@pytest.mark.parametrize("label", [0, 3, "pos"])
@pytest.mark.parametrize("probes", [["--probes", "none"], ["--budget-minutes", "3"]])
def test_a_classification_file_of_one_label_is_refused(label, probes, tiny_bert, tmp_path, state_home, capsys):
    rows = [{"text": f"The film {i} was great.", "label": label} for i in range(160)]
    rows.insert(5, {"text": "The film had no label.", "label": None})  # a row without one changes nothing
    data = write_jsonl(tmp_path / "one.jsonl", rows)
    plan = tmp_path / "plan.toml"
    rc = main(["recommend", "--model", str(tiny_bert), "--data", str(data), "--write", str(plan), *probes])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"lorplan recommend: error: --data {data}: sequence classification needs at least two distinct values of "
        f"'label' (every row has {label!r})"), err
    assert not plan.exists()
    assert not state_home.exists() or not any(state_home.iterdir())  # no ladder started


def test_two_labels_still_recommend(tiny_bert, tmp_path, state_home, capsys):
    rows = [{"text": f"The film {i} was {'great' if i % 2 else 'dull'}.", "label": i % 2} for i in range(160)]
    data = write_jsonl(tmp_path / "two.jsonl", rows)
    plan = tmp_path / "plan.toml"
    rc = main(["recommend", "--model", str(tiny_bert), "--data", str(data), "--probes", "none", "--write", str(plan)])
    assert rc == 0, capsys.readouterr().err
    assert "num_labels = 2" in plan.read_text(encoding="utf-8")
