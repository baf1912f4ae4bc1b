"""Words a new user met in the planner (a walkthrough): a number typed far beyond a field's limit, command-line
flags where the planner has fields, a pop-up pointing "below", the copy-command title, the Data tab's padding
line, "epochs (1)", the export dialog's empty warnings and learning rates printed to six digits."""

from __future__ import annotations

import json

import pytest
from textual.app import App
from textual.widgets import Static
from tui_helpers import type_into, wait_until

from lorplan.core.data import profile_dataset
from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets
from lorplan.core.memory.types import TrainingSetup
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.core.units import count_text
from lorplan.probe.compare import RankRow
from lorplan.recommend import (
    DataSize,
    Fit,
    LadderRow,
    adapter_size,
    capacity_prior,
    combine,
    price_fit,
)
from lorplan.tui import numbers, recommend_bridge
from lorplan.tui.panels.data_panel import figures_text
from lorplan.tui.panels.probe_plot import comparison_text
from lorplan.tui.panels.recommend_panel import RecommendPanel, headline, row_cells
from lorplan.tui.panels.setup_form import parse_int
from lorplan.tui.screens.export_dialog import ExportDialog
from lorplan.tui.textshot import screen_text

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
SIZE = (150, 45)


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _recommend_tab(pilot) -> RecommendPanel:
    await wait_until(pilot, lambda: pilot.app.main.plan is not None)
    await pilot.press("f8")
    await pilot.pause()
    return pilot.app.screen.query_one(RecommendPanel)


# -- 1. a number far beyond a limit -------------------------------------------------------------------------
def test_a_count_in_a_message_stays_short():
    assert count_text(1_000_000) == "1,000,000"
    assert count_text(10**12) == "1,000,000,000,000"
    assert count_text(10**15) == "10^15"  # was 1,000,000,000,000,000
    assert count_text(1e99) == "1e+99"  # was 100 digits: 999,999,999,999,999,967,336,…
    assert count_text(float("inf")) == "inf"


def test_a_number_far_beyond_the_limit_is_echoed_as_typed():
    with pytest.raises(BadInput) as exc:
        parse_int("1e99", "Labelled examples", 1, 10**15)
    assert str(exc.value) == "Labelled examples: 1e99 must be at most 10^15"
    with pytest.raises(BadInput, match=r"^Trained tokens: 1e999 must be at most 10\^15$"):
        parse_int("1e999", "Trained tokens", 1, 10**15)  # infinity: was "must be a whole number"
    with pytest.raises(BadInput, match=r"^Trained tokens: -1e99 must be at least 1$"):
        parse_int("-1e99", "Trained tokens", 1, 10**15)
    long = "1" + "0" * 40  # too long to echo: its first digits and how many
    with pytest.raises(BadInput, match=r"^Trained tokens: 1000000000… \(41 digits\) must be at most 10\^15$"):
        parse_int(long, "Trained tokens", 1, 10**15)
    # what parse_int says otherwise is kept, and numbers in range parse
    with pytest.raises(BadInput, match="'1.5' must be a whole number"):
        parse_int("1.5", "Seeds per probe", 1, 5)
    with pytest.raises(BadInput, match="'x' is not a number"):
        parse_int("x", "Seeds per probe", 1, 5)
    assert parse_int("20,000", "Labelled examples", 1, 10**15) == 20_000
    assert parse_int("1e15", "Labelled examples", 1, 10**15) == 10**15


@pytest.mark.anyio
async def test_the_recommend_tab_says_1e99_in_one_line(make_app):
    app = make_app(model="sentence-transformers/all-MiniLM-L6-v2")
    async with app.run_test(size=SIZE) as pilot:
        panel = await _recommend_tab(pilot)
        await type_into(pilot, "#rec-size", "1e99")
        error = _text(app, "#rec-size-error")
        assert error == "Labelled examples: 1e99 must be at most 10^15"
        assert panel.typed_size is None and panel.shown is None
        assert error in screen_text(app)  # on one line of the screen, not seven
        await type_into(pilot, "#rec-seeds", "1e99")
        assert _text(app, "#rec-ladder-error") == (
            f"Seeds per probe: 1e99 must be at most {recommend_bridge.MAX_SEEDS}")


# -- 2. the planner's names, not the command's flags -----------------------------------------------------------
def test_remedies_are_named_as_the_planner_names_its_fields():
    assert recommend_bridge.remedy_words("--grad-checkpointing") == "gradient checkpointing"
    assert recommend_bridge.remedy_words("--seq-len 838") == "a sequence length of 838"
    assert recommend_bridge.remedy_words("--micro-batch 2") == "a micro-batch of 2"
    assert recommend_bridge.remedy_words("--optimizer adamw-8bit") == "the AdamW 8-bit optimizer"
    assert (recommend_bridge.remedy_words("--grad-checkpointing --quant nf4 --double-quant")
            == "gradient checkpointing + nf4 (QLoRA) quantization with double quant")
    assert recommend_bridge.remedy_words("--gpus 4 --sharding zero3") == "ZeRO-3 sharding over 4 GPUs"


def test_the_memory_verdict_names_fields_in_the_tui_and_flags_in_the_cli():
    spec = load_spec(LLAMA)
    fit = price_fit(spec, TrainingSetup(seq_len=4096), 16, 24 * 2**30)  # does not fit: remedies priced
    assert fit.fits is False and "it fits with --grad-checkpointing" in fit.explanation  # the CLI's words stay
    assert "or with --seq-len " in fit.explanation
    words = recommend_bridge.fit_words(fit)
    assert "--" not in words, words
    assert "it fits with gradient checkpointing + nf4 (QLoRA) quantization with double quant or a sequence " \
           "length of " in words, words
    # the headline and the evidence of the Recommend tab both use it
    prior = capacity_prior(DataSize(task="causal-lm", trained_tokens=5_000_000), adapter_size(spec, LoraTargets()))
    rec = combine(prior, default_lr=(1e-3, "the default"), price=lambda rank: fit)
    assert f"memory: {words}" in headline(rec, "from the capacity prior")
    no_budget = Fit(16, 2**30, None, None, None, None, (), price_fit(spec, TrainingSetup(), 16, None).explanation)
    assert "(--gpu or --gpu-memory)" in no_budget.explanation
    assert recommend_bridge.fit_words(no_budget).endswith(
        "no GPU budget was given (the Plan tab's GPU box), so whether it fits is not checked")


def test_the_comparison_says_where_seeds_are_set_in_the_planner():
    row = RankRow(8, None, 1, ("r8",), 1.2345, None, None, None, 10.0, 2.0, None)
    table = comparison_text((row,))
    assert "--seeds" not in table
    note = table.splitlines()[-2:]
    assert note == ["one seed per rank: no interval", "(Recommend tab: seeds/probe 2 or more gives one)"]
    # no wider than the table it sits under: the plot beside it keeps its room
    assert max(len(line) for line in note) <= max(len("one seed per rank: no interval (probe with --seeds)"),
                                                  len(table.splitlines()[0]))


# -- 3. a pop-up has nothing below it ----------------------------------------------------------------------------
@pytest.mark.anyio
async def test_apply_without_a_size_says_where_to_type_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _recommend_tab(pilot)
        assert "or type its trained tokens below." in _text(app, "#rec-head")  # the field is below the head
        await pilot.press("a")
        await pilot.pause()
        message = list(app._notifications)[-1].message
        assert message == ("Nothing to apply yet. The capacity prior needs the size of your data: profile a "
                           "dataset in the Data tab, or type its trained tokens in the Recommend tab's Trained "
                           "tokens field.")
        assert _text(app, "#rec-size-label") == "Trained tokens:"  # the field the pop-up names


# -- 4. the copy-command title -----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_copying_with_bad_fields_says_so_in_a_sentence(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, "#f-micro_batch", "x8")
        await type_into(pilot, "#f-seq_len", "y")
        app.action_copy_command()
        await pilot.pause()
        title = list(app._notifications)[-1].title
        assert title == ("Copied the command of the last valid table (if your terminal passes OSC 52 on); "
                         "micro-batch and seq len are not valid yet: fix them to copy the form's setup")


# -- 5. the Data tab's padding line ------------------------------------------------------------------------------
def test_the_padding_line_reads_as_a_sentence(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": "a " * (1 + i)}) + "\n" for i in range(8)))
    profile = profile_dataset(data, seq_len=64)
    line = next(x for x in figures_text(profile).splitlines() if x.startswith("padding"))
    assert line.startswith(f"padding    {profile.padding.pad_fraction:.1%} of the padded tokens are padding; "
                           "packing: "), line
    assert "wasted padded" not in line


# -- 6. one epoch -------------------------------------------------------------------------------------------------
def test_one_epoch_is_not_called_epochs_1():
    spec = load_spec(LLAMA)
    size = adapter_size(spec, LoraTargets())
    one = capacity_prior(DataSize("causal-lm", trained_tokens=5_000_000, epochs=1), size).rules[0].explanation
    assert "epochs (1)" not in one
    assert "repeating the data over epochs adds no information, so each token counts once" in one
    three = capacity_prior(DataSize("causal-lm", trained_tokens=5_000_000, epochs=3), size).rules[0].explanation
    assert "epochs (3) add no information, so each token counts once" in three
    examples = capacity_prior(DataSize("sequence-classification", examples=5000, num_labels=3),
                              adapter_size(load_spec("sentence-transformers/all-MiniLM-L6-v2"), LoraTargets()))
    assert any("repeating the data over epochs adds no information, so each example counts once" in r.explanation
               for r in examples.rules)


# -- 7. the export dialog with nothing to warn about ------------------------------------------------------------
class _Host(App):
    def __init__(self, plan) -> None:
        super().__init__()
        self.plan = plan

    def on_mount(self) -> None:
        self.push_screen(ExportDialog(self.plan))


@pytest.mark.anyio
async def test_the_export_dialog_says_what_no_warning_means():
    from pathlib import Path

    plan = read_plan(Path(__file__).resolve().parents[2] / "sample_configs" / "llama-3.2-3b-lora-16gb.toml")
    app = _Host(plan)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert dialog.chosen() == ["plan", "peft"]
        assert _text(app, "#export-warnings") == "Each chosen format carries every setting of the plan."
        await pilot.click("#fmt-peft")
        await pilot.pause()
        assert dialog.chosen() == ["plan"]
        assert _text(app, "#export-warnings") == "This format carries every setting of the plan."
        await pilot.click("#fmt-plan")
        await pilot.pause()
        assert _text(app, "#export-warnings") == "No format chosen."


# -- 8. learning rates to 3 significant digits, as lorplan recommend prints them ---------------------------------
def test_learning_rates_in_the_tables_have_three_significant_digits():
    assert numbers.lr_text(1 / 3000) == "0.000333"
    assert numbers.lr_text(1e-3) == "0.001"
    cells = row_cells(LadderRow(rank=8, learning_rate=1 / 3000, eval_loss=1.0, state="finished"))
    assert str(cells[1]) == "0.000333"  # was 0.000333333
    big = row_cells(LadderRow(rank=8, learning_rate=1e-3, eval_loss=1.0, peak_memory_bytes=1600 * 2**20))
    small = row_cells(LadderRow(rank=4, learning_rate=1e-3, eval_loss=1.0, peak_memory_bytes=400 * 2**20))
    assert (big[8], small[8]) == ("1.56 GiB", "400 MiB")  # as the Probes tab and probe status (was 400.00 MiB)
    rows = tuple(RankRow(8, lr, 1, ("r8",), 1.0, None, None, None, 5.0, 1.0, None) for lr in (1 / 3000, 1e-3))
    table = comparison_text(rows)
    assert "0.000333 " in table and "0.000333333" not in table
