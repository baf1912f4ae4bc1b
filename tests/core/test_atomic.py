"""Atomic replacement: readable permissions, no temp files left, the old file intact when a write fails."""

import stat

import pytest

from lorplan.core.atomic import replace_text
from lorplan.core.errors import BadInput
from lorplan.core.export.files import write_text_atomic


def test_replace_text_writes_readable_file(tmp_path):
    path = replace_text(tmp_path / "plan.toml", "a = 1\n")
    assert path.read_text() == "a = 1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["plan.toml"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        replace_text(path, "half \ud800 written")  # a lone surrogate cannot be encoded mid-write
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.toml"]


def test_export_writer_refuses_overwrite_and_unwritable_folder(tmp_path):
    path = tmp_path / "out.yaml"
    write_text_atomic(path, "x: 1\n")
    with pytest.raises(BadInput, match="already exists"):
        write_text_atomic(path, "x: 2\n")
    assert path.read_text() == "x: 1\n"
    write_text_atomic(path, "x: 2\n", force=True)
    assert path.read_text() == "x: 2\n"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BadInput, match="cannot write there"):
        write_text_atomic(blocker / "sub" / "out.yaml", "x: 3\n")
