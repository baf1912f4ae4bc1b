"""Every ```python block of README.md runs as written (its imports exist), and where a line ends in a comment
that starts with a Python literal (`spec.total_params  # 8030261248`), the line's value is that literal (a
literal ending in `...` gives the value's first items)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def _expected(comment: str):
    """The literal a comment starts with ('41943040 (all-linear, r=16)' -> 41943040), or None."""
    for text in (comment, comment.split(" (")[0]):
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            continue
    return None


def test_readme_has_python_blocks():
    assert _blocks(), "README.md has no ```python block (this test would check nothing)"


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_readme_python_block_runs_and_its_commented_values_hold(block):
    namespace: dict = {}
    checked = 0
    for line in block.splitlines():
        code, _, comment = line.partition("  # ")
        if not code.strip():
            continue
        tree = ast.parse(code.strip())
        if comment and len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            value = eval(compile(ast.Expression(tree.body[0].value), "README.md", "eval"), namespace)
            expected = _expected(comment)
            if isinstance(expected, tuple | list) and expected and expected[-1] is Ellipsis:
                expected, value = tuple(expected[:-1]), tuple(value[:len(expected) - 1])  # "(first, ...)"
            if expected is not None:
                assert value == expected, (line, value)
                checked += 1
        else:
            exec(compile(tree, "README.md", "exec"), namespace)
    assert checked or "#" not in block, "no commented value could be checked"
