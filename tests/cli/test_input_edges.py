"""Input edges a new-user walkthrough hit: each is refused in one line naming the flag (exit 2), never a
traceback, and before anything is priced, trained or written."""

from __future__ import annotations

import argparse
import json

import pytest

from lorplan.cli import build_parser, main
from lorplan.cli._common import parse_count
from lorplan.core.limits import MAX_COUNT, MAX_GPU_MEMORY_BYTES
from lorplan.core.plan import read_plan

QWEN = "Qwen/Qwen3-8B"


def _run(capsys, *argv):
    """(exit code, stdout, stderr) of `lorplan ARGV`, whether argparse or the command refused it."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse's checks exit from parse_args
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def _refused(capsys, argv, expected):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert expected in err, (argv, err)
    assert out == "", out  # nothing was priced or printed
    return err


# 1. counts: --trained-tokens 1e400 was an OverflowError traceback (exit 1), 1e30 a 31-digit token count


@pytest.mark.parametrize(("argv", "flag", "text"), [
    (["--model", "gpt2", "--trained-tokens", "1e400"], "--trained-tokens", "1e400"),
    (["--model", "gpt2", "--trained-tokens", "1e30"], "--trained-tokens", "1e30"),
    (["--model", "gpt2", "--trained-tokens", "1000000000000001"], "--trained-tokens", "1000000000000001"),
    (["--model", "gpt2", "--trained-tokens", "1e999999999k"], "--trained-tokens", "1e999999999k"),
    (["--model", "all-MiniLM-L6-v2", "--examples", "1e400"], "--examples", "1e400"),
])
def test_a_count_beyond_any_training_set_is_refused_naming_the_bound(argv, flag, text, capsys, state_home):
    _refused(capsys, ["recommend", *argv],
             f"{flag}: {text!r} is more than any training set (at most 1,000,000,000,000,000 = 1e15)")


def test_the_count_bound_itself_is_accepted_and_recommends_without_overflow(capsys, state_home):
    assert parse_count("--trained-tokens", "1e15") == MAX_COUNT == 10**15
    rc, out, err = _run(capsys, "recommend", "--model", "gpt2", "--trained-tokens", "1e15", "--json")
    assert rc == 0 and "Traceback" not in err, err
    assert json.loads(out)["rank"] >= 1


@pytest.mark.parametrize(("text", "message"), [
    # more digits than Decimal's default 28: the product used to round them away and call it whole
    ("2.5000000000000000000000000001k", "'2.5000000000000000000000000001k' is not a whole number"),
    ("999999999999999.99999999999999999999", "is not a whole number"),
    ("-1e999999999", "-1e999999999 must be at least 1"),  # compared as a Decimal, never a billion-digit int
    ("1e-999999999", "'1e-999999999' is not a whole number"),
    ("nan", "'nan' is not a finite number (give a count such as 250000, 250k, 2.5M or 1e6)"),
])
def test_counts_with_extreme_exponents_or_digits_are_refused_quickly(text, message):
    from lorplan.core.errors import BadInput

    with pytest.raises(BadInput) as err:
        parse_count("--examples", text)
    assert str(err.value) == f"--examples: {message}" or message in str(err.value), str(err.value)


# 2. probe subcommands: --timeout -1 "timed out after -1 s"; options without help or with argparse's metavars


@pytest.mark.parametrize(("value", "message"), [
    ("-1", "--timeout: '-1' must be a number of seconds, 0 or more"),
    ("nan", "--timeout: 'nan' is not a finite number (leave --timeout out to wait as long as it takes)"),
    ("abc", "--timeout: 'abc' is not a number of seconds"),
])
def test_probe_wait_refuses_a_timeout_that_is_no_wait(value, message, capsys, state_home):
    err = _refused(capsys, ["probe", "wait", "--timeout", value], message)
    assert err.startswith("lorplan probe wait: error: --timeout")  # argparse's check, before any run is read
    assert not state_home.exists() or not any(state_home.iterdir())


@pytest.mark.parametrize(("argv", "message"), [
    (["probe", "start", "--seed", "-1"], "--seed: -1 must be at least 0"),  # a plan's training.seed is ≥ 0
    (["probe", "start", "--seeds", "0,-1"], "--seeds: -1 must be at least 0"),
    (["probe", "start", "--seed", "x"], "--seed: 'x' is not a number"),
    # numpy's seed range (transformers.set_seed seeds numpy): 2**32 failed inside the probe, in the background
    (["probe", "start", "--seed", str(2**32)], "--seed: 4294967296 must be at most 4,294,967,295"),
    (["probe", "start", "--seeds", f"0,{2**32}"], "--seeds: 4294967296 must be at most 4,294,967,295"),
    (["probe", "cancel", "RUN", "--rank", "x"], "--rank: 'x' is not a number"),
])
def test_probe_seeds_and_ranks_are_refused_naming_the_flag(argv, message, capsys, state_home):
    err = _refused(capsys, argv, message)
    assert "argument --" not in err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


def _probe_parsers() -> dict[str, argparse.ArgumentParser]:
    def subparsers(parser):
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices

    return {name: p for name, p in subparsers(subparsers(build_parser())["probe"]).items()}


@pytest.mark.parametrize("command", ["start", "status", "wait", "cancel", "list"])
def test_every_probe_option_has_help_and_a_readable_metavar(command):
    """`lorplan probe start --help` listed --seed, --optimizer, --attention and --grad-checkpointing with no word,
    and metavars such as MAX_PARALLEL and EVAL_EXAMPLES (the option's name shouted back)."""
    parser = _probe_parsers()[command]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[0] if action.option_strings else action.dest
        assert action.help and action.help.strip(), f"probe {command} {name}: no help"
        if action.nargs != 0:  # an option with a value
            assert action.metavar is not None, f"probe {command} {name}: argparse's metavar"
    usage = parser.format_usage()
    assert "MAX_PARALLEL" not in usage and "EVAL_EXAMPLES" not in usage and "{" not in usage, usage


# 3. lists and sizes: --ranks 8,,16 priced 8 and 16 without a word; --gpu-memory -5G was "expected one argument"


@pytest.mark.parametrize("argv", [
    ["plan", "--model", "gpt2", "--ranks", "8,,16"],
    ["plan", "--model", "gpt2", "--ranks", "8,16,"],
    ["probe", "start", "--ranks", "4,,8", "--device", "cpu"],  # the same parser
])
def test_an_empty_rank_between_commas_is_refused(argv, capsys, state_home):
    text = argv[argv.index("--ranks") + 1]
    _refused(capsys, argv, f"--ranks: {text!r} has an empty item between commas (write ranks as 4,8,16)")
    assert not state_home.exists() or not any(state_home.iterdir())


@pytest.mark.parametrize("argv", [
    ["plan", "--model", "gpt2", "--gpu-memory=-5G"],
    ["plan", "--model", "gpt2", "--gpu-memory", "-5G"],  # argparse read -5G as an unknown option
    ["plan", "--model", "gpt2", "--gpu-memory", "-5"],
    ["recommend", "--model", "gpt2", "--trained-tokens", "1M", "--gpu-memory", "-5G"],
])
def test_a_negative_gpu_memory_is_refused_as_negative(argv, capsys, state_home):
    text = argv[-1].split("=", 1)[-1]
    err = _refused(capsys, argv, f"--gpu-memory: {text!r} must be a positive size")
    assert "expected one argument" not in err


@pytest.mark.parametrize("command", [["plan", "--model", "gpt2"],
                                     ["recommend", "--model", "gpt2", "--trained-tokens", "1M"]])
def test_a_gpu_memory_beyond_any_gpu_is_refused_as_the_planner_refuses_it(command, capsys, state_home):
    """The README's planner refuses a GPU budget of 65TiB; `lorplan plan --gpu-memory 65TiB` priced it."""
    from lorplan.core.errors import BadInput
    from lorplan.tui.panels.setup_form import parse_budget

    _refused(capsys, [*command, "--gpu-memory", "65TiB"], "--gpu-memory: '65TiB' is more than any GPU has (at most 64 TiB)")
    with pytest.raises(BadInput):
        parse_budget("65TiB")  # the planner's field agrees
    assert parse_budget("64TiB") == MAX_GPU_MEMORY_BYTES
    rc, out, err = _run(capsys, *command, "--gpu-memory", "64TiB", "--json")
    assert rc == 0 and json.loads(out), err


# 4. --layers with all-linear targets: priced silently, then --write named a key of a file not yet written


def test_layers_with_all_linear_targets_are_refused_before_anything_is_priced(tmp_path, capsys, state_home):
    target = tmp_path / "qw.toml"
    expected = ('--layers: needs explicit --targets (peft refuses layers_to_transform with "all-linear"); '
                "e.g. --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    for extra in ([], ["--write", str(target)], ["--targets", "all-linear", "--json"]):
        err = _refused(capsys, ["plan", "--model", QWEN, "--rank", "16", "--layers", "0-3", *extra], expected)
        assert "qw.toml" not in err and "lora." not in err
    assert not target.exists()


def test_the_suggested_targets_write_a_plan_on_those_layers(tmp_path, capsys, state_home):
    rc, _, err = _run(capsys, "plan", "--model", "gpt2", "--layers", "0-3")
    suggested = err.rsplit("--targets ", 1)[1].strip()
    assert rc == 2 and suggested == "c_attn,c_proj,c_fc", err
    target = tmp_path / "g.toml"
    rc, out, err = _run(capsys, "plan", "--model", "gpt2", "--rank", "8", "--layers", "0-3", "--targets", suggested,
                        "--write", str(target))
    assert rc == 0 and out.startswith(f"wrote {target}"), err
    plan = read_plan(target)
    assert plan.lora.layers_to_transform == (0, 1, 2, 3)
    assert plan.lora.target_modules == ("c_attn", "c_proj", "c_fc")


def test_layers_with_a_preset_that_becomes_module_names_still_plans(capsys, state_home):
    rc, out, err = _run(capsys, "plan", "--model", QWEN, "--rank", "16", "--layers", "0-3", "--targets", "attention",
                        "--json")
    assert rc == 0, err
    assert json.loads(out)["setup"]["targets"]["layers_to_transform"] == [0, 1, 2, 3]


# 5. every list flag: an empty item (--layers 0,,3, --lr 1e-3,,3e-3, --seeds 0,,1, ...) was skipped without a word


@pytest.mark.parametrize(("argv", "flag", "written"), [
    (["plan", "--model", "gpt2", "--targets", "c_attn", "--layers", "0,,3"], "--layers", "layers as 0-3,8"),
    (["plan", "--model", "gpt2", "--targets", "c_attn", "--layers", "0-3,"], "--layers", "layers as 0-3,8"),
    (["plan", "--model", "gpt2", "--targets", "c_attn,,c_proj"], "--targets", "targets as q_proj,v_proj"),
    (["plan", "--model", "gpt2", "--targets", ",c_attn"], "--targets", "targets as q_proj,v_proj"),
    (["plan", "--model", "gpt2", "--modules-to-save", "lm_head,"], "--modules-to-save",
     "modules as lm_head,embed_tokens"),
    (["plan", "--model", "gpt2", "--rank-pattern", "c_attn=8,,c_fc=4"], "--rank-pattern",
     "the pattern as q_proj=16,v_proj=8"),
    (["recommend", "--model", "gpt2", "--trained-tokens", "1M", "--targets", "c_attn,,c_fc"], "--targets",
     "targets as q_proj,v_proj"),
    (["probe", "start", "--device", "cpu", "--lr", "1e-3,,3e-3"], "--lr", "learning rates as 1e-4,3e-4"),
    (["probe", "start", "--device", "cpu", "--seeds", "0,,1"], "--seeds", "seeds as 0,1,2"),
    (["probe", "start", "--device", "cpu", "--targets", "query,,value"], "--targets", "targets as q_proj,v_proj"),
])
def test_an_empty_item_of_any_list_flag_is_refused_naming_it(argv, flag, written, capsys, state_home):
    text = argv[argv.index(flag) + 1]
    _refused(capsys, argv, f"{flag}: {text!r} has an empty item between commas (write {written})")
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


@pytest.mark.parametrize(("argv", "message"), [
    (["plan", "--model", "gpt2", "--targets", "c_attn", "--layers", " "], "--layers: give at least one block index"),
    (["plan", "--model", "gpt2", "--rank-pattern", ""], "--rank-pattern: give at least one NAME=RANK"),
    (["probe", "start", "--device", "cpu", "--targets", ""], "--targets: give at least one name"),  # was all-linear
    (["probe", "start", "--device", "cpu", "--lr", ""], "--lr: give at least one learning rate"),
    (["probe", "start", "--device", "cpu", "--seeds", ","], "--seeds: ',' has an empty item"),
    (["probe", "start", "--device", "cpu", "--lr", "inf"], "--lr: 'inf' is not a finite number"),  # trained inf
    (["probe", "start", "--device", "cpu", "--lr", "3e-4,nan"], "--lr: 'nan' is not a finite number"),
    (["probe", "start", "--device", "cpu", "--seeds", "0,x"], "--seeds: 'x' is not a number"),
])
def test_an_empty_or_unusable_list_is_refused_naming_the_flag(argv, message, capsys, state_home):
    _refused(capsys, argv, message)
    assert not state_home.exists() or not any(state_home.iterdir())


def test_lists_with_spaces_around_their_items_still_read():
    from lorplan.cli import probe
    from lorplan.cli.plan_args import parse_layers, parse_rank_pattern

    assert parse_layers(" 0-2, 5 ") == (0, 1, 2, 5)
    assert parse_rank_pattern("q_proj=16, v_proj = 8") == {"q_proj": 16, "v_proj": 8}
    assert probe._float_list("1e-4, 3e-4") == (1e-4, 3e-4)
    assert probe._seed_list("0, 1,2") == (0, 1, 2)


# 6. a count that is no finite number: --trained-tokens -inf was "expected one argument", inf "not a whole number"


@pytest.mark.parametrize(("flag", "text"), [("--trained-tokens", "inf"), ("--trained-tokens", "nan"),
                                            ("--trained-tokens", "-inf"), ("--trained-tokens", "Infinity"),
                                            ("--examples", "-inf"), ("--examples", "-nan")])
def test_a_count_that_is_no_finite_number_is_refused_as_such(flag, text, capsys, state_home):
    err = _refused(capsys, ["recommend", "--model", "gpt2", flag, text],
                   f"{flag}: {text!r} is not a finite number (give a count such as 250000, 250k, 2.5M or 1e6)")
    assert "expected one argument" not in err


# 6b. a number that is no finite one: --alpha inf read "'inf' must be a positive number", as if it were below 0


@pytest.mark.parametrize("argv", [["plan", "--model", "gpt2", "--alpha"], ["probe", "start", "--device", "cpu", "--alpha"],
                                  ["probe", "start", "--device", "cpu", "--lr"],
                                  ["recommend", "--model", "gpt2", "--trained-tokens", "1M", "--epochs"]])
@pytest.mark.parametrize("text", ["inf", "nan", "-inf", "Infinity", " -NaN "])
def test_a_number_that_is_no_finite_one_is_refused_as_such(argv, text, capsys, state_home):
    flag = argv[-1]
    err = _refused(capsys, [*argv, text], f"{flag}: {text.strip()!r} is not a finite number")
    assert "positive" not in err and "expected one argument" not in err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


@pytest.mark.parametrize("text", ["inf", "nan", "-inf"])
def test_a_wait_timeout_that_is_no_finite_number_says_how_to_wait_without_one(text, capsys, state_home):
    _refused(capsys, ["probe", "wait", "--timeout", text],
             f"--timeout: {text!r} is not a finite number (leave --timeout out to wait as long as it takes)")


@pytest.mark.parametrize(("text", "message"), [("1e400", "'1e400' is too large a number"),
                                               ("-1e400", "'-1e400' must be a positive number"),
                                               ("-1", "'-1' must be a positive number"),
                                               ("0", "'0' must be a positive number"),
                                               ("x", "'x' is not a number")])
def test_other_numbers_a_positive_flag_refuses_say_why(text, message, capsys, state_home):
    _refused(capsys, ["plan", "--model", "gpt2", "--alpha", text], f"--alpha: {message}")


# 7. --cuda-context: 1e300 named a 301-digit byte count; 65GiB named bytes, not what was typed


@pytest.mark.parametrize("text", ["65GiB", "1e300", "1TiB", "1e20"])
def test_a_cuda_context_beyond_any_is_refused_as_typed(text, capsys, state_home):
    err = _refused(capsys, ["plan", "--model", "gpt2", "--cuda-context", text],
                   f"--cuda-context: {text!r} is more than a CUDA context takes (at most 64 GiB)")
    assert len(err) < 200, err


@pytest.mark.parametrize("text", ["-1G", "-500MiB", "-inf", "nan"])
def test_a_negative_or_non_finite_cuda_context_is_refused_naming_the_flag(text, capsys, state_home):
    err = _refused(capsys, ["plan", "--model", "gpt2", "--cuda-context", text], f"--cuda-context: {text!r} ")
    assert "expected one argument" not in err


@pytest.mark.parametrize(("text", "shown"), [("500MiB", "500.00 MiB"), ("64GiB", "64.00 GiB"), (" 1G ", "1.00 GiB")])
def test_a_cuda_context_within_the_bound_is_priced(text, shown, capsys, state_home):
    rc, out, err = _run(capsys, "plan", "--model", "gpt2", "--rank", "8", "--cuda-context", text, "--json")
    assert rc == 0, err
    assert json.loads(out)["cuda_context"]["bytes"] == int(shown.split()[0].split(".")[0]) * {
        "MiB": 1024**2, "GiB": 1024**3}[shown.split()[1]]


@pytest.mark.parametrize("text", ["0", "0GiB", "0B", " 0MiB "])
def test_a_cuda_context_of_zero_is_priced(text, capsys, state_home):
    """A setup priced without the CUDA context (TrainingSetup and plan files take 0, and the planner's
    copy-command writes it as --cuda-context 0GiB, which the flag refused as 'must be a positive size')."""
    rc, out, err = _run(capsys, "plan", "--model", "gpt2", "--rank", "8", "--cuda-context", text, "--json")
    assert rc == 0, err
    priced = json.loads(out)
    assert priced["cuda_context"]["bytes"] == 0 and priced["cuda_context"]["source"] == "given"
    assert priced["rows"][0]["memory"]["details"]["cuda_context"] == 0
    rc, out, err = _run(capsys, "plan", "--model", "gpt2", "--rank", "8", "--cuda-context", "500MiB", "--json")
    with_context = json.loads(out)["rows"][0]["memory"]["overhead"]
    assert priced["rows"][0]["memory"]["overhead"] == with_context - 500 * 1024**2


@pytest.mark.parametrize("text", ["-1G", "-0.5", "-500MiB"])
def test_a_negative_cuda_context_is_refused_as_negative(text, capsys, state_home):
    _refused(capsys, ["plan", "--model", "gpt2", "--cuda-context", text],
             f"--cuda-context: {text!r} is negative (give a size of 0 or more, e.g. 750MiB)")


def test_a_plan_file_cuda_context_beyond_any_is_named_by_its_key(tmp_path, capsys, state_home):
    """A hand-edited estimate.cuda_context_bytes above 64 GiB was refused naming the flag --cuda-context, which
    was not typed, and a byte count; 0 is a plan's own (priced without the context) and exports."""
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", "gpt2", "--rank", "8", "--cuda-context", "0", "--write", str(plan)]) == 0
    assert "cuda_context_bytes = 0\n" in plan.read_text()
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "out")]) == 0
    plan.write_text(plan.read_text().replace("cuda_context_bytes = 0\n", "cuda_context_bytes = 1099511627776\n"))
    capsys.readouterr()
    _refused(capsys, ["export", str(plan), "--to", "peft", "-o", str(tmp_path / "out2")],
             f"{plan}: estimate.cuda_context_bytes: must be at most 68,719,476,736 (64 GiB; got 1.00 TiB)")


# 8. every command: a value that starts with a minus (-1e3, -inf, -1,2) was argparse's "expected one argument"


@pytest.mark.parametrize(("argv", "message"), [
    (["plan", "--model", "gpt2", "--alpha", "-inf"], "--alpha: '-inf' is not a finite number"),
    (["plan", "--model", "gpt2", "--gpu-memory", "-inf"], "--gpu-memory: '-inf' is not a finite size"),
    (["probe", "start", "--lr", "-1e-3"], "--lr: '-1e-3' must be a positive number"),
    (["probe", "start", "--seeds", "-1,2"], "--seeds: -1 must be at least 0"),
    (["probe", "start", "--seed", "-1e3"], "--seed: -1e3 must be at least 0"),
    (["probe", "start", "--steps", "-1e3"], "--steps: -1e3 must be at least 1"),
    (["probe", "start", "--ranks", "-4,8"], "--ranks: -4 must be at least 1"),
    (["probe", "wait", "--timeout", "-1e3"], "--timeout: '-1e3' must be a number of seconds, 0 or more"),
    (["probe", "wait", "--timeout", "-inf"], "--timeout: '-inf' is not a finite number"),
    (["probe", "cancel", "RUN", "--rank", "-1e3"], "--rank: -1e3 must be at least 0"),
    (["profile", "--data", "d.jsonl", "--sample", "-1e3"], "--sample"),
    (["train", "p.toml", "--max-steps", "-1e3"], "--max-steps"),
])
def test_a_value_that_starts_with_a_minus_reaches_its_flags_check(argv, message, capsys, state_home):
    err = _refused(capsys, argv, message)
    assert "expected one argument" not in err


def test_no_parser_has_an_option_that_looks_like_a_negative_number():
    """Every (sub)command reads -5G, -1e3 and -inf as values (read_minus_values); that holds only while no option
    of theirs is itself a minus and a digit (argparse would then read -1 as that option)."""
    def walk(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)

    parsers = list(walk(build_parser()))
    assert len(parsers) > 10
    for parser in parsers:
        assert parser._negative_number_matcher.match("-inf") and parser._negative_number_matcher.match("-5G")
        assert not parser._has_negative_number_optionals, parser.prog
