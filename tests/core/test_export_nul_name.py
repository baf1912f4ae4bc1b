"""A NUL byte in a file name (a plan's output path, `-o` given by a program calling lorplan.cli.main) reached
pathlib and os, whose ValueError ('embedded null byte') ended `lorplan export` in a traceback. Now
write_files_atomic refuses it as BadInput naming the path (the byte shown as \\x00), before it makes anything, and
the CLI prints that one line, exit 2. No shell can pass a NUL in argv, so the CLI is called in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export.files import write_files_atomic, write_text_atomic

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
WHY = "cannot write there (the name holds a NUL byte, \\x00, which no file system takes): choose another name"


@pytest.mark.parametrize("name", ["a\x00b.json", "a\x00b/c.json"], ids=["file", "folder"])
def test_a_nul_in_a_name_is_bad_input_and_nothing_is_written(tmp_path, name):
    ok = tmp_path / "ok.json"
    with pytest.raises(BadInput) as exc:
        write_files_atomic({ok: "{}", tmp_path / name: "{}"})
    assert str(exc.value) == f"{tmp_path}/{name.replace(chr(0), chr(92) + 'x00')}: {WHY}"
    assert list(tmp_path.iterdir()) == []  # the good file of the pair neither, and no folder
    with pytest.raises(BadInput, match="NUL byte"):
        write_text_atomic(tmp_path / name, "{}")


@pytest.mark.parametrize(("to", "name", "written"), [("axolotl", "a\x00b.yaml", "a\\x00b.yaml"),
                                                     ("peft", "a\x00b", "a\\x00b/adapter_config.json")])
def test_export_prints_one_line_and_exits_2(tmp_path, capsys, to, name, written):
    rc = main(["export", str(SAMPLES / "mistral-7b-fsdp-2gpu.toml"), "--to", to, "-o", str(tmp_path / name)])
    cap = capsys.readouterr()
    assert (rc, cap.out) == (2, "")
    assert cap.err == f"lorplan export: error: {tmp_path}/{written}: {WHY}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["missing/a\x00b.yaml", "missing\x00dir/a.yaml"], ids=["file", "folder"])
def test_a_missing_folder_with_a_nul_in_the_name_shows_the_byte_escaped(tmp_path, capsys, name):
    """-o's folder is checked before write_files_atomic sees the name: its refusal printed the NUL byte itself
    ('-o /tmp/missing/a<NUL>b.yaml: folder ... does not exist'), which a terminal shows as nothing, and no folder
    made would let the name be written."""
    rc = main(["export", str(SAMPLES / "mistral-7b-fsdp-2gpu.toml"), "--to", "axolotl", "-o", str(tmp_path / name)])
    cap = capsys.readouterr()
    assert (rc, cap.out) == (2, "")
    shown = str(tmp_path / name).replace("\x00", "\\x00")
    assert cap.err == f"lorplan export: error: -o {shown}: {WHY}\n"
    assert "\x00" not in cap.err
    assert list(tmp_path.iterdir()) == []
