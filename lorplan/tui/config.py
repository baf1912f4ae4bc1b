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

Read with tomllib (through lorplan.core.tomltext, as plans are), written atomically (temp file in the same
folder + os.replace). The schema is strict: an unknown key or a wrong type is reported with the file and the
dotted key, and the default is used; the TUI still opens. Saving edits the file in place with tomlkit and updates
only the keys lorplan owns: the user's comments, blank lines and key order stay, and what lorplan reported and
could not use stays as the user wrote it, for them to fix. A [setup] value the form would refuse (a quantization
lorplan does not know, a sequence length of 0) is dropped the same way. A file that is not valid TOML (or cannot
be read) is reported too, and is never written over: save_config raises ConfigLeftAsIs instead, so the user's
other settings are not lost.
Imports nothing from Textual so it is cheap to test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from lorplan.core.atomic import replace_text
from lorplan.core.tomltext import NotToml, loads_toml
from lorplan.tui.panels.setup_form import SAVED_FIELDS, FormValues, read_saved_setup, saved_setup

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


def _dotted_ids(prefix: str, table: dict) -> Iterator[str]:
    """The dotted ids TOML read as nested tables under `prefix` ("probes.start_plan", "a.b.c")."""
    for key, value in table.items():
        if isinstance(value, dict) and value:
            yield from _dotted_ids(f"{prefix}.{key}", value)
        else:
            yield f"{prefix}.{key}"


def parse_config(text: str, path: Path) -> tuple[UserConfig, list[str]]:
    """Parse config text. Returns the config (defaults where a value was wrong) and the problems found."""
    problems: list[str] = []
    try:
        data = loads_toml(text)
    except NotToml as exc:
        return UserConfig(), [f"{path}: {exc}; using defaults, and {LEFT_AS_IS}"]
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
                elif isinstance(keys, dict) and keys:  # probes.start_plan = "p": TOML read a table "probes"
                    for dotted in _dotted_ids(binding_id, keys):  # each one written, however deep
                        problems.append(f"{path}: keymap.{dotted}{_line_of(text, dotted)}: a binding id with a dot "
                                        f"is quoted in TOML (\"{dotted}\" = \"...\"); ignored")
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


def _read_for_update(path: Path) -> tuple[str, dict]:
    """The file's text and TOML as they stand (empty when there is none). Raises ConfigLeftAsIs when it exists
    but cannot be read or is not valid TOML: writing over it would lose the user's settings in it."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, loads_toml(text)
    except FileNotFoundError:
        return "", {}
    except (OSError, UnicodeDecodeError) as exc:
        why = f"cannot be read ({exc})"
    except NotToml as exc:
        why = str(exc)
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


def _put(table, key: str, value: object) -> None:
    """Set `key` in a tomlkit document or table. A key already there is changed in place (its inline comment
    stays). A new key goes right after the table's last key, indented as that key is: tomlkit would append it
    after the comments and blank lines that end the table, which are usually the heading of the next table."""
    import tomlkit
    from tomlkit.container import Container
    from tomlkit.items import AoT, Table

    body = table if isinstance(table, Container) else table.value if isinstance(table, Table) else None
    last = None if body is None or key in table else max(
        (i for i, (k, item) in enumerate(body.body) if k is not None and not isinstance(item, (Table, AoT))),
        default=None)
    if last is None:  # a key already there, an inline table, or a table with no key yet: tomlkit's own place
        table[key] = value
        return
    new = tomlkit.item(value)
    indent = body.body[last][1].trivia.indent
    if not indent.strip(" \t"):
        new.trivia.indent = indent
    if last == len(body.body) - 1:
        body.append(key, new)
    else:
        body._insert_at(last + 1, key, new)  # tomlkit has no public insert at a position


def _update_table(doc, name: str, owned: Mapping, names: tuple[str, ...] = ()) -> None:
    """`_merged_table` on the tomlkit document: the table `name` keeps its comments, layout and other keys."""
    import tomlkit

    table = doc.get(name)
    if not isinstance(table, dict):  # none yet, or a value that is not a table (reported when read): replaced
        if name in doc:
            del doc[name]
        table = tomlkit.table()
        doc[name] = table
    for key in names:
        if key in table and key not in owned:
            del table[key]
    for key, value in owned.items():
        _put(table, key, value)


def _restyled(text: str, config: UserConfig, setup_cleared: tuple[str, ...]) -> str | None:
    """`text` (the file as the user wrote it) with lorplan's settings changed in place: comments, blank lines,
    key order and unknown keys stay. None if tomlkit cannot parse what tomllib did or cannot make the edit."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text)
        for key in ("theme", "last_model", "last_data"):
            value = getattr(config, key)
            if value:
                _put(doc, key, value)
        if config.keymap:
            _update_table(doc, "keymap", config.keymap)
        if config.setup is not None:
            _update_table(doc, "setup", saved_setup(config.setup), setup_cleared)
        return tomlkit.dumps(doc)
    except (TOMLKitError, ValueError, AttributeError, TypeError, KeyError, IndexError):
        # _put uses tomlkit's private Container._insert_at: a tomlkit release that changes it must cost the
        # comments (the caller writes the file anew), never the save
        return None


def _reads_as(text: str, data: dict) -> bool:
    """Whether `text` is valid TOML holding exactly `data` (types too: 1 is not 1.0 nor true; nan is nan)."""
    def same(a: object, b: object) -> bool:
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, float) and a != a:
            return isinstance(b, float) and b != b
        return type(a) is type(b) and a == b

    try:
        return same(data, loads_toml(text))
    except NotToml:
        return False


def save_config(config: UserConfig, path: Path | None = None) -> Path:
    """Write the config atomically (a reader never sees half a file), updating only the settings lorplan owns:
    keys it does not know, and values it reported and could not use (`theme = 3`, `keymap.help = 5`), are kept
    as the user wrote them, and so are the file's comments, blank lines and key order (the file is edited in
    place with tomlkit). Returns the path written. Raises ConfigLeftAsIs, writing nothing, when the file there
    cannot be read or parsed (the user's settings in it would be lost)."""
    path = path or default_config_path()
    text, data = _read_for_update(path)
    for key in ("theme", "last_model", "last_data"):
        value = getattr(config, key)
        if value:
            data[key] = value
    if config.keymap:
        data["keymap"] = _merged_table(data.get("keymap"), config.keymap)
    cleared: tuple[str, ...] = ()
    if config.setup is not None:
        old = data.get("setup")
        # a field lorplan read from the file and the form now leaves empty goes; one it could not read stays
        unreadable = read_saved_setup(old)[1] if isinstance(old, dict) else {}
        cleared = tuple(name for name in SAVED_FIELDS if name not in unreadable)
        data["setup"] = _merged_table(old, saved_setup(config.setup), cleared)
    # `data` is what the file must hold; the edited text is written only if it reads back as exactly that:
    # tomlkit releases have written invalid TOML for some edits (a key added to an inline table in 0.15.0), and
    # then the file is written anew, losing its comments rather than a setting
    new_text = _restyled(text, config, cleared)
    if new_text is None or not _reads_as(new_text, data):
        import tomli_w

        new_text = tomli_w.dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_text(path, new_text)
