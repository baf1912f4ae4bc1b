"""A labelled dataset (a `label` column) planned for a causal LM: the plan trains on the text as language modelling
and never reads the labels, and no command said so. `lorplan plan --write --data`, `lorplan recommend --data` (its
--json as `data` evidence), `lorplan profile --model`, `lorplan train` and the planner's Data tab now say it in one
line (core.data.labels.labels_unused_note); never for a classifier, nor for data without labels. Catalog models
(no weights, no fallback build) and a config.json folder for train's start checks: nothing imports torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main

LLAMA = "meta-llama/Llama-3.2-1B"
BERT = "google-bert/bert-base-uncased"


def _note(what: str, model: str = LLAMA, classes: str = "2 classes: 0, 1") -> str:
    return (f"{what} has a label column ({classes}); {model} is a causal LM, so a plan for it trains on the text as "
            "language modelling and never sees the labels: lorplan plans sequence classification for BERT-style "
            "encoders (e.g. sentence-transformers/all-MiniLM-L6-v2) and decoders whose config.json names their "
            "sequence classifier; to teach a causal LM the labels, write each "
            "row as a prompt/completion pair (prompt = the text, completion = the label's word)")


@pytest.fixture
def labelled(tmp_path) -> Path:
    path = tmp_path / "sentiment.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}) + "\n"
                            for i in range(40)))
    return path


@pytest.fixture
def unlabelled(tmp_path) -> Path:
    path = tmp_path / "text.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i} says something"}) + "\n" for i in range(40)))
    return path


def _err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_plan_write_says_the_labels_go_unused(labelled, tmp_path, capsys):
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", LLAMA, "--rank", "8", "--data", str(labelled), "--write", str(plan)]) == 0
    assert f"note: {_note(f'--data {labelled}')}" in _err_lines(capsys)
    assert 'task = "causal-lm"' in plan.read_text()


def test_plan_write_says_nothing_for_a_classifier_or_for_text_alone(labelled, unlabelled, tmp_path, capsys):
    assert main(["plan", "--model", BERT, "--rank", "8", "--data", str(labelled), "--write",
                 str(tmp_path / "c.toml")]) == 0
    assert main(["plan", "--model", LLAMA, "--rank", "8", "--data", str(unlabelled), "--write",
                 str(tmp_path / "t.toml")]) == 0
    assert "has a label column" not in capsys.readouterr().err


def _llama_folder(tmp_path) -> Path:
    """A Llama config.json folder with the shipped tokenizer and a placeholder weights file (nothing loads it)."""
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "llama")
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 30522, "hidden_size": 32,
        "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 128}))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def test_recommend_says_it_once_in_its_evidence_and_its_json_carries_it_as_data_evidence(labelled, unlabelled,
                                                                                       capsys):
    assert main(["recommend", "--model", LLAMA, "--data", str(labelled), "--probes", "none"]) == 0
    got = capsys.readouterr()
    assert f"data: {_note(f'--data {labelled}')}" in " ".join(got.out.split())  # the evidence, wrapped
    assert "has a label column" not in got.err  # not said twice
    assert main(["recommend", "--model", LLAMA, "--data", str(labelled), "--probes", "none", "--json"]) == 0
    got = capsys.readouterr()
    evidence = json.loads(got.out)["evidence"]
    assert {"source": "data", "rank": None, "explanation": _note(f"--data {labelled}")} in evidence
    assert f"note: {_note(f'--data {labelled}')}" in got.err.splitlines()
    assert main(["recommend", "--model", LLAMA, "--data", str(unlabelled), "--probes", "none", "--json"]) == 0
    got = capsys.readouterr()
    assert "has a label column" not in got.err + got.out


def test_profile_with_a_causal_lm_says_it_and_without_a_model_or_with_a_classifier_not(labelled, capsys):
    assert main(["profile", "--data", str(labelled), "--model", LLAMA]) == 0
    assert f"note: {_note(f'--data {labelled}')}" in capsys.readouterr().out.splitlines()
    assert main(["profile", "--data", str(labelled)]) == 0
    assert main(["profile", "--data", str(labelled), "--model", BERT]) == 0
    assert "has a label column" not in capsys.readouterr().out


@pytest.fixture
def imbalanced(tmp_path) -> Path:
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps({"text": f"review {i}", "label": "pos" if i % 6 else "neg"}) + "\n"
                            for i in range(36)))
    return path


def test_a_causal_lm_is_not_told_to_balance_the_classes_it_never_sees(imbalanced, capsys):
    """The imbalance warning ("always answering 'pos' scores 83.3% ... or balance the classes") is a classifier's
    advice: beside the note that a causal LM never sees the labels it contradicted it. It stays for a classifier
    and without a model (no task known)."""
    assert main(["profile", "--data", str(imbalanced), "--model", LLAMA]) == 0
    out = capsys.readouterr().out
    assert "has a label column (2 classes: 'neg', 'pos')" in out and "imbalanced" not in out, out
    # --json keeps every field (as for a classifier): the labels' warning stays the data's, the note is in notes
    assert main(["profile", "--data", str(imbalanced), "--model", LLAMA, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["labels"]["warning"].startswith("labels are imbalanced") and any(
        n.startswith(f"--data {imbalanced} has a label column (2 classes") for n in got["notes"]), got
    assert main(["profile", "--data", str(imbalanced)]) == 0
    assert "or balance the classes" in capsys.readouterr().out
    assert main(["profile", "--data", str(imbalanced), "--model", BERT]) == 0
    assert "or balance the classes" in capsys.readouterr().out


def _no_class(what: str, model: str = LLAMA) -> str:
    return (f"{what} has a label column but no class label (30 rows, the first line 1: "
            f"label 0.3 is not a whole number); {model} is a causal LM, so a plan for it trains on the text as "
            "language modelling and never sees the labels: lorplan plans sequence classification of whole-number "
            "or named classes for BERT-style encoders (e.g. sentence-transformers/all-MiniLM-L6-v2) and decoders "
            "whose config.json names their sequence classifier, and no regression; to teach a causal LM the labels, write each row as a prompt/completion pair (prompt = the "
            "text, completion = the label written out)")


@pytest.fixture
def scores(tmp_path) -> Path:
    """Regression data: every label a number that is no class label."""
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i} text", "label": (0.3, 0.7, 1.5)[i % 3]}) + "\n"
                            for i in range(30)))
    return path


def test_labels_that_are_no_class_are_not_dropped_in_silence(scores, tmp_path, capsys):
    """A label column of 0.3, 0.7 ... (regression targets) gave a causal LM's plan no note at all: its labels went
    unused in silence. plan --write, recommend and profile --model say it; a classifier refuses the file at the
    first such line (plan and recommend, one line), and profile without a model keeps its refusal warning."""
    note = _no_class(f"--data {scores}")
    assert main(["plan", "--model", LLAMA, "--rank", "8", "--data", str(scores), "--write",
                 str(tmp_path / "p.toml")]) == 0
    assert f"note: {note}" in _err_lines(capsys)
    assert main(["recommend", "--model", LLAMA, "--data", str(scores), "--probes", "none", "--json"]) == 0
    got = capsys.readouterr()
    assert {"source": "data", "rank": None, "explanation": note} in json.loads(got.out)["evidence"]
    assert main(["profile", "--data", str(scores), "--model", LLAMA]) == 0
    out = capsys.readouterr().out
    assert f"note: {note}" in out.splitlines() and "refuse these labels for a classifier" not in out, out
    assert main(["profile", "--data", str(scores), "--model", LLAMA, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert note in got["notes"] and got["bad_labels"] == 30 and got["label_problems"][0]["line"] == 1, got
    assert main(["profile", "--data", str(scores)]) == 0
    assert "warning: 30 rows have a label that is no class label" in capsys.readouterr().out
    refusal = "line 1: label 0.3 is not a whole number"
    for command in (["plan", "--rank", "8", "--write", str(tmp_path / "c.toml")], ["recommend", "--probes", "none"]):
        assert main([*command, "--model", "sentence-transformers/all-MiniLM-L6-v2", "--data", str(scores)]) == 2
        err = capsys.readouterr().err
        assert f"--data {scores}: " in err and refusal in err and "has a label column" not in err, err


def test_some_labels_no_class_beside_classes_are_counted_in_the_note():
    from lorplan.core.data.labels import labels_unused_note

    note = labels_unused_note("--data d.jsonl", LLAMA, [0, 1], "causal-lm", no_class="line 3: label 2.5 is not a "
                              "whole number; a class label is a whole number (its class id) or a name",
                              no_class_rows=1)
    assert note.startswith("--data d.jsonl has a label column (2 classes: 0, 1; 1 row has a label that is no class "
                           f"label, line 3: label 2.5 is not a whole number); {LLAMA} is a causal LM"), note
    # many rows: in the words of the profile's warning (label_refusal); none a class label: not said twice
    assert labels_unused_note("d", LLAMA, [0, 1], "causal-lm", no_class="line 3: label 2.5 is not a whole number",
                              no_class_rows=10).startswith(
        "d has a label column (2 classes: 0, 1; 10 rows have a label that is no class label, the first line 3: ")
    for rows, said in ((None, "the first line 1: "), (1, "line 1: "), (30, "30 rows, the first line 1: ")):
        note = labels_unused_note("d", LLAMA, [], "causal-lm", no_class="line 1: label 0.3 is not a whole number",
                                  no_class_rows=rows)
        assert note.startswith(f"d has a label column but no class label ({said}label 0.3 is not a whole number); "
                               ), note
    assert labels_unused_note("d", LLAMA, [], "sequence-classification", no_class="line 1: label 0.3") is None


def test_named_labels_are_listed_in_order_and_many_counted(tmp_path, capsys):
    data = tmp_path / "topics.jsonl"
    names = ["sport", "art", "law", "food", "war", "sea", "sky", "tax"]
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": names[i % 8]}) + "\n" for i in range(40)))
    assert main(["profile", "--data", str(data), "--model", LLAMA]) == 0
    classes = "8 classes: 'art', 'food', 'law', 'sea', 'sky', 'sport', ... 2 more"
    assert f"note: {_note(f'--data {data}', classes=classes)}" in capsys.readouterr().out.splitlines()


def test_train_says_it_before_it_trains(labelled, tmp_path, capsys):
    """check_inputs, train's start checks (before torch), on a model folder: named by its short name, as the
    recommender's evidence names one (the folder's full path made the note wrap further). Train reads the labels
    of the first 20,000 rows alone: a class past them is not named, and the note says whose classes it names."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan

    folder = _llama_folder(tmp_path)
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "2", "--seq-len", "64", "--data", str(labelled),
                 "--write", str(plan)]) == 0
    assert f"note: {_note(f'--data {labelled}', model='llama')}" in _err_lines(capsys)
    _, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    assert f"note: {_note(f'{plan}: data.path {labelled}', model='llama')}" in notes, notes
    labelled.write_text("".join(json.dumps({"text": f"row {i}", "label": 2 if i == 20_000 else i % 2}) + "\n"
                                for i in range(20_001)))
    _, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    classes = "2 classes in its first 20,000 rows: 0, 1"
    assert f"note: {_note(f'{plan}: data.path {labelled}', model='llama', classes=classes)}" in notes, notes


def test_train_says_it_for_labels_that_are_no_class(scores, tmp_path, capsys):
    """check_inputs passed no first bad label: regression targets went unused by train in silence."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan

    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(_llama_folder(tmp_path)), "--rank", "2", "--seq-len", "64", "--data",
                 str(scores), "--write", str(plan)]) == 0
    capsys.readouterr()
    _, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    head = f"note: {plan}: data.path {scores} has a label column but no class label ("
    said = [n for n in notes if n.startswith(head)]
    assert len(said) == 1 and "line 1: label 0.3 is not a whole number" in said[0], notes
    assert "llama is a causal LM" in said[0] and "never sees the labels" in said[0], said


def test_prompt_completion_rows_are_told_where_the_label_goes_not_to_become_pairs(tmp_path, capsys):
    """Rows that are already prompt/completion pairs (or chats): the plan trains on them, not on "the text", and
    the advice is the label's word in what the model learns, not a rewrite as pairs."""
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"review {i}: good?", "completion": " yes", "label": i % 2}) + "\n"
                            for i in range(40)))
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                     {"role": "assistant", "content": "a"}], "label": i % 2}) + "\n"
                            for i in range(40)))
    assert main(["profile", "--data", str(data), "--model", LLAMA]) == 0
    assert main(["profile", "--data", str(chat), "--model", LLAMA]) == 0
    out = capsys.readouterr().out.splitlines()
    tail = ("is a causal LM, so a plan for it trains on the {} rows as language modelling and never sees the "
            "labels: lorplan plans sequence classification for BERT-style encoders (e.g. "
            "sentence-transformers/all-MiniLM-L6-v2) and decoders whose config.json names their sequence "
            "classifier; to teach a causal LM the labels, write each row's label word "
            "into its {}")
    assert (f"note: --data {data} has a label column (2 classes: 0, 1); {LLAMA} "
            f"{tail.format('prompt-completion', 'completion')}") in out
    assert (f"note: --data {chat} has a label column (2 classes: 0, 1); {LLAMA} "
            f"{tail.format('messages', 'assistant turn')}") in out


def test_a_ladder_carries_it_into_its_recommendation(tmp_path, state_home, monkeypatch, capsys):
    """The probe ladder's path (built for real, caught before its probes start, as tests/recommend do): said
    before the probes' minutes, and the ladder's recommendation, read from its spec, names it as evidence after
    the probes' entry, as the prior's recommendation does."""
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend.ladder_spec import LadderState
    from lorplan.recommend.measured import recommendation_json

    folder = _llama_folder(tmp_path)
    data = tmp_path / "reviews.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i} was {'good' if i % 2 else 'bad'} and more words",
                                        "label": i % 2}) + "\n" for i in range(200)))
    seen = []
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: seen.append(ladder) or 0)
    assert main(["recommend", "--model", str(folder), "--data", str(data)]) == 0
    note = _note(f"--data {data}", model="llama")
    assert f"note: {note}" in _err_lines(capsys)
    (ladder,) = seen
    evidence = recommendation_json(ladder.spec, [], LadderState())["evidence"]
    sources = [e["source"] for e in evidence]
    assert sources.index("data") == sources.index("probes") + 1, sources
    assert {"source": "data", "rank": None, "explanation": note} in evidence


def test_the_data_tab_says_it_for_a_causal_lm_alone(labelled):
    from lorplan.core.data import profile_dataset
    from lorplan.tui.panels.data_panel import figures_text

    profile = profile_dataset(labelled, model=LLAMA)
    lines = figures_text(profile, model=LLAMA).splitlines()
    assert f"note: {_note(str(labelled))}" in lines  # the panel's data file, named by its path
    narrow = figures_text(profile, narrow=True, model=LLAMA)  # under 110 columns: on the labels line
    assert "labels     2 classes: 0 → 20 · 1 → 20 (ignored by a causal LM)" in narrow.splitlines()
    assert "has a label column" not in narrow
    assert "has a label column" not in figures_text(profile, model=LLAMA, classifier=True)
    assert "ignored by a causal LM" not in figures_text(profile, narrow=True, model=LLAMA, classifier=True)
    assert "has a label column" not in figures_text(profile)  # no model chosen yet


def test_the_data_tab_names_a_model_folder_as_the_cli_does_and_drops_a_classifiers_words(imbalanced, scores,
                                                                                          tmp_path):
    """The Data tab named a model folder by its absolute path (the plan's spec.id), the CLI by
    core.model.names.model_name; for a causal LM it still warned of the imbalance and refused 0.3 labels, a
    classifier's words beside the note that the labels go unused."""
    from lorplan.core.data import profile_dataset
    from lorplan.tui.panels.data_panel import figures_text

    folder = str(tmp_path / "my-llama")
    profile = profile_dataset(imbalanced)
    wide = figures_text(profile, model=folder)
    assert f"note: {imbalanced} has a label column (2 classes: 'neg', 'pos'); my-llama is a causal LM" in wide, wide
    assert folder not in wide and "⚠" not in wide
    assert "⚠ imbalanced" not in figures_text(profile, narrow=True, model=folder)
    assert "⚠ labels are imbalanced" in figures_text(profile, model=folder, classifier=True)
    assert "⚠ labels are imbalanced" in figures_text(profile)  # no model chosen yet
    profile = profile_dataset(scores)
    assert f"note: {_no_class(str(scores))}" in figures_text(profile, model=LLAMA).splitlines()
    narrow = figures_text(profile, narrow=True, model=LLAMA).splitlines()
    assert "labels     30 rows, none a class label (ignored by a causal LM)" in narrow
    assert not any("refused" in line or "has a label column" in line for line in narrow), narrow
    assert "⚠ refused: line 1: label 0.3 is not a whole number (30 rows)" in figures_text(profile, classifier=True,
                                                                                           model=LLAMA)
