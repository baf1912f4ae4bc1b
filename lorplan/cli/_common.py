"""Helpers shared by the command modules (argument parsing of lists and sizes, JSON output)."""

from __future__ import annotations

import argparse
import json
import sys

from lorplan.core.errors import BadInput


def int_list(flag: str):
    """argparse type for "4,8,16": positive integers, or a one-line error naming the flag."""

    def parse(text: str) -> tuple[int, ...]:
        values = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                value = int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{flag}: {part!r} is not an integer") from None
            if value < 1:
                raise argparse.ArgumentTypeError(f"{flag}: {value} must be at least 1")
            values.append(value)
        if not values:
            raise argparse.ArgumentTypeError(f"{flag}: give at least one value")
        return tuple(values)

    return parse


def positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} is not an integer") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag}: {value} must be at least 1")
        return value

    return parse


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


__all__ = ["BadInput", "int_list", "positive_int", "print_json"]
