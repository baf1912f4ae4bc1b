"""A plan's problems are every independent fault, and no line that only follows from a value already refused:
`epochs = nan` said also "give exactly one of epochs or max_steps", `r = -8` also "estimate.rank is 8 but lora.r
is -8", and so on. Each case below lists exactly the lines a plan written by `lorplan plan` then edited gives."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.plan.tomlfile import loads_plan


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> str:
    """A plan with an estimate (lora.r = 8), as `lorplan plan --write` writes it for a catalog model."""
    import os

    home = tmp_path_factory.mktemp("state")
    path = home / "plan.toml"
    old = {k: os.environ.get(k) for k in ("XDG_STATE_HOME", "XDG_CACHE_HOME")}
    os.environ.update(XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"))
    try:
        assert main(["plan", "--model", "Qwen/Qwen3-8B", "--rank", "8", "--write", str(path)]) == 0
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return path.read_text()


def _set(text: str, key: str, value: str) -> str:
    """`text` with the first line "KEY = ..." made "KEY = VALUE", or VALUE itself where it holds " = " (another
    key in its place, or more lines)."""
    import re

    assert re.search(rf"^{key} = ", text, re.M), key
    line = value if " = " in value else f"{key} = {value}"
    return re.sub(rf"^{key} = .*$", lambda _: line, text, count=1, flags=re.M)


def _problems(text: str) -> list[str]:
    with pytest.raises(BadInput) as info:
        loads_plan(text, "p.toml")
    return [line.removeprefix("p.toml: ") for line in str(info.value).splitlines()]


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("epochs", "nan", ["training.epochs: must be a number, not nan"]),
    ("epochs", '"1"', ["training.epochs: must be a number, not a string"]),
    ("id", "path = 7", ["model.path: must be a string, not an integer"]),
    ("id", 'path = "a\\u0000b"', ["model.path: contains a NUL character (\\u0000)"]),
    ("id", "7", ["model.id: must be a string, not an integer"]),
    ("task", 'task = "classifier"\nnum_labels = 3', ["model.task: must be one of causal-lm, sequence-classification"]),
    ("r", "-8", ["lora.r: rank must be at least 1 (got -8)"]),
    ("r", "99999999999999999999", ["lora.r: rank must be at most 65,536 (got 99999999999999999999)"]),
    ("rank", "99999999999999999999", ["estimate.rank: must be at most 65,536 (got 99999999999999999999)"]),
    ("rank", "-1", ["estimate.rank: must be ≥ 0"]),
    ("total_bytes", "-1", ["estimate.total_bytes: must be ≥ 0"]),
    ("weights_bytes", "-1", ["estimate.weights_bytes: must be ≥ 0"]),
])
def test_a_refused_value_gives_its_own_line_only(written, key, value, expected):
    assert _problems(_set(written, key, value)) == expected


def test_a_sharding_outside_the_list_over_no_gpu_gives_its_own_line_only(written):
    # was also "hardware.sharding: fsdp2 needs GPUs, but hardware.gpus is 0"
    assert _problems(_set(_set(written, "gpus", "0"), "sharding", '"fsdp2"')) == [
        "hardware.sharding: must be one of none, ddp, fsdp, zero2, zero3"]
    assert _problems(_set(_set(written, "gpus", "0"), "sharding", '"fsdp"')) == [
        "hardware.sharding: fsdp needs GPUs, but hardware.gpus is 0"]


def test_independent_problems_are_all_still_listed(written):
    text = _set(_set(_set(written, "r", "16"), "epochs", "epochs = 1.0\nmax_steps = 5"), "total_bytes", "1")
    lines = _problems(text)
    assert lines[0] == "training: give exactly one of epochs or max_steps", lines
    assert lines[1].startswith("estimate.total_bytes: is 1 but the components add up to "), lines
    assert lines[2:] == ["estimate.rank: is 8 but lora.r is 16: the estimate was planned for another rank"]


@pytest.mark.parametrize(("key", "value", "expected"), [
    # both lengths given, one of them refused: "give exactly one" is a second fault of its own, not a knock-on
    ("epochs", "epochs = 0\nmax_steps = 5",
     ["training.epochs: must be positive (got 0.0)", "training: give exactly one of epochs or max_steps"]),
    ("epochs", "epochs = nan\nmax_steps = 5",
     ["training.epochs: must be a number, not nan", "training: give exactly one of epochs or max_steps"]),
    ("epochs", "epochs = 1.0\nmax_steps = 0",
     ["training.max_steps: must be at least 1 (got 0)", "training: give exactly one of epochs or max_steps"]),
    # both sources given, the path refused
    ("id", 'id = "Qwen/Qwen3-8B"\npath = 7',
     ["model.path: must be a string, not an integer",
      "model: give exactly one of id (hub or catalog id) or path (local folder)"]),
    ("id", 'id = "Qwen/Qwen3-8B"\npath = "a\\u0000b"',
     ["model.path: contains a NUL character (\\u0000)",
      "model: give exactly one of id (hub or catalog id) or path (local folder)"]),
])
def test_two_independent_faults_in_keys_a_rule_compares_are_both_listed(written, key, value, expected):
    assert _problems(_set(written, key, value)) == expected
