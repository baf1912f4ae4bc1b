"""`--write` refusals name the flag: with --data, --model and --write on one command line, "plan.toml already
exists" did not say which argument was meant."""

from __future__ import annotations

import pytest

from lorplan.cli import main

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.parametrize("command", [["plan", "--model", QWEN, "--rank", "8"],
                                     ["recommend", "--model", QWEN, "--trained-tokens", "1M"]])
def test_an_existing_file_and_a_folder_are_refused_naming_write(command, tmp_path, capsys):
    existing = tmp_path / "plan.toml"
    existing.write_text("# mine\n")
    for target, said in ((existing, "that file already exists; pass --force to overwrite it"),
                         (tmp_path, "that is a folder; give a file name")):
        assert main([*command, "--write", str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"lorplan {command[0]}: error: --write {target}: {said}", err
    assert existing.read_text() == "# mine\n"
    assert main([*command, "--write", str(existing), "--force"]) == 0, capsys.readouterr().err
    assert existing.read_text() != "# mine\n"
