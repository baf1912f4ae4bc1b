"""Atomic file writing shared by the plan file and the exporters.

A file is written to a temporary name in the same folder, flushed and fsynced, then moved over the target with
`os.replace`, so a reader sees the old file or the new one, never half of one. An existing file is never
replaced unless `force` is true: the user loses nothing they already had.
"""

from __future__ import annotations

import os
from pathlib import Path

from lorplan.core.atomic import replace_text
from lorplan.core.errors import BadInput


def check_free(path: Path, force: bool) -> None:
    """Raise BadInput when `path` exists and `force` is false (one line naming the path)."""
    if path.is_dir():
        raise BadInput(f"{path} is a folder; give a file name")
    if path.exists() and not force:
        raise BadInput(f"{path} already exists; pass --force to overwrite it")


def write_text_atomic(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write `text` (UTF-8) to `path` atomically; refuse to replace an existing file unless `force`.

    Creates missing parent folders. Returns the path written. A folder that cannot be written is BadInput.
    """
    target = Path(path)
    check_free(target, force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return replace_text(target, text)
    except OSError as exc:
        raise BadInput(f"{target}: cannot write there ({exc.strerror or exc})") from None


def write_files_atomic(files: dict[Path, str], *, force: bool = False) -> list[Path]:
    """Write several files; checks every target first so that nothing is written when one would be refused."""
    for path in files:
        check_free(Path(path), force)
    return [write_text_atomic(path, text, force=force) for path, text in files.items()]
