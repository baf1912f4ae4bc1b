"""A model folder (or hub cache) the planner may not read raised PermissionError out of bridge.load_spec: not a
BadInput, so the Plan tab's loader (which shows a LorplanError's line under the model field) let it escape its
thread and the picker said "loading" for good, where `lorplan plan` says one line naming the file. The bridge now
turns it into that one line, naming the path. The locked folder is read by a forked child that drops root to the
user nobody (root passes any permission), as tests/core/test_long_names_hide_no_error.py does."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from not_root import error_without_root as _error_without_root

from lorplan.tui import bridge


def test_a_locked_model_folder_is_one_line_naming_it():
    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o711)  # nobody may pass through it (pytest's tmp_path is private to its user)
        locked = Path(top, "locked")
        (locked / "model").mkdir(parents=True)
        (locked / "model" / "config.json").write_text("{}")
        locked.chmod(0)
        message = _error_without_root(lambda: bridge.load_spec(str(locked / "model")))
    assert message.startswith("BadInput: Model: Permission denied (") and "\n" not in message, message
    assert str(locked) in message and "check its permissions" in message, message


def test_a_locked_hub_cache_is_one_line_naming_it():
    def load_in_locked_cache(hub: Path) -> None:
        os.environ["HF_HUB_CACHE"] = str(hub)  # the forked child's own environment
        os.chdir(hub.parent)  # a hub id is first looked for as a relative path: in a working folder the user
        # may not read (CI clones into a 0700 mktemp folder) that look is the PermissionError, naming the id
        bridge.load_spec("someorg/somemodel")

    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o711)
        hub = Path(top, "hub")
        (hub / "models--someorg--somemodel" / "snapshots").mkdir(parents=True)
        hub.chmod(0)
        message = _error_without_root(lambda: load_in_locked_cache(hub))
    assert message.startswith("BadInput: Model: Permission denied (") and "\n" not in message, message
    assert str(hub) in message, message
