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
    """argparse with the house error format: one line naming the input, exit 2 (no usage dump), and no abbreviated
    options: `lorplan export --out X` was read as --output while its errors named `-o X`; a prefix is now an
    unrecognized argument, with the option it is close to named (_closest_options). Every command's parser and
    probe's subcommands' are this class (add_subparsers' parser_class)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # Our argument types already name their flag ("--ranks: 0 must be at least 1"); argparse prefixes
        # "argument --ranks: " again, which says the same thing twice.
        match = re.match(r"argument (\S+?)(?:/\S+)?: (\1: .*)", message, re.S)
        if match:
            message = match.group(2)
        message = message.splitlines()[0] if message else message
        hint = _closest_choice(message)
        if message.startswith("the following arguments are required") and (unknown := self._unknown_options()):
            # argparse says a missing required option before the unknown ones: `plan --mode gpt2` (an
            # abbreviation, which these parsers do not take) said only that --model is required
            message += f"; unrecognized: {', '.join(unknown)}"
            hint = _closest_options(self, unknown)
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")

    def _unknown_options(self) -> list[str]:
        """The options typed to this (sub)command (parse_known_args' words) that it has none of, as typed, each
        once: not a value after `--`, a negative number or words with a space (argparse's values too)."""
        unknown = []
        for word in getattr(self, "_typed", ()):
            if word == "--":
                break
            typed = word.split("=", 1)[0]
            if (word.startswith("-") and len(word) > 1 and not self._negative_number_matcher.match(word)
                    and " " not in word and typed not in self._option_string_actions and typed not in unknown):
                unknown.append(typed)
        return unknown

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        # Remember the innermost (sub)command's prog ("lorplan probe start"): a subcommand's parser returns
        # before its parents', so the first to set it is the command that runs. main() names it in lorplan's own
        # errors as argparse names it in its own ("lorplan plan: error: ..."). The words, for error()'s unknown
        # options (a subcommand's parser gets the words after its name).
        args = sys.argv[1:] if args is None else list(args)
        self._typed = [str(word) for word in args]
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
            hint = _closest_options(self._command_parser(prog), extras)
            self.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extras)}{hint}\n")
        return namespace

    def _command_parser(self, prog: str) -> argparse.ArgumentParser:
        """The (sub)command parser named `prog` ("lorplan probe start") under this one; this one if none is."""
        if self.prog == prog:
            return self
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if prog == sub.prog or prog.startswith(sub.prog + " "):
                        return sub._command_parser(prog) if isinstance(sub, _Parser) else sub
        return self


def _closest_options(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """" (did you mean --output?)" for the unknown options among `extras` that are close to an option of
    `parser` (the one long option it begins, else difflib over its option strings, hidden ones left out); "" when
    none is."""
    import difflib

    options = [o for a in parser._actions if a.help != argparse.SUPPRESS for o in a.option_strings]
    pairs = []
    for extra in extras:
        typed = extra.split("=", 1)[0]
        if not typed.startswith("-") or typed in options:
            continue  # a value, or a known option's value that fell out with it
        # a prefix of one long option is that option (as argparse's abbreviations read it, which lorplan's parsers
        # do not take: `--ou` is --output, never difflib's --to)
        longer = [o for o in options if typed.startswith("--") and o.startswith(typed)]
        close = longer if len(longer) == 1 else difflib.get_close_matches(typed, options, n=1)
        if close:
            pairs.append((typed, close[0]))
    if not pairs:
        return ""
    if len(pairs) == 1:
        return f" (did you mean {pairs[0][1]}?)"
    return f" (did you mean {', '.join(f'{option} for {typed}' for typed, option in pairs)}?)"


def _closest_choice(message: str) -> str:
    """" (did you mean recommend?)" for argparse's "invalid choice: 'recomend' (choose from ...)" when one of the
    choices is close to what was typed (difflib); "" otherwise."""
    import difflib

    match = re.search(r"invalid choice: (?P<typed>.+?) \(choose from (?P<choices>.+)\)$", message)
    if not match:
        return ""
    typed = match.group("typed").strip("'\"")
    choices = [c.strip().strip("'\"") for c in match.group("choices").split(",")]
    close = difflib.get_close_matches(typed, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lorplan",
        description="Plan LoRA fine-tuning: exact parameter counts, training memory per rank, data profiles, "
        "probe runs and exports. With no command, opens the planner (TUI).",
    )
    parser.add_argument("--version", action="version", version=f"lorplan {__version__}")
    parser.add_argument("--theme", help="TUI theme (dark, light, high-contrast); remembered in your config")
    parser.add_argument("--model", dest="tui_model", metavar="M", help="TUI: open with this model selected")
    parser.add_argument("--trust-remote-code", dest="tui_trust_remote_code", action="store_true",
                        help="TUI: let this session run a model's own Python code (auto_map), and the profiles, "
                        "probes and ladders it starts; only if you trust that code")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"lorplan.cli.{name}").register(sub)
    _read_minus_values_everywhere(parser)
    return parser


def _read_minus_values_everywhere(parser: argparse.ArgumentParser) -> None:
    """read_minus_values on `parser` and every (sub)command parser under it: `probe start --lr -1e-3`, `probe wait
    --timeout -inf`, `train --max-steps -1e3` were argparse's "expected one argument" where `plan --gpu-memory
    -5G` reached the flag's own check."""
    from lorplan.cli._common import read_minus_values

    read_minus_values(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # an alias maps to its parser once more
                _read_minus_values_everywhere(sub)


def _storage_errnos() -> tuple[dict[int, str], frozenset[int]]:
    """What to do after each storage error, and the errors that are one only with a file named: a permission
    refused or an I/O error also come from a signal to another user's process, a socket or a terminal."""
    import errno

    space = "free space there and run the command again"
    return ({errno.ENOSPC: space, errno.EDQUOT: space, errno.EFBIG: space,
             errno.EROFS: "that place cannot be written: choose another folder",
             errno.EACCES: "check its permissions, or choose another place",
             errno.EPERM: "check its permissions, or choose another place",
             errno.EIO: "the disk or device reported an error"},
            frozenset((errno.EACCES, errno.EPERM, errno.EIO)))


_STORAGE_ERRNOS, _NAMED_ONLY = _storage_errnos()


def main(argv: list[str] | None = None) -> int:
    code = _command(argv)
    runner = sys.modules.get("lorplan.train.runner")  # imported only by a command that trained
    if argv is None and runner is not None:
        runner.exit_after_group(code)  # a process of a run on several processes: leaves here, past teardown
    return code


def _command(argv: list[str] | None) -> int:
    import os

    from lorplan.core.model.hfcache import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)  # every command, the planner and the processes they start: no hub requests
    parser = build_parser()
    args = parser.parse_args(argv)
    # main() reads the process's own command line (the `lorplan` script, python -m lorplan): only then may a
    # command change the whole process (lorplan.cli.train hides bitsandbytes); a caller of main(argv) keeps it
    args.own_process = argv is None
    prog = getattr(args, "command_prog", None) or parser.prog  # "lorplan recommend", as argparse's errors say
    try:
        if args.command is None:
            from lorplan.tui import launch

            return launch(theme=args.theme, model=args.tui_model, trust_remote_code=args.tui_trust_remote_code)
        if args.tui_trust_remote_code:  # `lorplan --trust-remote-code plan ...` would grant this command nothing
            raise BadInput("--trust-remote-code before the command is the planner's (`lorplan --trust-remote-code` "
                           "with no command); a command that may run a model's code takes it after its name")
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
    except OSError as exc:
        # a disk or folder that fails a command part-way (full, over quota, read-only, not ours) where no command
        # said so in its own words: one line naming the file, not a traceback; any other OSError is a bug to see
        if exc.errno not in _STORAGE_ERRNOS or (exc.errno in _NAMED_ONLY and not exc.filename):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prog}: {exc.strerror or exc}{where}; {_STORAGE_ERRNOS[exc.errno]}", file=sys.stderr)
        return 1
