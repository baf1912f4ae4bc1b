"""A sequence classifier's data with a row whose label is no class (a CSV `2.5`, refused at its line since
c6b8415) beside a row without a label: the profile left the unlabelled row out of its figures but counted the
refused one, so `lorplan profile` and the planner's Data tab said "examples 61" and "split 41 train / 20 eval"
next to the note "the figures count what a sequence classifier trains on, the 60 labelled examples"; the CLI said
"skipped 0" where the Data tab said "skipped 1 (1 unlabelled)".

`lorplan train` does not skip such a row: it refuses the file at its line (train.data.class_ids). A classifier
trains on the labelled rows alone, so its profile's figures now leave the refused rows out too (the warning names
them, the note counts them), and the CLI and the Data tab print the one skipped figure
(DataProfile.skipped_figure). Real CSV files, a real tiny BERT classifier (3 labels), the real CLI and the Data
tab's own rendering."""

from __future__ import annotations

import pytest
from model_builders import tiny_bert

from lorplan.cli import main
from lorplan.core.data import load_examples, profile_dataset
from lorplan.core.data.stats import suggest_split
from lorplan.core.errors import BadInput
from lorplan.tui.panels.data_panel import figures_text

LABELLED = 60
REFUSAL = "line 63: label 2.5 is not a whole number; a class label is a whole number (its class id) or a name"


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> str:
    return str(tiny_bert(tmp_path_factory.mktemp("bert"), head=3))


def _csv(path, *, unlabelled: bool = True):
    """60 rows labelled 0, 1 or 2 (lines 2 to 61), then a row with an empty label (line 62) and one labelled 2.5
    (line 63; line 62 without the empty one)."""
    rows = [f"row {i} says {'good ' * (i % 7)}things,{i % 3}\n" for i in range(LABELLED)]
    rows += ["no label here,\n"] if unlabelled else []
    path.write_text("text,label\n" + "".join(rows) + "bad label,2.5\n", encoding="utf-8")
    return path


def test_training_refuses_the_file_at_the_refused_row(tmp_path):
    # what is true: the row is not skipped, the whole file is refused
    from lorplan.train.data import tokenize

    examples = load_examples(_csv(tmp_path / "d.csv"))
    with pytest.raises(BadInput, match="^data d.csv: " + REFUSAL.replace("(", r"\(").replace(")", r"\)") + "$"):
        tokenize(examples, None, task="sequence-classification", seq_len=128, packing=False, where="data d.csv")


def test_the_figures_count_the_labelled_rows_and_the_note_agrees(tmp_path, bert):
    p = profile_dataset(_csv(tmp_path / "d.csv"), model=bert)
    # 61 before: the 2.5 row was an example, the empty one left out
    assert p.examples == p.labelled == LABELLED
    assert p.split == suggest_split(LABELLED) and p.split.train + p.split.eval == LABELLED
    assert sum(n for _, n in p.length_hist) == LABELLED
    assert (p.skipped, p.unlabelled, p.first_unlabelled) == (0, 1, 62)
    assert (p.bad_labels, p.refused_rows) == (1, 1)
    assert p.label_refusal() == REFUSAL
    assert p.skipped_figure() == "1 (1 unlabelled)"
    assert ("1 row without a label skipped (line 62) and 1 whose label is no class left out (line 63: lorplan "
            "train refuses it); the figures count what a sequence classifier trains on, the 60 labelled "
            "examples") in p.notes
    j = p.to_json()
    assert (j["examples"], j["refused_rows"], j["bad_labels"], j["unlabelled"]) == (60, 1, 1, 1)


def test_a_refused_row_alone_is_left_out_and_named(tmp_path, bert):
    # no unlabelled row: there was no note at all, and the figures counted 61
    p = profile_dataset(_csv(tmp_path / "d.csv", unlabelled=False), model=bert)
    assert (p.examples, p.unlabelled, p.refused_rows, p.skipped_figure()) == (60, 0, 1, "0")
    assert ("1 row whose label is no class left out (line 62: lorplan train refuses it); the figures count what "
            "a sequence classifier trains on, the 60 labelled examples") in p.notes
    assert p.unlabelled_line() is None  # every counted example has a label


def test_without_a_classifier_every_row_is_an_example(tmp_path):
    # a causal LM ignores the label column: nothing is left out
    p = profile_dataset(_csv(tmp_path / "d.csv"))
    assert (p.examples, p.unlabelled, p.refused_rows, p.bad_labels) == (62, 0, 0, 1)


def test_the_cli_and_the_data_tab_say_the_same_figures(tmp_path, bert, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _csv(tmp_path / "d.csv")
    assert main(["profile", "--data", str(path), "--model", bert]) == 0
    lines = capsys.readouterr().out.splitlines()
    # "examples 61 (skipped 0, ...)" and "split 41 train / 20 eval" before
    assert lines[1] == "examples         60  (skipped 1 (1 unlabelled), exact duplicates 0)"
    assert [x for x in lines if x.startswith("suggested ")][0].split("; ")[1].startswith(
        "split 40 train / 20 eval (20 of 60 held out")
    assert [x for x in lines if x.startswith("warning: line 63:")]
    figures = figures_text(profile_dataset(path, model=bert), classifier=True)
    assert "examples   60  skipped 1 (1 unlabelled)  duplicates 0" in figures
    assert "split 40 train / 20 eval" in figures
