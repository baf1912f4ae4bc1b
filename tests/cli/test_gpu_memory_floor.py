"""A --gpu-memory far below any GPU is a typo: `lorplan recommend --gpu-memory 1KB` printed "8.86 GiB of 1000 B
per GPU: does not fit" and `lorplan plan` priced every rank against 1000 bytes. `lorplan plan` and `lorplan
recommend` (one parser, cli.plan_args.budget_from_args) now refuse it in one line that says what the text was read
as; a bare number is GiB (1 = 1 GiB, a real card's size), and both commands' help says so."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import build_parser, main
from lorplan.core.errors import BadInput
from lorplan.core.limits import MIN_GPU_MEMORY_BYTES
from lorplan.core.units import format_bytes

COMMANDS = (["plan", "--model", "gpt2"], ["recommend", "--model", "gpt2", "--trained-tokens", "1M"])


def run(capsys, *argv):
    try:
        rc = main(list(argv))
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("text", "read_as"), [("1KB", "1000 B"), ("1M", "1.00 MiB"), ("63MiB", "63.00 MiB"),
                                               ("0.01", "10.24 MiB")])
def test_a_budget_below_any_gpu_is_refused_saying_how_it_was_read(command, text, read_as, capsys, state_home):
    rc, out, err = run(capsys, *command, "--gpu-memory", text)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"--gpu-memory: {text!r} is {read_as}" in err, err
    assert f"less than any GPU has (at least {format_bytes(MIN_GPU_MEMORY_BYTES, 0)})" in err, err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bare_number_is_gib_and_the_floor_itself_is_a_budget(command, capsys, state_home):
    # priced (lorplan plan exits 1 when no rank fits: gpt2 does not fit in 1 GiB, nor in 64 MiB)
    rc, out, err = run(capsys, *command, "--gpu-memory", "1", "--json")
    assert rc in (0, 1) and err == "", err
    text = json.dumps(json.loads(out))
    assert str(1024**3) in text  # 1 GiB, as the help says
    rc, out, err = run(capsys, *command, "--gpu-memory", "64MiB", "--json")
    assert rc in (0, 1) and str(MIN_GPU_MEMORY_BYTES) in json.dumps(json.loads(out)), err


@pytest.mark.parametrize("name", ["plan", "recommend"])
def test_the_help_says_what_a_bare_number_means(name):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[name]
    help_text = next(a.help for a in sub._actions if "--gpu-memory" in a.option_strings)
    assert "a bare number below 4096 is GiB" in help_text, help_text


@pytest.mark.parametrize("typed", ["1KB", "24M", "0.01", "63MiB"])
def test_the_planners_budget_field_agrees(typed):
    # the planner's field accepted 1KB (1000 B) and its equivalent command line `--gpu-memory 1000B` was then
    # refused by lorplan plan; both read the budget through core.units.parse_budget now
    from lorplan.tui.panels.setup_form import parse_budget

    with pytest.raises(BadInput, match=r"^GPU memory: .* less than any GPU has \(at least 64 MiB\)"):
        parse_budget(typed)
    assert parse_budget("64MiB") == 64 * 1024**2
