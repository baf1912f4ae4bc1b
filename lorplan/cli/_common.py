"""Helpers shared by the command modules (argument parsing of lists and sizes, JSON output)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from lorplan.core.columns import say
from lorplan.core.errors import BadInput


def parse_int(flag: str, text: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer from `minimum` to `maximum` (no upper bound if None), or BadInput naming the flag: the planner's
    rule and words for its integer fields (core.units.whole_number_in): 4,096, 4_096, 1e3 and 4096.0 read; 40_96
    and 4,09 are refused (int() read 40_96 as 4096), 4,096.5 too (must be a whole number). A number out of range is
    echoed as typed ("--seed: -1e3 must be at least 0"), a long one short ("9999999999… (5,000 digits)"). With no
    bound above, inf and a number of more than 20 digits (beyond any 64-bit count) are refused as typed: 1e400
    handed on was printed in full by the checks after (--micro-batch, --layers, --ranks)."""
    from lorplan.core.units import whole_number_in

    return whole_number_in(text, flag, minimum, maximum)


_SCALE = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}


def parse_count(flag: str, text: str, minimum: int = 1, maximum: int | None = None) -> int:
    """A count of at least `minimum` as people write large ones: 250000, 250,000, 250_000, 2.5e5, 250k, 2.5M,
    1B (a comma or an underscore only between groups of three digits: core.units.without_commas; 10_0 is refused,
    not read as 100); it must be a whole number (2.5k is 2,500; 1.0001k is refused) and at most `maximum` (default
    lorplan.core.limits.MAX_COUNT, 10^15: more than any training set; 1e400 overflowed the recommender's floats).
    BadInput naming the flag otherwise."""
    from decimal import MAX_EMAX, MIN_EMIN, Decimal, InvalidOperation, localcontext

    from lorplan.core.limits import MAX_COUNT
    from lorplan.core.units import echoed, without_commas

    maximum = MAX_COUNT if maximum is None else maximum
    raw = str(text).strip()
    t = without_commas(raw, flag).lower()  # '2,5M' and '10_0' are refused: no 25M from a decimal comma, no 100
    scale = 1
    if t and t[-1] in _SCALE:
        t, scale = t[:-1], _SCALE[t[-1]]
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is not a count (e.g. 250000, 250k, 2.5M, 1e6)"
                       ) from None
    if not d.is_finite():  # inf, nan, -Infinity: no count at all, so not "not a whole number"
        raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is not a finite number (give a count such as 250000, "
                       "250k, 2.5M or 1e6)")
    # compared before the exact product (1e999999999 would be a billion-digit integer), which keeps every digit
    # typed (2.5000000000000000000000000001k is not whole, though the default 28 digits would round it so)
    if d > Decimal(maximum) / scale:
        short = f"{maximum:.0e}".replace("e+", "e")  # 1e15
        bound = f"{maximum:,}" + (f" = {short}" if Decimal(short) == maximum else "")
        raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is more than any training set (at most {bound})")
    with localcontext() as ctx:
        ctx.prec = len(d.as_tuple().digits) + 20
        ctx.Emin, ctx.Emax = MIN_EMIN, MAX_EMAX
        d *= scale
        if d != d.to_integral_value():
            raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is not a whole number")
    if d < minimum:  # as a Decimal: int() of -1e999999999 would be a billion digits
        raise BadInput(f"{flag}: {echoed(raw)} must be at least {minimum}")
    return int(d)


def parse_positive_float(flag: str, text: str, maximum: float | None = None) -> float:
    """A finite number above 0 (--alpha, --epochs, ...) and at most `maximum` (no bound if None), or BadInput
    naming the flag: inf and nan are not finite (they read "must be a positive number", as if below 0), 1e400 is
    too large (float reads it as inf)."""
    import math

    from lorplan.core.units import echoed, without_commas

    raw = str(text).strip()
    typed = without_commas(raw, flag, "2.5")  # 1_0 was 10.0; outside the try: BadInput is a ValueError
    try:
        value = float(typed)
    except ValueError:
        raise BadInput(f"{flag}: {echoed(text, quoted=True)} is not a number") from None
    if not math.isfinite(value):
        if raw.lstrip("+-").lower() in ("inf", "infinity", "nan"):
            raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is not a finite number")
        if value > 0:
            raise BadInput(f"{flag}: {echoed(raw, quoted=True)} is too large a number")
    if not value > 0:  # -1e400 (-inf as a float) too
        raise BadInput(f"{flag}: {echoed(text, quoted=True)} must be a positive number")
    if maximum is not None and value > maximum:
        raise BadInput(f"{flag}: {echoed(raw)} must be at most {maximum:,}")
    return value


def split_list(flag: str, text, one: str, written: str) -> tuple[str, ...]:
    """The items of a comma-separated list flag, stripped: " q_proj, v_proj" -> ("q_proj", "v_proj"). BadInput
    naming the flag for a list of no item ("give at least one {one}") or with an empty one ("8,,16", "8,16,",
    ",8"): whatever was typed between those commas was lost, and skipping the gap planned, priced or trained the
    others without a word. `written` says how the list is written: "ranks as 4,8,16"."""
    raw = str(text).strip()
    if not raw:
        raise BadInput(f"{flag}: give at least one {one}")
    parts = tuple(part.strip() for part in raw.split(","))
    if not all(parts):
        raise BadInput(f"{flag}: {raw!r} has an empty item between commas (write {written})")
    return parts


def parse_ranks(flag: str, text: str) -> tuple[int, ...]:
    """ "4,8,16" -> (4, 8, 16); each at least 1, at least one, no empty item (split_list); else BadInput naming
    the flag."""
    return tuple(parse_int(flag, part) for part in split_list(flag, text, "rank", "ranks as 4,8,16"))


def parse_rope_scaling(text) -> float | None:
    """--rope-scaling FACTOR as a number (None when the flag was not given), or BadInput naming the flag. The
    range is TrainingSetup's (core.memory.types.check_rope_scaling), so every command that takes the flag refuses
    the same factors with the same line; whether the model can use it is core.memory.bounds.check_context's."""
    if text is None:
        return None
    from lorplan.core.memory.types import check_rope_scaling
    from lorplan.core.units import echoed, without_commas

    typed = without_commas(text, "--rope-scaling", "2.5")  # 1_0 was 10.0
    try:
        value = float(typed)
    except ValueError:
        raise BadInput(f"--rope-scaling: {echoed(text, quoted=True)} is not a number") from None
    check_rope_scaling(value)
    return value


def check_write_target(text: str | None, force: bool, data: str | None = None) -> None:
    """--write PLAN.toml checked before anything slow runs (a profile, a probe ladder of minutes): a file name
    was given, no file (or, without `force`, nothing) is in the way, the folder it goes in exists (a typo in a
    folder name is an error, not a new folder) and is not a file, and it is not the --data file the plan trains
    on (which --force would replace with the plan). BadInput led by `--write TEXT`: a command line may name several
    paths (--data, --model), and "plan.toml already exists" did not say which argument was meant. (`lorplan plan`
    and `recommend` call it; `export` checks its -o folder itself.)"""
    if text is None:
        return
    if not str(text).strip():
        raise BadInput("--write: give a file name, e.g. --write plan.toml")
    target = Path(text)
    # core.export.files.check_free's two refusals, led by the flag
    if target.is_dir():
        raise BadInput(f"--write {text}: that is a folder; give a file name")
    if (target.exists() or target.is_symlink()) and not force:
        from lorplan.core.export.files import link_to_nothing

        raise BadInput(f"--write {text}: that file already exists{link_to_nothing(target)}; pass --force to "
                       "overwrite it")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(f"--write {text}: {parent} is a file, not a folder")
    if parent != target.parent:
        raise BadInput(f"--write {text}: folder {target.parent} does not exist; create it first")
    if data is not None and target.exists() and Path(data).exists() and os.path.samefile(target, data):
        raise BadInput(f"--write {text}: that is the --data file; writing the plan there would replace your data")


def first_skipped(profile) -> str:
    """A data profile's first skipped row as `line N: reason` ("" when none was skipped)."""
    first = profile.problems[0] if profile.problems else None
    return f"line {first.line}: {first.reason}" if first is not None else ""


def skipped_note(what: str, path, skipped: int, examples: int, first: str, uses: str) -> str:
    """The rows of a data file that were skipped (broken JSON, missing fields, ...), in one line: what uses the
    data counts or trains without them, which the user should know (`lorplan profile` lists them all).
    what: the data as the command names it (`--data d.jsonl`); first: the first skipped row's `line N: reason`;
    uses: what goes without them ("the recommendation counts")."""
    import shlex

    from lorplan.core.units import counted

    where = f" ({first})" if first and skipped == 1 else (f" (the first, {first})" if first else "")
    command = shlex.join(["lorplan", "profile", *option_words("--data", str(path))])
    return (f"note: {what}: {counted(skipped, 'row')} skipped{where}; {uses} the {counted(examples, 'usable example')}; "
            f"`{command}` lists the skipped rows")


def commands_in(note: str) -> tuple[str, ...]:
    """The `quoted` commands of a note, for say(whole=...): a narrow terminal wraps the note around them, not
    inside one (a shlex-quoted path broken at its space pastes as another path)."""
    return tuple(note.split("`")[1::2])


def option_words(flag: str, value: str) -> list[str]:
    """An option and its value in a command lorplan prints for the user to paste (shlex.join quotes them):
    [flag, value], or [flag=value] when the value starts with a minus, which argparse would read as another
    option ("--write -x.toml": --write "expected one argument") unless it looks like a negative number."""
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


def train_on_help() -> str:
    """What each --train-on word trains, the default named once (plan, recommend, probe start)."""
    from lorplan.core.vocab import TrainOn

    return (f"{TrainOn.COMPLETION.value} (the default): the loss on completions and assistant turns; "
            f"{TrainOn.ALL.value}: on every token, prompts too")


def add_rope_scaling(group, carried: str) -> None:
    """Add --rope-scaling FACTOR to an argparse group, with the help `lorplan plan` gives it; `carried` says
    what the command does with it (the plan it writes, the probes it trains, the lengths it counts). Parsed by
    parse_rope_scaling when the command runs (not as an argparse type: its errors stay one line, exit 2, as
    every other setup flag's)."""
    group.add_argument("--rope-scaling", metavar="FACTOR",
                       help=f"train beyond a RoPE model's context: linear position interpolation by FACTOR "
                       f"({carried}); --seq-len may then reach FACTOR × the context")


def read_minus_values(parser: argparse.ArgumentParser) -> None:
    """Let a value that starts with a minus and a digit, or is -inf or -nan, follow its option as a value:
    `--gpu-memory -5G`, `--lr -1e-3`, `--seeds -1,2`, `--trained-tokens -inf` then reach the flag's own check
    ("--gpu-memory: '-5G' must be a positive size") where argparse took the value for an unknown option and said
    only "argument --gpu-memory: expected one argument". Python 3.11's argparse reads only -5 and -.5 so; this is
    Python 3.13's rule (a minus, a dot or not, a digit) plus the words float() reads. build_parser applies it to
    every (sub)command's parser; it holds for a parser none of whose options looks like such a value (lorplan's
    options are all --words), and raises ValueError for one that has such an option."""
    matcher = re.compile(r"-(\.?\d|inf|nan)", re.IGNORECASE)
    clash = [o for action in parser._actions for o in action.option_strings if matcher.match(o)]
    if clash:  # argparse would then read -1 as that option, or the option as a value
        raise ValueError(f"{parser.prog}: option {clash[0]} looks like a negative number")
    parser._negative_number_matcher = matcher


def _argparse_type(parse):
    """Wrap a BadInput-raising parser as an argparse type (argparse then reports it as one line, exit 2)."""

    def convert(text: str):
        try:
            return parse(text)
        except BadInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def int_list(flag: str):
    """argparse type for "4,8,16": positive integers, or a one-line error naming the flag."""
    return _argparse_type(lambda text: parse_ranks(flag, text))


def positive_int(flag: str, minimum: int = 1, maximum: int | None = None):
    """argparse type for an integer from `minimum` (1 unless the flag's least value is higher) to `maximum`
    (none if None), or a one-line error naming the flag."""
    return _argparse_type(lambda text: parse_int(flag, text, minimum, maximum))


def seed(flag: str):
    """argparse type for a training seed: 0 to lorplan.core.limits.MAX_SEED (2^32 - 1), the range numpy's seed
    takes (transformers.set_seed seeds numpy: 2^32 ended a probe in its traceback, in the background)."""
    from lorplan.core.limits import MAX_SEED

    return positive_int(flag, 0, MAX_SEED)


def count(flag: str, minimum: int = 1):
    """argparse type for a count written as people write large ones (parse_count: 250k, 2.5M, 1e6, 250,000),
    or a one-line error naming the flag."""
    return _argparse_type(lambda text: parse_count(flag, text, minimum))


def positive_float(flag: str, maximum: float | None = None):
    """argparse type for a finite number above 0 and at most `maximum` (no bound if None), or a one-line error
    naming the flag."""
    return _argparse_type(lambda text: parse_positive_float(flag, text, maximum))


def step_count(flag: str):
    """argparse type for a count of optimizer steps: 1 to lorplan.core.limits.MAX_STEPS (10^9; more is a typo)."""
    from lorplan.core.limits import MAX_STEPS

    return positive_int(flag, 1, MAX_STEPS)


def vocab_metavar(vocab) -> str:
    """A lorplan.core.vocab vocabulary as a metavar that lists its names: "none|int8|nf4|fp4"."""
    return "|".join(vocab.values())


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


__all__ = ["BadInput", "add_rope_scaling", "check_write_target", "int_list", "parse_positive_float", "parse_rope_scaling", "positive_float",
           "positive_int", "print_json", "say", "split_list"]
