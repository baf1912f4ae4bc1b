"""What dc7608c's short echo of long names (units.echoed) must not change for names of ordinary length:

- a model path or Hugging Face cache folder lorplan may not read is that error (Permission denied, which the CLI
  says in one line naming the file), not "model path ... does not exist" or "unknown model": only a name longer
  than the system takes (ENAMETOOLONG) reads as no such file;
- an unknown key or table of a plan is named as it was written: " r" (a space before it) is not reported as
  "lora.r", a key every plan has, nor the table " lora" as "lora"."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from not_root import error_without_root as _error_without_root

from lorplan.core.errors import BadInput

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"


def test_a_model_folder_lorplan_may_not_read_is_not_said_to_be_missing():
    from lorplan.core.model.resolve import resolve_model

    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o711)  # nobody may pass through it (pytest's tmp_path is private to its user)
        locked = Path(top, "locked")
        (locked / "model").mkdir(parents=True)
        (locked / "model" / "config.json").write_text("{}")
        locked.chmod(0)
        message = _error_without_root(lambda: resolve_model(str(locked / "model")))
    assert message.startswith("PermissionError: ") and "does not exist" not in message, message


def test_a_hub_cache_lorplan_may_not_read_is_not_an_unknown_model():
    from lorplan.core.model.resolve import resolve_model

    def resolve_in_locked_cache(hub: Path) -> None:
        os.environ["HF_HUB_CACHE"] = str(hub)  # the forked child's own environment
        os.chdir(hub.parent)  # a hub id is first looked for as a relative path: in a working folder the user
        # may not read (CI clones into a 0700 mktemp folder) that look is the PermissionError, naming the id
        resolve_model("someorg/somemodel")

    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o711)
        hub = Path(top, "hub")
        (hub / "models--someorg--somemodel" / "snapshots").mkdir(parents=True)
        hub.chmod(0)
        message = _error_without_root(lambda: resolve_in_locked_cache(hub))
    assert message.startswith("PermissionError: ") and "unknown model" not in message, message


@pytest.mark.parametrize(("old", "new", "says"), [
    ('bias = "none"', 'bias = "none"\n" r" = 1', "plan: lora. r: unknown key"),
    ('bias = "none"', 'bias = "none"\n"r " = 1', "plan: lora.r : unknown key"),
    ("\n[data]", '\n[" lora"]\n[data]', "plan:  lora: unknown table"),
])
def test_an_unknown_key_is_named_as_written(old, new, says):
    from lorplan.core.plan import loads_plan

    text = SAMPLE.read_text()
    assert old in text
    with pytest.raises(BadInput) as caught:
        loads_plan(text.replace(old, new, 1))
    assert str(caught.value).startswith(says), str(caught.value)
