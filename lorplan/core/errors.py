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


class DoesNotFit(LorplanError):
    """A setup that can never fit the chosen memory (exit code 1 where a check was asked for)."""
