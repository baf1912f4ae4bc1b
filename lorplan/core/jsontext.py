"""JSON text parsed with the json module, its every refusal a ValueError whose message a user can read.

json.loads raises RecursionError for nesting deeper than the interpreter recurses ("[" * 100000) and, for an
integer of more digits than int() converts (sys.get_int_max_str_digits, 4300), a ValueError telling the reader
to call sys.set_int_max_str_digits(); callers that explain a ValueError as "not valid JSON" let either escape
as a traceback or print Python's advice. Stdlib only.
"""

from __future__ import annotations

import json
import re
from typing import Any


def loads_json(text: str | bytes) -> Any:
    """json.loads(text); ValueError for anything it cannot read. A json.JSONDecodeError (with lineno/colno) and
    a UnicodeDecodeError (bytes that are not UTF-8) pass as json raises them; nesting too deep is
    "... nested too deeply ..." and a too-long integer "a number of N digits, ..."."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply for Python's json module") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        digits = re.search(r"value has (\d+) digits", str(exc))
        if digits is None:
            raise
        raise ValueError(f"a number of {digits.group(1)} digits, more than the {_max_digits()} json reads") from None


def _max_digits() -> int:
    import sys

    return sys.get_int_max_str_digits()
