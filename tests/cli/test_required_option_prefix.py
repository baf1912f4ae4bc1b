"""A prefix of a required option names that option. f689aa0 turned argparse's abbreviations off, so `lorplan plan
--mode gpt2` (which ran as --model until then) is an unknown option; but argparse says a missing required option
before it says the unknown ones, and the line was only "the following arguments are required: --model", as if
the user had typed no model. The line now names the unknown option too, and the option it begins."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.vocab import ExportFormat


def _error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "expected"), [
    (["plan", "--mode", "gpt2"],
     "lorplan plan: error: the following arguments are required: --model; unrecognized: --mode (did you mean "
     "--model?)"),
    (["profile", "--dat=x.jsonl"],
     "lorplan profile: error: the following arguments are required: --data; unrecognized: --dat (did you mean "
     "--data?)"),
    (["export", "p.toml", "--t", ExportFormat.TRL.value],
     "lorplan export: error: the following arguments are required: --to; unrecognized: --t (did you mean --to?)"),
    # two unknown options, each named with its own
    (["plan", "--mode", "gpt2", "--rnk", "8"],
     "lorplan plan: error: the following arguments are required: --model; unrecognized: --mode, --rnk (did you "
     "mean --model for --mode, --rank for --rnk?)"),
])
def test_a_prefix_of_a_required_option_is_named(argv, expected, capsys, state_home):
    assert _error(argv, capsys) == expected + "\n"


def test_a_missing_required_option_alone_says_what_it_said(capsys, state_home):
    # nothing unknown was typed (a value after `--`, a negative number and a known option are no unknown option)
    assert _error(["plan", "--json"], capsys) == "lorplan plan: error: the following arguments are required: --model\n"
    assert _error(["export", "--force", "--", "--t"], capsys) == \
        "lorplan export: error: the following arguments are required: --to\n"
    assert _error(["plan", "--lora-dropout", "-0.5", "--json"], capsys) == \
        "lorplan plan: error: the following arguments are required: --model\n"
