"""A sequence classifier lorplan plans through the fallback build (DistilBERT, RoBERTa: model_types not in the
fast path) with data whose rows lack a label: `lorplan plan --write --data` passed its task to the profile and
counted the 48 labelled rows of 50, but `lorplan recommend --data` let the profile guess the task from the
config alone (sources.config_spec, which cannot judge such a model), so its capacity prior counted all 50 rows,
label bits included, its --write held out 20 of them (eval_split 0.4) and it printed no note. A real
DistilBERT folder (random weights) with MiniLM's tokenizer."""

from __future__ import annotations

import json
import math

import pytest
from model_builders import tiny_distilbert

from lorplan.cli import main
from lorplan.core.data import profile_dataset
from lorplan.core.plan import read_plan

GAPS = (5, 17)


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory) -> str:
    return str(tiny_distilbert(tmp_path_factory.mktemp("distilbert")))


def _data(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"review {i} says things", "label": None if i in GAPS else i % 2})
                            + "\n" for i in range(50)))
    return path


def test_recommend_counts_the_labelled_rows_as_plan_does(tmp_path, capsys, monkeypatch, distilbert):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _data(tmp_path)
    # the premise: the profile's own guess from the config counts every row for this model, so a command must
    # say the task (else this test would pass whatever recommend passes)
    assert profile_dataset(path, model=distilbert).examples == 50
    assert main(["plan", "--model", distilbert, "--rank", "8", "--data", str(path), "--write",
                 str(tmp_path / "p.toml")]) == 0
    assert "48 examples, eval_split 0 " in capsys.readouterr().out
    written = tmp_path / "r.toml"
    assert main(["recommend", "--model", distilbert, "--data", str(path), "--probes", "none", "--json", "--write",
                 str(written)]) == 0
    out, err = capsys.readouterr()
    assert read_plan(written).data.eval_split == 0  # 0.4 before: 20 of the 50 rows, where training keeps 48
    capacity = json.loads(out)["capacity"]
    assert capacity["examples"] == 48  # 50 before: the 2 rows training skips counted
    entropy = -sum(p * math.log2(p) for p in (25 / 48, 23 / 48))  # GAPS are odd rows: 25 zeros, 23 ones
    assert capacity["label_bits"] == pytest.approx(48 * entropy)
    assert (f"note: --data {path}: 2 rows without a label skipped (the first, line 6); the recommendation counts "
            "the 48 labelled examples") in " ".join(err.split())
