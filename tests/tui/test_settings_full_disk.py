"""The planner's settings on a full disk: every theme, model or setup change tried to save them and each failure
was a new toast ("could not save settings to ...: [Errno 28] No space left on device"). Now once for each reason
until a save works again, in words; the settings stay for the session. The full disk is simulated at the OS
boundary (os.fsync raising ENOSPC): CI cannot mount one."""

from __future__ import annotations

import errno
import os

import pytest
from tui_helpers import wait_until

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


async def test_a_full_disk_is_told_once_until_a_save_works(make_app, tmp_path, monkeypatch):
    app = make_app(config_path=tmp_path / "cfg" / "config.toml")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def told() -> list[str]:
        return [n.message for n in app._notifications if "could not save settings" in n.message]

    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query("#tabs"))
        monkeypatch.setattr("lorplan.core.atomic.os.fsync", full)
        for theme in ("light", "dark", "high-contrast"):
            app.theme = theme
            await pilot.pause()
        assert len(told()) == 1, told()  # was one per change
        assert "(No space left on device); this session keeps them" in told()[0] and "Errno" not in told()[0]
        assert app.user_config.theme == "high-contrast"  # kept for the session
        monkeypatch.undo()  # space again: the next change saves, and a later failure is told again
        app.theme = "light"
        await pilot.pause()
        monkeypatch.setattr("lorplan.core.atomic.os.fsync", full)
        app.theme = "dark"
        await pilot.pause()
        assert len(told()) == 2, told()
