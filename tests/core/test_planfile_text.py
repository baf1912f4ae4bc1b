"""Plan files whose text, not their values, is the problem: every case is one BadInput naming the file (the
CLI's exit 2), never a traceback. TOML nested deeper than tomllib recurses was a RecursionError, a symlink
loop an OSError, an unreadable file "cannot read the plan (PermissionError)"; a file saved with a UTF-8 byte
order mark (Windows Notepad) read "Invalid statement (at line 1, column 1)"; a NUL character in a path or name
loaded and reached the OS later (ValueError: embedded null byte)."""

from __future__ import annotations

import os

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.plan import dumps_plan, read_plan


@pytest.fixture
def good(tmp_path, capsys) -> str:
    path = tmp_path / "good.toml"
    assert main(["plan", "--model", "gpt2", "--write", str(path), "--rank", "8"]) == 0
    capsys.readouterr()
    return path.read_text()


@pytest.mark.parametrize(("text", "says"), [
    ("x = " + "[" * 5000 + "]" * 5000, "not valid TOML (tables or arrays nested too deeply"),
    ("x = " + "{a = " * 3000 + "1" + "}" * 3000, "not valid TOML (tables or arrays nested too deeply"),
], ids=["arrays", "inline-tables"])
def test_deep_nesting_is_one_line(tmp_path, text, says):
    path = tmp_path / "deep é.toml"
    path.write_text(text)
    with pytest.raises(BadInput) as exc:
        read_plan(path)
    assert str(exc.value).startswith(f"{path}: {says}"), exc.value


def test_a_symlink_loop_is_one_line(tmp_path, capsys):
    path = tmp_path / "loop.toml"
    os.symlink(path, path)
    with pytest.raises(BadInput, match=r"loop\.toml: cannot read the plan \(Too many levels of symbolic links\)"):
        read_plan(path)
    rc = main(["export", str(path), "--to", "peft"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err


def test_a_nul_byte_in_the_file_name_is_one_line_naming_it():
    """read_plan("a\\x00b.toml") raised Python's bare ValueError("embedded null byte") to its Python callers. The
    name as written, the byte as \\x00 (as --output and an export's name say it): not Python's repr, which doubled
    a backslash the name holds."""
    with pytest.raises(BadInput) as caught:
        read_plan("plans\\a\x00b.toml")
    assert str(caught.value) == ("plans\\a\\x00b.toml: cannot read the plan (the name holds a NUL byte, \\x00, "
                                 "which no file system takes)")


def test_bytes_that_are_not_utf8_name_the_byte(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"version = 1\n# caf\xe9\n")
    with pytest.raises(BadInput, match=r"latin1\.toml: not UTF-8 text \(line 2: byte b'\\xe9'\)"):
        read_plan(path)


def test_a_byte_order_mark_is_read_past(tmp_path, good):
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + good.encode())
    assert dumps_plan(read_plan(path)) == good


@pytest.mark.parametrize(("old", "new", "key"), [
    ('output_dir = "outputs/gpt2-r8"', 'output_dir = "out\\u0000put"', "training.output_dir"),
    ('path = "data/train.jsonl"', 'path = "data\\u0000.jsonl"', "data.path"),
    ('id = "openai-community/gpt2"', 'id = "gpt\\u00002"', "model.id"),
    ('"all-linear",', '"q\\u0000proj",', "lora.target_modules"),
])
def test_a_nul_character_is_refused_naming_the_key(tmp_path, good, old, new, key):
    path = tmp_path / "nul.toml"
    assert old in good
    path.write_text(good.replace(old, new, 1))
    with pytest.raises(BadInput) as exc:
        read_plan(path)
    assert f"{path}: {key}: contains a NUL character (\\u0000)" in str(exc.value).splitlines(), exc.value


def test_a_wrong_value_inside_a_table_is_quoted_short(tmp_path, good):
    # a subtable in estimate.details quoted the whole subtable, every later key of the table with it
    path = tmp_path / "sub.toml"
    path.write_text(good.replace("all_gradients = ", "[estimate.details.all_gradients]\nx = ", 1))
    with pytest.raises(BadInput) as exc:
        read_plan(path)
    (line,) = [ln for ln in str(exc.value).splitlines() if "estimate.details" in ln]
    assert line.startswith(f"{path}: estimate.details: 'all_gradients' = {{'x': ") and len(line) < len(str(path)) + 140, line
    assert line.endswith(": must be an integer, not a table"), line


def test_the_header_names_the_flag_a_plan_asking_for_remote_code_needs(tmp_path, good):
    # lorplan train refuses a plan with model.trust_remote_code = true unless the user types --trust-remote-code:
    # the header's command must be one that runs
    from dataclasses import replace

    path = tmp_path / "p.toml"
    path.write_text(good)
    plan = read_plan(path)
    assert dumps_plan(plan).splitlines()[0].endswith("Train it: lorplan train THIS.toml")
    asking = replace(plan, model=replace(plan.model, trust_remote_code=True))
    assert dumps_plan(asking).splitlines()[0].endswith("Train it: lorplan train --trust-remote-code THIS.toml")
