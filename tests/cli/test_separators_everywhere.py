"""core.units.without_commas is the one rule for a typed number's separators (a comma or an underscore only
between groups of three digits), but after e89ab75 some readers still used int()/float() alone:

- `lorplan plan --rank 1,024 --write` and `--alpha 1,000`: the table's parse_int / parse_positive_float took the
  comma, then write_plan read the same text again with int()/float() and said "'1,024' is not a number";
- `--lora-dropout 0.0_5` and `--reserve-fraction 0_1` were read by float() as 0.05 and 1.0 (Python's reading of
  an underscore anywhere between digits), `--lora-dropout 0,05` was "not a number";
- `lorplan probe wait --timeout 1_0` waited 10 s;
- the planner's LoRA dropout field read "0.0_5" as 0.05 and "0_5" as 5 ("must be at least 0 and below 1").

Each now goes through without_commas: well-formed separators read, the rest is refused in its words."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.tui.panels.setup_form import parse_dropout
from tests.cli.test_input_edges import _run

MODEL = ["--model", "meta-llama/Llama-3.1-8B", "--quant", "nf4", "--seq-len", "256"]
UNDERSCORE = "an underscore only separates thousands, in groups of three digits (1_234_567)"
COMMA = "a comma only separates thousands (250,000); write a decimal point as a point (0.05)"


def test_a_rank_and_an_alpha_with_commas_are_written_as_the_table_reads_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "p.toml"
    rc, out, err = _run(capsys, "plan", *MODEL, "--rank", "1,024", "--alpha", "2,048.5", "--write", str(path))
    assert rc == 0, err  # was: "--rank: '1,024' is not a number", though the table had priced rank 1024
    plan = read_plan(path)
    assert (plan.lora.r, plan.lora.alpha) == (1024, 2048.5)


@pytest.mark.parametrize(("flag", "text", "says"), [
    ("--lora-dropout", "0.0_5", UNDERSCORE),  # was 0.05
    ("--lora-dropout", "0,05", COMMA),  # was "not a number"
    ("--reserve-fraction", "0_1", UNDERSCORE),  # was 1.0
    ("--reserve-fraction", "0,1", COMMA),
])
def test_the_fraction_flags_take_the_separator_rule(capsys, monkeypatch, flag, text, says):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc, out, err = _run(capsys, "plan", *MODEL, "--ranks", "8", flag, text)
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert err.strip() == f"lorplan plan: error: {flag}: {text!r}: {says}"


def test_the_fraction_flags_still_read_their_numbers(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc, out, err = _run(capsys, "plan", *MODEL, "--ranks", "8", "--lora-dropout", "5e-2", "--reserve-fraction",
                        ".1", "--json")
    assert rc == 0, err


@pytest.mark.parametrize(("text", "says"), [("1_0", UNDERSCORE), ("1,5", COMMA.replace("(0.05)", "(2.5)"))])
def test_probe_wait_timeout_takes_the_separator_rule(capsys, state_home, text, says):
    rc, out, err = _run(capsys, "probe", "wait", "--timeout", text)  # 1_0 waited 10 s
    assert rc == 2 and out == "", err
    assert err.strip().endswith(f"error: --timeout: {text!r}: {says}"), err


@pytest.mark.parametrize(("text", "says"), [("0.0_5", UNDERSCORE), ("0_5", UNDERSCORE), ("0,05", COMMA)])
def test_the_dropout_field_refuses_what_the_flag_refuses(text, says):
    with pytest.raises(BadInput) as field:
        parse_dropout(text)  # "0.0_5" was 0.05, "0_5" 5 ("must be at least 0 and below 1")
    assert str(field.value) == f"LoRA dropout: {text!r}: {says}"


@pytest.mark.parametrize(("text", "value"), [("0.05", 0.05), ("5e-2", 0.05), (".5", 0.5), ("-0", 0.0), ("0", 0.0)])
def test_the_dropout_field_still_reads_numbers(text, value):
    assert parse_dropout(text) == value


def test_the_dropout_field_echoes_the_text_as_typed():
    with pytest.raises(BadInput, match=r"^LoRA dropout: 1,000 must be at least 0 and below 1$"):
        parse_dropout("1,000")


@pytest.mark.parametrize(("text", "shown"), [("80,000MB", "80,000 MB"), ("80_000 mb", "80_000 MB"), ("80GB", "80 GB")])
def test_a_decimal_budget_with_separators_is_named_as_typed(text, shown):
    """The planner's budget field takes 80,000MB since e89ab75 (parse_size reads separators); its summary said
    only '74.51 GiB' for it, where 80GB gets '80 GB = 74.51 GiB' (why the figure is not 80)."""
    from lorplan.tui.panels.setup_form import budget_words, parse_budget

    assert budget_words(text, parse_budget(text)) == f"{shown} = 74.51 GiB"
