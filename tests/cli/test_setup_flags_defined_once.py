"""`lorplan plan` and `lorplan recommend` take the same setup flags alike (cli.plan_args defines each once).

A memory verdict's remedy (core.memory.report.fit_hints) is typed into either command; the two parsers each
defined --targets, --quant, --double-quant, --grad-checkpointing, --optimizer, --gpu and --gpu-memory, and their
--help had drifted apart (plan's --quant and --optimizer named no default, recommend's --gpu no H100)."""

from __future__ import annotations

import pytest

from lorplan.cli import build_parser

SHARED = ("--targets", "--quant", "--double-quant", "--grad-checkpointing", "--optimizer", "--gpu", "--gpu-memory",
          "--sharding")


def _action(command: str, flag: str):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return sub._option_string_actions[flag]


@pytest.mark.parametrize("flag", SHARED)
def test_plan_and_recommend_define_the_flag_alike(flag):
    plan, recommend = _action("plan", flag), _action("recommend", flag)
    fields = ("dest", "default", "metavar", "help", "type", "const", "nargs", "choices")
    assert type(plan) is type(recommend), flag
    assert {f: getattr(plan, f) for f in fields} == {f: getattr(recommend, f) for f in fields}, flag
    if plan.default is not None and not isinstance(plan.default, bool):
        assert f"(default {plan.default})" in plan.help, plan.help  # --help names the default it parses to
