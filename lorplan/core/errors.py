"""Errors the user can act on.

Every error raised for bad input is a `BadInput`: the CLI prints its message as one line and exits 2, the TUI
shows it inline. Messages name the input ("--seq-len", "config.json at /x/y", "plan.toml: lora.r").
"""


class LorplanError(Exception):
    """Base class of every error lorplan explains to the user."""


class BadInput(LorplanError, ValueError):
    """The user gave something lorplan cannot use (exit code 2)."""


class UnknownSchema(BadInput):
    """A dataset's first rows have columns of no known schema. The message names no flag: a front end with a
    way to name the schema (`lorplan profile --schema`, a plan's data.schema, the Data tab's list) adds it."""


NUL_NAME = "the name holds a NUL byte, \\x00, which no file system takes"  # why a name with one is refused


def shown_name(name: object) -> str:
    """A file name as a message shows it: a NUL byte (which prints as nothing, or garbles the line) as \\x00."""
    return str(name).replace("\0", "\\x00")


OWN_CODE_FLAG = "--trust-remote-code on the command line"  # how a command gives consent to a model's own code


def own_code_refusal(subject: str, how: str = OWN_CODE_FLAG) -> str:
    """The one wording of a refusal to run a model's own Python code (transformers' auto_map): `subject` names
    what asks for it, `how` how the user consents (a front end with another way, the planner's start-up flag,
    replaces OWN_CODE_FLAG with its own words)."""
    return f"{subject}, which lorplan runs only when asked: {how}, if you trust that code"


class DoesNotFit(LorplanError):
    """A setup that can never fit the chosen memory (exit code 1 where a check was asked for)."""
