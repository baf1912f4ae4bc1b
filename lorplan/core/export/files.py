"""Atomic file writing shared by the plan file and the exporters.

A file is written to a temporary name in the same folder, flushed and fsynced, then moved over the target with
`os.replace`, so a reader sees the old file or the new one, never half of one. An existing file is never
replaced unless `force` is true: the user loses nothing they already had.
"""

from __future__ import annotations

import os
from pathlib import Path

from lorplan.core.atomic import replace_texts
from lorplan.core.errors import NUL_NAME, BadInput, shown_name
from lorplan.core.filekind import special_kind


def check_free(path: Path, force: bool) -> None:
    """Raise BadInput when `path` exists and `force` is false (one line naming the path). A symbolic link to
    nothing (a dangling link, a loop) is there too: os.replace would put the file in the link's place."""
    if path.is_dir():
        raise BadInput(f"{path} is a folder; give a file name")
    if (path.exists() or path.is_symlink()) and not force:
        raise BadInput(f"{path} already exists{link_to_nothing(path)}; pass --force to overwrite it")


def link_to_nothing(path: Path) -> str:
    """" (a link to TARGET, which is not there)" when `path` is a symbolic link that leads to no file (a dangling
    link or a loop), which Path.exists() reads as no file at all; "" otherwise."""
    if path.is_symlink() and not path.exists():
        return f" (a link to {os.readlink(path)}, which is not there)"
    return ""


def folder_blocked(folder: Path) -> str | None:
    """Why no folder can be made at `folder`: the nearest of it and the folders above it that is there is not a
    folder ("lf-data is a file, not a folder"; a named pipe, a device; a link to nothing), or None when that one
    is a folder, none is there, or the OS will not say (the write that follows reports it)."""
    try:
        for above in (folder, *folder.parents):
            if above.is_symlink() and not above.exists():  # a dangling link or a loop: mkdir says File exists
                return f"{above} is a link to {os.readlink(above)}, which is not there"
            if above.exists():
                return None if above.is_dir() else f"{above} is {special_kind(above) or 'a file'}, not a folder"
    except OSError:  # a folder that may not be looked in, a name too long
        return None
    return None


def write_text_atomic(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write `text` (UTF-8) to `path` atomically; refuse to replace an existing file unless `force`.

    Creates missing parent folders. Returns the path written. A folder that cannot be written is BadInput.
    """
    return write_files_atomic({Path(path): text}, force=force)[0]


def write_files_atomic(files: dict[Path, str], *, force: bool = False) -> list[Path]:
    """Write several files as one (core.atomic.replace_texts): every target is checked first, so nothing is
    written when one would be refused, and a write that fails (a full disk, a read-only folder) leaves the old
    files as they were and no folder it made: BadInput naming the file. A name with a NUL byte is BadInput too,
    before anything is made."""
    targets = {Path(path): text for path, text in files.items()}
    for path in targets:
        if "\x00" in str(path):  # else ValueError (embedded null byte) from pathlib or os, and a traceback
            raise BadInput(f"{shown_name(path)}: cannot write there ({NUL_NAME}): choose another name")
        # before check_free's "pass --force": no --force gets past a file where a folder must be
        blocked = folder_blocked(path.parent)
        if blocked is not None:  # else mkdir's "PATH: cannot write there (File exists)", naming no file
            raise BadInput(f"{path}: cannot write there: {blocked}")
    for path in targets:
        check_free(path, force)
    made: list[Path] = []
    where = next(iter(targets), None)  # the file named when a folder for it cannot be made
    try:
        for where in targets:
            missing = [p for p in (where.parent, *where.parent.parents) if not p.exists()]
            where.parent.mkdir(parents=True, exist_ok=True)
            made.extend(missing)
        return replace_texts(targets, replace=force)
    except OSError as exc:
        _remove_empty(made)
        if exc.filename is not None and Path(exc.filename) in targets:  # replace_texts names the file it wrote
            where = Path(exc.filename)
            if isinstance(exc, FileExistsError) and not force:
                # made since check_free looked (another program, another shell): kept, as check_free keeps it
                raise BadInput(f"{where} already exists (made while lorplan was writing it); "
                               "pass --force to overwrite it") from None
        raise BadInput(f"{where}: cannot write there ({exc.strerror or exc})") from None


def _remove_empty(made: list[Path]) -> None:
    """Remove the folders a failed write made, deepest first, each only when it is empty."""
    for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass
