"""Atomic file replacement: the one way lorplan writes a file that someone may be reading.

The text goes to a temporary name in the same folder, is flushed and fsynced, then moved over the target with
`os.replace`, so a reader (or a crash at any moment) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_text(path: str | os.PathLike, text: str, *, mode: int = 0o644) -> Path:
    """Write `text` as UTF-8 to `path` atomically, with permissions `mode` (mkstemp alone would leave 0600).

    The parent folder must exist. Raises OSError as the OS reports it. Returns the path written.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
