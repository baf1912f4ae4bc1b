"""`--train-on`'s help in `lorplan plan`, `recommend` and `probe start` said the default twice ("loss on
completions and assistant turns (default) or on every token (default completion; ...)"), and never which word
picks which: it now names each choice with what it trains, and the default once."""

from __future__ import annotations

import argparse

import pytest

from lorplan.cli import build_parser
from lorplan.core.vocab import TrainOn


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("path", [("plan",), ("recommend",), ("probe", "start")])
def test_train_on_help_names_each_choice_and_the_default_once(path):
    parser = build_parser()
    for name in path:
        parser = _subparser(parser, name)
    action = next(a for a in parser._actions if "--train-on" in a.option_strings)
    text = action.help
    assert text.count("default") == 1, text
    for choice in TrainOn.values():
        assert f"{choice}:" in text or f"{choice} (the default):" in text, (choice, text)
    assert f"{TrainOn.COMPLETION.value} (the default)" in text, text
