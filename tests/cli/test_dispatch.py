"""The dispatcher: broken pipes end quietly, bad flags exit 2."""

import os
import subprocess
import sys

import pytest

from lorplan.cli import main


def test_broken_pipe_is_quiet():
    # `lorplan models | head -1`: the reader is gone before lorplan writes; no traceback may reach the user.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "lorplan", "models"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == 0


def test_unknown_command_exits_2():
    out = subprocess.run([sys.executable, "-m", "lorplan", "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "frobnicate" in out.stderr


def test_argparse_errors_are_one_line_naming_the_flag():
    # Errors raised by argument types and by argparse itself (missing arguments), at every nesting level.
    cases = [
        (["probe", "start", "--ranks", "0"], "--ranks: 0 must be at least 1"),
        (["profile", "--data", "f", "--seq-len", "abc"], "--seq-len: 'abc' is not a number"),
        (["profile"], "required: --data"),
        (["probe", "cancel"], "required: RUN"),
    ]
    for argv, expected in cases:
        out = subprocess.run([sys.executable, "-m", "lorplan", *argv], capture_output=True, text=True)
        assert out.returncode == 2, argv
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert expected in lines[0] and "argument --" not in lines[0], lines[0]


@pytest.mark.parametrize(("command", "argparse_argv", "lorplan_argv"), [
    ("plan", [], ["--model", "no-such-model"]),
    ("profile", [], ["--data", "{tmp}/missing.jsonl"]),
    ("probe start", ["--ranks", "0"], ["--ranks", "4,1000", "--device", "cpu"]),
    ("probe cancel", [], ["nosuch"]),
    ("probe status", ["--bogus"], ["nosuch"]),
    ("recommend", ["--bogus"], ["--model", "no-such-model", "--trained-tokens", "1000"]),
    ("export", [], ["{tmp}/missing.toml", "--to", "peft"]),
    ("train", [], ["{tmp}/missing.toml"]),
    ("models", ["--bogus"], None),
    ("gpus", ["--bogus"], None),
])
def test_every_error_names_its_subcommand_as_argparse_does(command, argparse_argv, lorplan_argv, capsys,
                                                           state_home, tmp_path):
    """argparse's own checks said `lorplan recommend: error: ...` and lorplan's `lorplan: error: ...`: both name
    the subcommand now (exit 2, one line), unknown arguments of a subcommand too."""
    prefix = f"lorplan {command}: error: "
    for argv in (argparse_argv, lorplan_argv):
        if argv is None:
            continue
        argv = [*command.split(), *(a.format(tmp=tmp_path) for a in argv)]
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse's checks exit from parse_args
            rc = exc.code
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith(prefix) and err.count("\n") == 1, (argv, err)
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


def test_the_planner_and_lorplan_itself_keep_the_bare_prefix(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--bogus"])
    assert exc.value.code == 2 and capsys.readouterr().err == "lorplan: error: unrecognized arguments: --bogus\n"


@pytest.mark.parametrize(("argv", "expected"), [
    (["train", "plan.toml", "--output-dir", "x"],
     "lorplan train: error: unrecognized arguments: --output-dir x (did you mean --output?)"),
    (["plan", "--model", "gpt2", "--seqlen", "512"],
     "lorplan plan: error: unrecognized arguments: --seqlen 512 (did you mean --seq-len?)"),
    (["profile", "--data", "f.jsonl", "--sample-size=100"],
     "lorplan profile: error: unrecognized arguments: --sample-size=100 (did you mean --sample?)"),
    (["probe", "start", "--model", "gpt2", "--rank-list", "4", "--devce", "cpu"],
     "lorplan probe start: error: unrecognized arguments: --rank-list 4 --devce cpu "
     "(did you mean --ranks for --rank-list, --device for --devce?)"),
    (["probe", "cancel", "RUN", "--ranks", "4"],  # `probe cancel` takes --rank: that subcommand's options
     "lorplan probe cancel: error: unrecognized arguments: --ranks 4 (did you mean --rank?)"),
    (["models", "--jsn"], "lorplan models: error: unrecognized arguments: --jsn (did you mean --json?)"),
    # nothing close: argparse's words alone
    (["gpus", "--frobnicate"], "lorplan gpus: error: unrecognized arguments: --frobnicate"),
])
def test_an_unknown_option_names_the_closest_option_of_its_subcommand(argv, expected, capsys, state_home):
    """`lorplan train plan.toml --output-dir x` said only `unrecognized arguments: --output-dir x`; the line now
    names the subcommand's closest option (one line, exit 2), and nothing runs."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err == expected + "\n", err
    assert not state_home.exists() or not any(state_home.iterdir())


@pytest.mark.parametrize(("argv", "close"), [
    (["recomend"], "recommend"),
    (["model"], "models"),
    (["probe", "strat"], "start"),
    (["frobnicate"], None),  # nothing close: argparse's words alone
])
def test_a_mistyped_command_names_the_closest_one(argv, close, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and f"invalid choice: '{argv[-1]}'" in err
    if close is None:
        assert "did you mean" not in err
    else:
        assert err.endswith(f" (did you mean {close}?)\n"), err


@pytest.mark.parametrize(("text", "value"), [("250000", 250_000), ("250,000", 250_000), ("250_000", 250_000),
                                             ("2.5e5", 250_000), ("250k", 250_000), ("2.5M", 2_500_000),
                                             ("1B", 10**9), (" 12 ", 12)])
def test_counts_read_as_people_write_large_ones(text, value):
    from lorplan.cli._common import parse_count

    assert parse_count("--trained-tokens", text) == value


@pytest.mark.parametrize(("text", "message"), [("1.0001k", "'1.0001k' is not a whole number"),
                                               ("0.5", "'0.5' is not a whole number"),
                                               ("inf", "'inf' is not a finite number"),
                                               ("abc", "'abc' is not a count (e.g. 250000, 250k, 2.5M, 1e6)"),
                                               ("k", "'k' is not a count"), ("0", "0 must be at least 1")])
def test_a_count_that_is_not_one_is_a_line_naming_the_flag(text, message, capsys):
    """`lorplan recommend --trained-tokens X`: the flag's one-line error (exit 2), before anything is loaded."""
    try:
        rc = main(["recommend", "--model", "gpt2", "--trained-tokens", text])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and f"--trained-tokens: {message}" in err, err
