"""What a path that is neither a regular file nor a folder is, in words, for the refusals that name it.

A named pipe with no writer keeps a read waiting for ever, and a device (/dev/null) reads as empty or without
end, so a plan, a model path or an export's -o naming one is refused saying what it is instead of being read.
Stdlib only.
"""

from __future__ import annotations

import os
import stat


def special_kind(path: str | os.PathLike) -> str:
    """"a named pipe", "a device" (character or block) or "a socket" for a path that is there and is none of a
    regular file and a folder (links followed); "" for anything else: a file, a folder, a missing or unreadable
    path, a name the OS is never asked about (one holding a NUL byte), each left to the caller's own read."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return ""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else ""
