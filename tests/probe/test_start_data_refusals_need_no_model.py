"""`lorplan probe start` without --model refuses data the shipped all-MiniLM-L6-v2 cannot train from the data alone,
before it looks the model up.

Commit 9ec7efa merged check_start's label refusals into one rule after the model's spec is loaded, so without
--model the shipped model was resolved, found and read before "rows without a 'label'" (or a label that is no
class label) was said. Where the shipped model's files are missing, the user with a file of plain text rows was
told to download all-MiniLM-L6-v2, which cannot train that file either, instead of to give --model; and a file with
a label 2.5 was answered about the model, not its line. Those refusals need no model: they come first again.

Real files in tmp_path and the real CLI; the shipped package's folder is taken away (resolve.shipped_folder
None) and the Hugging Face cache is an empty folder (state_home), as on an install whose model files are gone."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.model import resolve


@pytest.fixture
def no_shipped_model(monkeypatch, state_home):
    monkeypatch.setattr(resolve, "shipped_folder", lambda: None)
    with pytest.raises(Exception, match="not on disk"):  # the setting the tests stand on
        from lorplan.core.model import model_folder

        model_folder(resolve.SHIPPED_ID)


@pytest.mark.parametrize(("rows", "refusal"), [
    ([{"text": f"row {i}"} for i in range(30)],
     "--model: {data} holds text rows without a 'label', which train a causal LM: give one on this machine with "
     "--model (the shipped all-MiniLM-L6-v2 only classifies labelled rows)"),
    ([{"text": f"row {i}", "label": 2.5 if i == 7 else i % 2} for i in range(30)],
     "--data {data}: line 8: label 2.5 is not a whole number; a class label is a whole number (its class id) or a "
     "name"),
])
def test_without_model_the_data_is_refused_before_the_model_is_looked_up(rows, refusal, tmp_path, no_shipped_model,
                                                                          capsys):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["probe", "start", "--data", str(data), "--ranks", "4", "--device", "cpu"]) == 2
    assert capsys.readouterr().err == f"lorplan probe start: error: {refusal.format(data=data)}\n"
