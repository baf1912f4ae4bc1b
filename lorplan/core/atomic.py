"""Atomic file replacement: the one way lorplan writes a file that someone may be reading.

The text goes to a temporary name in the same folder, is flushed and fsynced, then moved over the target with
`os.replace`, so a reader (or a crash at any moment) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def replace_text(path: str | os.PathLike, text: str, *, mode: int = 0o644) -> Path:
    """Write `text` as UTF-8 to `path` atomically, with permissions `mode` (mkstemp alone would leave 0600).

    The parent folder must exist. Raises OSError as the OS reports it. Returns the path written.
    """
    return replace_texts({Path(path): text}, mode=mode)[0]


def replace_texts(files: dict[Path, str], *, mode: int = 0o644, replace: bool = True) -> list[Path]:
    """Write several files as one: every text goes to its temporary name first (flushed, fsynced), and only when
    all are written are they moved over their targets, so a write that fails (a full disk) leaves every target
    as it was, not some old and some new. The parent folders must exist. Raises OSError as the OS reports it.

    replace=False: no existing file is replaced, even one that appeared after the caller checked (another
    program writing the same name meanwhile): each file is put in place with os.link, which fails when the
    name is taken, and FileExistsError (naming the target) is raised with the files this call had already put
    in place removed again. A file system without hard links falls back to os.replace."""
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for path, text in files.items():
            target = Path(path)
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
                staged.append((tmp, target))
                os.fchmod(fd, mode)
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:  # named by the file the user asked for, not its temporary name (or none)
                exc.filename = str(target)
                raise
        for tmp, target in staged:
            if not replace and _link(tmp, target):
                placed.append(target)
                os.unlink(tmp)
            else:
                os.replace(tmp, target)
    except BaseException:
        for target in placed:  # new files of this call only: replace=False put nothing over an old one
            try:
                os.unlink(target)
            except OSError:
                pass
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:  # already moved over its target
                pass
        raise
    return [target for _, target in staged]


def _link(tmp: str, target: Path) -> bool:
    """Hard-link `tmp` at `target`; False where the file system has no hard links (the caller replaces).
    FileExistsError, naming `target`, when the name is taken."""
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError as exc:
        exc.filename = str(target)
        raise
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            return False
        raise
    return True
