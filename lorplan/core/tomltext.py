"""TOML text parsed with tomllib, its every refusal one NotToml whose message a user can read.

tomllib raises TOMLDecodeError for most faults, but not all: an integer of more digits than int() converts
(sys.get_int_max_str_digits, 4300) is Python's ValueError telling the reader to call
sys.set_int_max_str_digits(), and nesting deeper than the interpreter recurses ("x = [[[[...]]]]") is a
RecursionError. Every lorplan TOML reader (plans, the TUI's settings and themes) reads through loads_toml, so
each says the same "not valid TOML (...)" line. Stdlib only.
"""

from __future__ import annotations

import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class NotToml(ValueError):
    """Text tomllib cannot read; the message is the whole phrase, "not valid TOML (line N: why)"."""


def loads_toml(text: str) -> dict:
    """tomllib.loads(text), or NotToml ("not valid TOML (...)") for anything it cannot read. A leading byte order
    mark (Windows editors write one) is no statement: it is skipped, where tomllib refuses it."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise NotToml(f"not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses per nesting level
        raise NotToml("not valid TOML (tables or arrays nested too deeply for Python's TOML reader)") from None
    except ValueError as exc:  # int() past sys.get_int_max_str_digits ("x = 999...9"), which is no TOMLDecodeError
        if "digits" not in str(exc):
            raise NotToml(f"not valid TOML ({exc})") from None
        raise NotToml(f"not valid TOML ({_long_integer(text)}an integer of more than "
                      f"{sys.get_int_max_str_digits():,} digits, more than Python reads)") from None


def _long_integer(text: str) -> str:
    """"line N: " of the first run of digits longer than Python's int() reads ("" when none is found)."""
    match = re.search(rf"[0-9][0-9_]{{{sys.get_int_max_str_digits()},}}", text)
    return f"line {text.count(chr(10), 0, match.start()) + 1}: " if match else ""
