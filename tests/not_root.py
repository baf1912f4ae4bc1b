"""Run a call as a user that is not root: root reads any file whatever its permissions (and the CI container runs
as root), so a permission test forks a child that drops to the user nobody first."""

from __future__ import annotations

import os


def error_without_root(call) -> str:
    """`Type: message` of what call() raises (`BadInput: ...` for lorplan's BadInput and its kinds), or "no
    error", run in a forked child that drops root to the user nobody first."""
    from lorplan.core.errors import BadInput

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                call()
                message = "no error"
            except BaseException as exc:
                name = "BadInput" if isinstance(exc, BadInput) else type(exc).__name__
                message = f"{name}: {exc}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as fh:
        message = fh.read()
    os.waitpid(pid, 0)
    return message
