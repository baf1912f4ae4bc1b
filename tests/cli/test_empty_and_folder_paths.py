"""An empty path is refused, not read as the current folder (`lorplan profile --data ""` profiled the working
folder's .txt files, exit 0), and a folder given as the plan says so, not "cannot read the plan
(IsADirectoryError)": one line naming the input, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lorplan.cli import main

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def txt_folder(tmp_path, monkeypatch):
    """A working folder that is itself a readable txt-folder dataset (what an empty path used to profile)."""
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"document number {i}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_error(capsys, argv, expected: str) -> str:
    with pytest.raises(SystemExit) as exc:  # argparse's own exit, as for every bad flag value
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, expected", [
    (["profile", "--data", ""], "lorplan profile: error: --data: empty path"),
    (["profile", "--data", "  "], "lorplan profile: error: --data: empty path"),
    (["profile", "--data", "x.jsonl", "--tokenizer", ""], "lorplan profile: error: --tokenizer: empty path"),
    (["recommend", "--model", MINILM, "--data", "", "--probes", "none"], "lorplan recommend: error: --data: empty path"),
    (["plan", "--model", MINILM, "--data", "", "--write", "p.toml"], "lorplan plan: error: --data: empty path"),
    (["train", "plan.toml", "--output", ""], "lorplan train: error: --output: empty path"),
    (["export", "plan.toml", "--to", "peft", "-o", ""], "lorplan export: error: -o/--output: empty path"),
    (["probe", "start", "--ranks", "4", "--data", ""], "lorplan probe start: error: --data: empty path"),
])
def test_an_empty_path_is_refused_naming_the_flag(txt_folder, capsys, argv, expected):
    one_line_error(capsys, argv, expected)
    assert not (txt_folder / "p.toml").exists()


def test_the_working_folder_is_still_profiled_when_named(txt_folder, capsys):
    """`--data .` is a real folder, given on purpose: still profiled."""
    assert main(["profile", "--data", "."]) == 0
    out = capsys.readouterr().out
    assert out.startswith(".: txt-folder") and "examples         3 " in out, out


@pytest.mark.parametrize("command", [["train"], ["export", "--to", "peft"]])
def test_a_folder_or_an_empty_path_is_not_a_plan_file(tmp_path, capsys, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "runs"
    folder.mkdir()
    name = command[0]
    for given, expected in ((str(folder), f"lorplan {name}: error: {folder} is a folder, not a plan file"),
                            ("", f"lorplan {name}: error: PLAN.toml: empty path")):
        assert main([name, given, *command[1:]]) == 2
        err = capsys.readouterr().err
        assert err.startswith(expected) and err.count("\n") == 1, err
        assert "IsADirectoryError" not in err
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())  # nothing written


def test_a_fresh_process_says_it_in_one_line_without_loading_torch(tmp_path):
    code = ("import sys; from lorplan.cli import main; rc = main(['train', sys.argv[1]]); "
            "assert 'torch' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"lorplan train: error: {tmp_path} is a folder, not a plan file (give the plan's .toml file)\n"
