"""Plan files as TOML: read (lorplan.core.tomltext) and validate, write (tomli-w) atomically.

A plan is data: loading one never imports or runs anything it names.
"""

from __future__ import annotations

import os
from pathlib import Path

from lorplan.core.errors import NUL_NAME, BadInput, shown_name
from lorplan.core.export.files import write_text_atomic
from lorplan.core.filekind import special_kind
from lorplan.core.plan.schema import PLAN_VERSION, Plan, plan_to_dict
from lorplan.core.plan.validate import plan_from_dict
from lorplan.core.tomltext import NotToml, loads_toml

_HEADER = "# lorplan plan, schema version {version}. Train it: lorplan train {flag}THIS.toml\n"


def dumps_plan(plan: Plan) -> str:
    """The plan as TOML text (every set value written explicitly). The header's command carries
    --trust-remote-code when the plan asks for the model's own code: lorplan train refuses such a plan without it."""
    import tomli_w

    flag = "--trust-remote-code " if plan.model.trust_remote_code else ""
    return _HEADER.format(version=PLAN_VERSION, flag=flag) + tomli_w.dumps(plan_to_dict(plan))


def loads_plan(text: str, file: str = "plan") -> Plan:
    """Parse and validate TOML text; BadInput lists every problem as "FILE: dotted.key: what is wrong"."""
    try:
        doc = loads_toml(text)
    except NotToml as exc:
        raise BadInput(f"{file}: {exc}") from None
    return plan_from_dict(doc, file)


def read_plan(path: str | os.PathLike) -> Plan:
    """Read and validate a plan file. Raises BadInput naming the file (missing, unreadable, invalid)."""
    p = Path(path)
    special = special_kind(p)
    if special:  # a pipe with no writer would keep read_bytes waiting; /dev/null reads as an empty plan
        raise BadInput(f"{p}: {special}, not a plan file (give the plan's .toml file)")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{p}: no such plan file") from None
    except OSError as exc:  # a folder, no permission, a symlink loop, ...: as the OS says it
        raise BadInput(f"{p}: cannot read the plan ({exc.strerror or exc.__class__.__name__})") from None
    except ValueError:  # the OS is never asked: a NUL byte in the name ("embedded null byte")
        raise BadInput(f"{shown_name(p)}: cannot read the plan ({NUL_NAME})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BadInput(f"{p}: not UTF-8 text (line {line}: byte {raw[exc.start:exc.start + 1]!r})") from None
    return loads_plan(text, str(p))


def checked_plan_text(plan: Plan, path: str | os.PathLike) -> str:
    """The plan's TOML text for the file `path`, read back first: never write a file we would refuse to read
    (BadInput naming `path`)."""
    text = dumps_plan(plan)
    loads_plan(text, str(path))
    return text


def write_plan(plan: Plan, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write the plan atomically; an existing file is replaced only with force=True (else BadInput)."""
    return write_text_atomic(path, checked_plan_text(plan, path), force=force)
