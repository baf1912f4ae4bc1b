"""Wording a new user met: "1 classes", a held-out split whose reason read as 10% when the floor of 20 decided
(20 of 120 is 16.7%), and a data file given as --model reported as "config.json at pc.jsonl is not valid JSON"."""

from __future__ import annotations

import json
import os

import pytest

from lorplan.cli import main
from lorplan.core.data.stats import suggest_split


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_one_label_is_one_class_and_the_warning_says_a_classifier_needs_two(tmp_path, capsys):
    one = write_jsonl(tmp_path / "one.jsonl", [{"text": f"row {i}", "label": 1} for i in range(120)])
    assert main(["profile", "--data", one]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "labels           1 class: 1 → 120 (100%)" in lines, lines
    assert any(x.startswith("warning:") and "a classifier needs at least two label values" in x for x in lines)
    two = write_jsonl(tmp_path / "two.jsonl", [{"text": f"row {i}", "label": i % 2} for i in range(120)])
    assert main(["profile", "--data", two]) == 0
    assert any(x.startswith("labels           2 classes: ") for x in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("examples, eval_n, reason", [
    (120, 20, "20 of 120 held out for evaluation: 10% of the rows but at least 20, so 16.7%"),
    (1000, 100, "100 of 1,000 held out for evaluation: 10%, at least 20 and at most 2,000 examples"),
    (30000, 2000, "2,000 of 30,000 held out for evaluation: 10% of the rows but at most 2,000, so 6.7%"),
    (49, 0, "fewer than 50 examples: train on all of them and watch the training loss"),
])
def test_the_split_reason_names_the_part_of_the_rule_that_decided(examples, eval_n, reason):
    split = suggest_split(examples)
    assert (split.train, split.eval, split.reason) == (examples - eval_n, eval_n, reason)


def test_the_written_plans_eval_split_and_its_reason_agree(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": f"q {i}", "completion": " a"} for i in range(120)])
    assert main(["plan", "--model", "Qwen/Qwen2.5-0.5B", "--rank", "8", "--data", data, "--write",
                 str(tmp_path / "p.toml")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("data "))
    assert "eval_split 0.1667 (20 of 120 held out for evaluation: 10% of the rows but at least 20, so 16.7%)" in line


@pytest.mark.parametrize("name, content, expected", [
    ("pc.jsonl", '{"prompt": "q", "completion": "a"}\n{"prompt": "q", "completion": "b"}\n',
     "model path {path} is a file, not a model folder or a config.json"),
    ("rows.json", '[{"text": "a"}]', "{path} (given as a model's config.json) is not a JSON object"),
    ("broken.json", "{oops", "{path} (given as a model's config.json) is not valid JSON"),
])
def test_a_file_given_as_the_model_is_named_as_such(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    assert main(["plan", "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lorplan plan: error: {expected.format(path=path)}") and err.count("\n") == 1, err
    assert "config.json at" not in err


def test_a_config_json_is_still_read_and_a_broken_one_named_as_before(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{oops")
    assert main(["plan", "--model", str(tmp_path / "config.json")]) == 2
    assert f"config.json at {tmp_path / 'config.json'} is not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("special", ["device", "named pipe"])
@pytest.mark.parametrize("command", [["plan"], ["probe", "start", "--data", "{data}"], ["profile", "--data", "{data}"],
                                     ["recommend", "--trained-tokens", "1M"]],
                         ids=["plan", "probe-start", "profile", "recommend"])
def test_a_path_that_is_no_folder_nor_file_is_named_so(tmp_path, state_home, capsys, special, command):
    # /dev/null read "model folder /dev/null has no config.json" (plan, probe start, recommend) and `profile`
    # counted "no tokenizer files in /dev/null" with exit 0
    data = write_jsonl(tmp_path / "rows.jsonl", [{"text": "a b"}, {"text": "c d"}])
    path = "/dev/null"
    if special == "named pipe":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    args = [a.format(data=data) for a in command]
    assert main([*args, "--model", path]) == 2
    err = capsys.readouterr().err
    assert err == f"lorplan {' '.join(command[:2]) if command[0] == 'probe' else command[0]}: error: model path " \
                  f"{path} is a {special}, not a model folder or a config.json\n", err
    assert not state_home.exists() or not any(state_home.iterdir())
