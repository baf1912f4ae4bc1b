"""`lorplan` command line. Each command lives in its own module with `register(subparsers)` and `run(args)`.

Command modules import heavy libraries (torch, transformers, textual) inside `run`, never at module level, so
`lorplan --help` and `lorplan plan` stay fast.
Exit codes: 0 success, 1 does not fit / check failed, 2 bad input (one line on stderr, `lorplan COMMAND: error:
...` as argparse's own checks say it).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import NoReturn

from lorplan import __version__
from lorplan.core.errors import BadInput, LorplanError

# name -> module under lorplan.cli; order is the order shown in --help
COMMANDS = ("models", "gpus", "plan", "profile", "probe", "recommend", "export", "train")


class _Parser(argparse.ArgumentParser):
    """argparse with the house error format: one line naming the input, exit 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        # Our argument types already name their flag ("--ranks: 0 must be at least 1"); argparse prefixes
        # "argument --ranks: " again, which says the same thing twice.
        match = re.match(r"argument (\S+?)(?:/\S+)?: (\1: .*)", message, re.S)
        if match:
            message = match.group(2)
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0] if message else message}\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        # Remember the innermost (sub)command's prog ("lorplan probe start"): a subcommand's parser returns
        # before its parents', so the first to set it is the command that runs. main() names it in lorplan's own
        # errors as argparse names it in its own ("lorplan plan: error: ...").
        namespace, extras = super().parse_known_args(args, namespace)
        if getattr(namespace, "command_prog", None) is None:
            namespace.command_prog = self.prog
        return namespace, extras

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        # argparse reports a subcommand's unknown arguments from the top parser ("lorplan: error: ..."); name the
        # subcommand that did not know them, as every other error does.
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = getattr(namespace, "command_prog", None) or self.prog
            self.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extras)}\n")
        return namespace


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lorplan",
        description="Plan LoRA fine-tuning: exact parameter counts, training memory per rank, data profiles, "
        "probe runs and exports. With no command, opens the planner (TUI).",
    )
    parser.add_argument("--version", action="version", version=f"lorplan {__version__}")
    parser.add_argument("--theme", help="TUI theme (dark, light, high-contrast); remembered in your config")
    parser.add_argument("--model", dest="tui_model", metavar="M", help="TUI: open with this model selected")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"lorplan.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    from lorplan.core.model.hfcache import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)  # every command, the planner and the processes they start: no hub requests
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = getattr(args, "command_prog", None) or parser.prog  # "lorplan recommend", as argparse's errors say
    try:
        if args.command is None:
            from lorplan.tui import launch

            return launch(theme=args.theme, model=args.tui_model)
        return int(args.run(args) or 0)
    except BadInput as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except LorplanError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `lorplan models | head`: the reader went away; silence the flush at exit too.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
