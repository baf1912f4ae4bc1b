"""The user's TUI settings: theme, key remapping, the last model, dataset and setup, in
`<XDG config dir>/lorplan/config.toml`.

```toml
theme = "dark"
last_model = "meta-llama/Llama-3.1-8B-Instruct"
last_data = "/home/me/data/train.jsonl"   # the Data tab starts with it (press Enter to profile it again)

[keymap]            # binding id -> keys, as App.set_keymap takes them
help = "f1,question_mark"
export = "ctrl+e"

[setup]             # the setup form of the last session (every field but the targets)
quant = "nf4"
seq_len = 4096
grad_checkpointing = true
```

Read with tomllib, written atomically with tomli-w (temp file in the same folder + os.replace). The schema is
strict: an unknown key or a wrong type is reported with the file and the dotted key, and the default is used;
the TUI still opens. Saving updates only the keys lorplan owns: what it reported and could not use stays in
the file as the user wrote it, for them to fix. A [setup] value the form would refuse (a quantization lorplan does not know, a sequence
length of 0) is dropped the same way. A file that is not valid TOML (or cannot be read) is reported too, and is
never written over: save_config raises ConfigLeftAsIs instead, so the user's other settings are not lost.
Imports nothing from Textual so it is cheap to test.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from lorplan.core.atomic import replace_text
from lorplan.tui.panels.setup_form import SAVED_FIELDS, FormValues, read_saved_setup, saved_setup

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "config.toml"
LEFT_AS_IS = "lorplan leaves the file as it is (settings are not saved) until it is fixed"


class ConfigLeftAsIs(Exception):
    """save_config found a config file it cannot parse or read, and did not write over it."""


def config_dir() -> Path:
    """The lorplan config folder (XDG_CONFIG_HOME/lorplan on Linux, via platformdirs)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("lorplan", appauthor=False))


def default_config_path() -> Path:
    return config_dir() / CONFIG_NAME


@dataclass(frozen=True)
class UserConfig:
    """What lorplan remembers between sessions. None means "not set" (the app's default applies)."""

    theme: str | None = None
    last_model: str | None = None
    last_data: str | None = None
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    setup: FormValues | None = None  # the setup form as last planned (validated; None: the form's defaults)

    def with_theme(self, theme: str) -> UserConfig:
        return replace(self, theme=theme)

    def with_last_model(self, model: str) -> UserConfig:
        return replace(self, last_model=model)

    def with_last_data(self, path: str) -> UserConfig:
        return replace(self, last_data=path)

    def with_setup(self, values: FormValues) -> UserConfig:
        return replace(self, setup=values)


def _line_of(text: str, key: str) -> str:
    """' (line N)' for the first line that assigns `key`, so a message points at the spot."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(f"{key} ") or line.strip().startswith(f"{key}="):
            return f" (line {number})"
    return ""


def parse_config(text: str, path: Path) -> tuple[UserConfig, list[str]]:
    """Parse config text. Returns the config (defaults where a value was wrong) and the problems found."""
    problems: list[str] = []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return UserConfig(), [f"{path}: not valid TOML ({exc}); using defaults, and {LEFT_AS_IS}"]
    values: dict = {}
    for key, value in data.items():
        where = f"{path}: {key}{_line_of(text, key)}"
        if key in ("theme", "last_model", "last_data"):
            if isinstance(value, str) and value.strip():
                values[key] = value.strip()
            else:
                problems.append(f"{where}: must be a non-empty string; ignored")
        elif key == "keymap":
            if not isinstance(value, dict):
                problems.append(f"{where}: must be a table of binding id = \"keys\"; ignored")
                continue
            keymap = {}
            for binding_id, keys in value.items():
                if isinstance(keys, str) and keys.strip():
                    keymap[binding_id] = keys.strip()
                else:
                    problems.append(f"{path}: keymap.{binding_id}{_line_of(text, binding_id)}: must be a key string; ignored")
            values["keymap"] = MappingProxyType(keymap)
        elif key == "setup":
            if not isinstance(value, dict):
                problems.append(f"{where}: must be a table of setup fields; ignored")
                continue
            values["setup"], dropped = read_saved_setup(value)
            for name, why in dropped.items():
                problems.append(f"{path}: setup.{name}{_line_of(text, name)}: {why}; ignored")
        else:
            problems.append(f"{where}: unknown setting (known: theme, last_model, last_data, keymap, setup); "
                            "ignored")
    return UserConfig(**values), problems


def load_config(path: Path | None = None) -> tuple[UserConfig, list[str]]:
    """Read the config file; a missing file is the default config with no problems."""
    path = path or default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig(), []
    except (OSError, UnicodeDecodeError) as exc:
        return UserConfig(), [f"{path}: cannot be read ({exc}); using defaults, and {LEFT_AS_IS}"]
    return parse_config(text, path)


def _read_for_update(path: Path) -> dict:
    """The file's TOML as it stands (empty when there is none). Raises ConfigLeftAsIs when it exists but cannot
    be read or is not valid TOML: writing over it would lose the user's settings in it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        why = f"cannot be read ({exc})"
    except tomllib.TOMLDecodeError as exc:
        why = f"not valid TOML ({exc})"
    raise ConfigLeftAsIs(f"{path}: {why}; settings not saved: fix the file (or remove it) to save them")


def _merged_table(existing: object, owned: Mapping, names: tuple[str, ...] = ()) -> dict:
    """A table of the file with lorplan's `owned` values set in it: every other entry, unknown or of a type
    lorplan could not use, stays as the user wrote it, but for `names` that `owned` leaves out (a field now
    empty, such as a cleared custom rank). A non-table value there is replaced (lorplan has a table for it)."""
    table = dict(existing) if isinstance(existing, dict) else {}
    for name in names:
        table.pop(name, None)
    table.update(owned)
    return table


def save_config(config: UserConfig, path: Path | None = None) -> Path:
    """Write the config atomically (a reader never sees half a file), updating only the settings lorplan owns:
    keys it does not know, and values it reported and could not use (`theme = 3`, `keymap.help = 5`), are kept
    as the user wrote them (comments and layout are not: the file is written anew). Returns the path written.
    Raises ConfigLeftAsIs, writing nothing, when the file there cannot be read or parsed (the user's settings
    in it would be lost)."""
    import tomli_w

    path = path or default_config_path()
    data = _read_for_update(path)
    for key in ("theme", "last_model", "last_data"):
        value = getattr(config, key)
        if value:
            data[key] = value
    if config.keymap:
        data["keymap"] = _merged_table(data.get("keymap"), config.keymap)
    if config.setup is not None:
        old = data.get("setup")
        # a field lorplan read from the file and the form now leaves empty goes; one it could not read stays
        unreadable = read_saved_setup(old)[1] if isinstance(old, dict) else {}
        cleared = tuple(name for name in SAVED_FIELDS if name not in unreadable)
        data["setup"] = _merged_table(old, saved_setup(config.setup), cleared)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_text(path, tomli_w.dumps(data))
