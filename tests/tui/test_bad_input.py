"""Garbage in every input: an inline message, no crash, and the last valid table stays on screen."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static
from tui_helpers import model_settled, paste_into, table_rows, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio

# Typed into every field, its last key pressed (slow under Pilot, so a few), and pasted in one go (all of them).
TYPED = ("abc", "-5")
TYPED_SEQ_LEN = ("1000000000", "0", "3.7")
PASTED = ("0", "1000000000", "💥", "1e999", "  ", "nan", "1,2,3x", "\x00")
NUMBER_FIELDS = {
    "#f-micro_batch": "1",
    "#f-seq_len": "2048",
    "#f-lora_dropout": "0",
    "#f-gpus": "1",
    "#f-custom_rank": "",
}
VALID_ANYWAY = {("#f-custom_rank", "  "), ("#f-lora_dropout", "0")}  # an empty dropout is refused as micro-batch's is


def message_text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def assert_rejected(app, view, selector, garbage, valid) -> None:
    assert view.state.stale, (selector, garbage)
    assert app.screen.query_one(selector).has_class("-invalid"), (selector, garbage)
    assert message_text(app, "#setup-errors"), (selector, garbage)
    assert table_rows(app) == valid, (selector, garbage)
    assert "last valid table" in message_text(app, "#plan-summary")


async def test_garbage_in_every_setup_field_keeps_the_last_table(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        first = table_rows(app)
        assert first
        for selector, good in NUMBER_FIELDS.items():
            field = app.screen.query_one(selector, Input)
            for garbage in TYPED + (TYPED_SEQ_LEN if selector == "#f-seq_len" else ()):
                # Typing is key by key: a prefix such as "1000" is a valid value, so the table to keep is the
                # one on screen just before the last key made the field bad. The prefix is pasted (each key costs
                # a re-plan under Pilot, and no assertion looks at the prefixes' own tables); the last key pressed.
                await paste_into(pilot, selector, garbage[:-1])
                valid = table_rows(app)
                await pilot.press(garbage[-1])
                await pilot.pause()
                if (selector, garbage) not in VALID_ANYWAY:
                    assert_rejected(app, view, selector, garbage, valid)
            await type_into(pilot, selector, good)
            valid = table_rows(app)
            for garbage in PASTED:  # pasted in one go (characters a key press cannot send)
                field.value = garbage
                await pilot.pause()
                if (selector, garbage) not in VALID_ANYWAY:
                    assert_rejected(app, view, selector, garbage, valid)
            await type_into(pilot, selector, good)
            assert not view.state.stale, selector
            assert message_text(app, "#setup-errors") == ""
        assert table_rows(app) == first
        assert app.is_running


async def test_garbage_budget_and_model_are_inline(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        budget_before = view.state.budget_bytes
        budget = app.screen.query_one("#gpu-budget", Input)
        for garbage in ("lots", "0", "-24GiB", "1e999", "10PB", "💥"):
            budget.value = garbage  # pasted: typed prefixes such as "1" are valid budgets
            await pilot.pause()
            assert app.screen.query_one("#gpu-budget").has_class("-invalid"), garbage
            assert "GPU memory" in message_text(app, "#gpu-error"), garbage
            assert view.state.budget_bytes == budget_before
        await type_into(pilot, "#gpu-budget", "48GiB")
        assert view.state.budget_bytes == 48 * 1024**3
        assert message_text(app, "#gpu-error") == ""

        valid = table_rows(app)
        for garbage in ("zzz-not-a-model", "/no/such/folder", "../..", "💥"):
            # pasted: a key press types no "💥", so the field was submitted empty and the error on screen was the
            # one left by "../.." (emptying the field now brings back the line of the table's model)
            await type_into(pilot, "#model-input", "")
            app.screen.query_one("#model-input", Input).value = garbage
            await pilot.press("enter")
            await wait_until(pilot, lambda: model_settled(app))
            await pilot.pause()
            picker = app.screen.query_one("#model-picker")
            assert picker.has_class("-error"), garbage
            # the error names the value pasted, and says which model the kept table is for (it replaced the line
            # that named it)
            said = message_text(app, "#model-status")
            assert garbage in said, (garbage, said)
            assert said.endswith(f"the table is still for {view.state.spec.id}"), garbage
            assert table_rows(app) == valid
        assert app.is_running


async def test_targets_unticked_is_an_inline_error(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        valid = table_rows(app)
        await pilot.click("#shortcut-attention")
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            await pilot.click(f"#target-{name}")
        await pilot.pause()
        assert "Targets" in message_text(app, "#setup-errors")
        assert table_rows(app) != {} and table_rows(app).keys() == valid.keys()
        await pilot.click("#shortcut-all-linear")
        await pilot.pause()
        assert table_rows(app) == valid


# The same setups `lorplan plan` refuses (tests/cli/test_plan_bounds.py), typed into the planner's fields: each is
# an inline message on its field, and the last valid table stays.
MODEL_BOUNDS = (
    ("#f-seq_len", "2048", "200000", "context of 131,072 tokens"),  # Llama-3.1's context
    ("#f-custom_rank", "", "5000", "above 4,096"),  # min(in, out) of its widest adapted module
    ("#f-custom_rank", "", "100000000", "must be at most 65,536"),
    ("#f-micro_batch", "1", "99999999999999999999", "must be at most 1,048,576"),
)


async def test_setups_the_model_cannot_run_are_inline_errors(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        valid = table_rows(app)
        for selector, good, garbage, needle in MODEL_BOUNDS:
            field = app.screen.query_one(selector, Input)
            field.value = garbage
            await pilot.pause()
            assert_rejected(app, view, selector, garbage, valid)
            assert needle in message_text(app, "#setup-errors"), (selector, message_text(app, "#setup-errors"))
            field.value = good
            await pilot.pause()
            assert not view.state.stale and table_rows(app) == valid
        # a model with a shorter context: the sequence length follows it (as `lorplan plan`'s default does)
        await paste_into(pilot, "#model-input", "openai-community/gpt2", submit=True)  # typed: ~80 ms a key
        await wait_until(pilot, lambda: model_settled(app) and view.state.spec.id == "openai-community/gpt2")
        await pilot.pause()
        assert app.screen.query_one("#f-seq_len", Input).value == "1024"
        assert not view.state.stale and view.state.setup.seq_len == 1024
        await type_into(pilot, "#f-seq_len", "1025")
        assert_rejected(app, view, "#f-seq_len", "1025", table_rows(app))
        assert "learned position embeddings" in message_text(app, "#setup-errors")


async def test_a_sequence_cut_to_a_short_context_comes_back_with_a_longer_one(make_app):
    """2048 is cut to gpt2's 1024 (with a notice); back on a model whose context allows it, 2048 returns;
    a length the user typed meanwhile is theirs and stays. The model names are pasted (typed, ~2 s each)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        seq = app.screen.query_one("#f-seq_len", Input)
        await type_into(pilot, "#f-seq_len", "2048")
        for model, shown in (("openai-community/gpt2", "1024"), ("Qwen/Qwen2.5-0.5B-Instruct", "2048")):
            await paste_into(pilot, "#model-input", model, submit=True)
            await wait_until(pilot, lambda m=model: model_settled(app) and view.state.spec.id == m)
            await pilot.pause()
            assert seq.value == shown, (model, seq.value)
        assert any("beyond openai-community/gpt2's context" in n.message for n in app._notifications)
        await paste_into(pilot, "#model-input", "openai-community/gpt2", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and view.state.spec.id == "openai-community/gpt2")
        await type_into(pilot, "#f-seq_len", "512")  # the user's own choice now
        await paste_into(pilot, "#model-input", "Qwen/Qwen2.5-0.5B-Instruct", submit=True)
        await wait_until(pilot, lambda: model_settled(app) and view.state.spec.id == "Qwen/Qwen2.5-0.5B-Instruct")
        await pilot.pause()
        assert seq.value == "512"


async def test_a_budget_the_field_rejects_marks_the_table_stale(make_app):
    """Typed key by key, "65" is a valid budget (65 GiB) and "65TiB" is not: the table planned before the last
    key stays, dimmed, with the banner, as for a bad setup field; no plan is made with the rejected budget."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        for prefix, garbage in (("65", "65TiB"), ("1e3", "1e3GB")):  # a valid prefix, then the bad whole
            await type_into(pilot, "#gpu-budget", prefix)
            valid, budget, plan = table_rows(app), view.state.budget_bytes, app.screen.plan
            await type_into(pilot, "#gpu-budget", garbage[len(prefix):], clear=False)
            assert app.screen.query_one("#gpu-budget").has_class("-invalid"), garbage
            assert "GPU memory" in message_text(app, "#gpu-error"), garbage
            assert view.state.stale and view.table.styles.opacity < 1, garbage  # the table dimmed
            assert "last valid table" in message_text(app, "#plan-summary"), garbage
            assert table_rows(app) == valid and view.state.budget_bytes == budget, garbage
            assert app.screen.plan is plan, garbage  # nothing planned with it is handed to the other tabs
            assert message_text(app, "#setup-errors") == ""  # the message is under the budget field, once
            # a setup change while the budget is bad does not plan either
            await type_into(pilot, "#f-micro_batch", "2")
            assert view.state.stale and app.screen.plan is plan, garbage
            await type_into(pilot, "#f-micro_batch", "1")
            # the last valid budget typed again ends it, although it is the budget already planned with
            await type_into(pilot, "#gpu-budget", prefix)
            assert not view.state.stale and message_text(app, "#gpu-error") == "", garbage
        await type_into(pilot, "#gpu-budget", "48GiB")
        assert not view.state.stale and view.state.budget_bytes == 48 * 1024**3
        assert "fit in 48" in message_text(app, "#plan-summary").replace("fits in", "fit in")


async def test_micro_batch_limit_is_the_cli_one(make_app):
    """`lorplan plan --micro-batch 5000` plans (core.limits.MAX_MICRO_BATCH, tests/cli/test_plan_bounds.py); the
    form accepts the same value, and refuses above the same limit with the same figure."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await type_into(pilot, "#f-micro_batch", "5000")
        await wait_until(pilot, lambda: not view.state.stale and view.state.setup.micro_batch == 5000)
        assert message_text(app, "#setup-errors") == ""
        valid = table_rows(app)
        app.screen.query_one("#f-micro_batch", Input).value = "1048577"  # pasted: its prefixes are valid batches
        await pilot.pause()
        assert_rejected(app, view, "#f-micro_batch", "1048577", valid)
        # echoed as pasted, the limit with separators (the CLI's figure)
        assert "Micro-batch: 1048577 must be at most 1,048,576" in message_text(app, "#setup-errors")


async def test_core_messages_name_the_planner_s_fields_not_cli_flags(make_app):
    """Core messages name `lorplan plan` flags; the form shows its own labels, and RoPE scaling (no field here)
    as the command option that has it."""
    from tui_helpers import choose

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await paste_into(pilot, "#model-input", "Qwen/Qwen2.5-0.5B-Instruct", submit=True)  # typed: ~80 ms a key
        await wait_until(pilot, lambda: model_settled(app) and view.state.spec.id == "Qwen/Qwen2.5-0.5B-Instruct")
        await type_into(pilot, "#f-seq_len", "40000")
        await wait_until(pilot, lambda: view.state.stale)
        assert message_text(app, "#setup-errors") == (
            "Sequence length 40000 is beyond Qwen/Qwen2.5-0.5B-Instruct's context of 32,768 tokens "
            "(max_position_embeddings); shorten the sequences, or extend RoPE with `lorplan plan --rope-scaling 2` "
            "(the planner has no RoPE field: that command plans and writes it)")
        assert app.screen.query_one("#f-seq_len").has_class("-invalid")
        await type_into(pilot, "#f-seq_len", "2048")
        await wait_until(pilot, lambda: not view.state.stale)
        await choose(pilot, "#f-sharding", "fsdp")  # chosen by hand with one GPU
        await wait_until(pilot, lambda: view.state.stale)
        assert message_text(app, "#setup-errors") == "Sharding fsdp needs GPUs ≥ 2"
        assert app.screen.query_one("#f-sharding").has_class("-invalid")
        assert "--" not in message_text(app, "#setup-errors")


def test_form_words_names_fields_and_points_elsewhere_for_the_rest():
    from lorplan.tui.bridge import error_field, form_words

    assert form_words("--gpus > 1 needs --sharding ddp, fsdp, zero2 or zero3") == (
        "GPUs > 1 needs Sharding ddp, fsdp, zero2 or zero3")
    assert form_words("weights … (--no-prepare-kbit, total 5 GiB)") == (
        "weights … (`lorplan plan --no-prepare-kbit`, total 5 GiB)")
    assert form_words("--data /x/a.jsonl: no such file or folder") == "Dataset /x/a.jsonl: no such file or folder"
    assert form_words("a well-known --seq-len, not-a--flag") == "a well-known Sequence length, not-a--flag"
    assert error_field(form_words("--micro-batch must be at most 1,048,576, got 2")) == "micro_batch"


async def test_an_emptied_lora_dropout_is_marked_as_an_emptied_micro_batch_is(make_app):
    """An empty dropout field was read as 0 without a word, while an empty micro-batch was refused: both are
    refused now, each with its one line, and the table on screen stays the last valid one."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        valid = table_rows(app)
        for selector, words in (("#f-micro_batch", "Micro-batch: type a whole number"),
                                ("#f-lora_dropout", "LoRA dropout: type a number (0 for no dropout")):
            await type_into(pilot, selector, "")
            assert_rejected(app, view, selector, "", valid)
            assert words in message_text(app, "#setup-errors")
            await type_into(pilot, selector, NUMBER_FIELDS[selector])
            assert not view.state.stale


async def test_several_bad_fields_are_listed_in_the_form_s_order(make_app):
    """Several fields bad at once: their lines under the form, the fields bad_fields names and the summary's first
    error follow the form top to bottom (GPUs came before LoRA dropout, which is above it)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await pilot.click("#shortcut-attention")
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            await pilot.click(f"#target-{name}")  # no target left
        for selector, garbage in (("#f-custom_rank", "0"), ("#f-gpus", "x"), ("#f-lora_dropout", "x"),
                                  ("#f-seq_len", "x"), ("#f-micro_batch", "x")):  # pasted, bottom to top
            app.screen.query_one(selector, Input).value = garbage
            await pilot.pause()
        lines = message_text(app, "#setup-errors").splitlines()
        starts = ("Micro-batch", "Sequence length", "LoRA dropout", "GPUs", "Custom rank", "Targets")
        assert len(lines) == len(starts), lines
        assert [next((s for s in starts if s.lower() in line.lower()), line) for line in lines] == list(starts), lines
        assert view.bad_fields() == ("micro-batch", "seq len", "LoRA dropout", "GPUs", "custom rank", "targets")
        app.screen.set_focus(None)  # the summary names the first bad field when none is being typed
        await pilot.pause()
        first = message_text(app, "#plan-summary").splitlines()[0]
        assert first.startswith("⚠ showing the last valid table: Micro-batch") and "(and 5 more marked in red)" in first
