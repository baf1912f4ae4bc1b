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


def _appears_during_write(monkeypatch, path, text="theirs\n"):
    """Another program writes `path` after the writer checked it was free (at the writer's fsync)."""
    import os

    real = os.fsync

    def fsync(fd):
        real(fd)
        if not path.exists():
            path.write_text(text)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_file_made_during_the_write_is_kept_without_force(tmp_path, monkeypatch):
    # check_free looked, then os.replace put lorplan's file over one another program had just written
    path = tmp_path / "out.yaml"
    _appears_during_write(monkeypatch, path)
    with pytest.raises(BadInput) as exc:
        write_text_atomic(path, "ours\n")
    assert str(exc.value) == f"{path} already exists (made while lorplan was writing it); pass --force to overwrite it"
    assert path.read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]  # no temporary file left


def test_several_files_none_left_when_one_was_taken_meanwhile(tmp_path, monkeypatch):
    from lorplan.core.export.files import write_files_atomic

    first, second = tmp_path / "new" / "a.yaml", tmp_path / "new" / "b.yaml"
    _appears_during_write(monkeypatch, second)
    with pytest.raises(BadInput, match="b.yaml already exists"):
        write_files_atomic({first: "a\n", second: "b\n"})
    assert not first.exists()  # this call's own new file is taken back: all or none
    assert second.read_text() == "theirs\n"
    assert sorted(p.name for p in second.parent.iterdir()) == ["b.yaml"]


def test_force_still_replaces(tmp_path, monkeypatch):
    path = tmp_path / "out.yaml"
    _appears_during_write(monkeypatch, path)
    write_text_atomic(path, "ours\n", force=True)
    assert path.read_text() == "ours\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
