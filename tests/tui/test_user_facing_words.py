"""What the TUI says to a user, checked at 80x24: the Recommend tab's evidence names a model given as a folder
by its short name (as `lorplan recommend` does), not by the folder's whole path."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from tui_helpers import paste_into, type_into, wait_until

from lorplan.core.model.resolve import SHIPPED_ID, shipped_folder

pytestmark = pytest.mark.anyio

DATA = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"


async def test_recommend_evidence_names_a_folder_model_by_its_short_name(make_app):
    folder = str(shipped_folder())
    app = make_app(model=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f6")
        await paste_into(pilot, "#data-path", str(DATA), submit=True)
        await wait_until(pilot, lambda: app.main.data is not None, timeout=60)
        await pilot.press("f8")
        await pilot.pause()
        evidence = " ".join(str(app.screen.query_one("#rec-evidence", Static).render()).split())
        assert f"all-linear on {SHIPPED_ID} holds 42,240 LoRA parameters per rank unit" in evidence, evidence
        assert folder not in evidence  # was in the token rule's and the bits rule's sentences, over three rows


# What each whole-number field of the Plan tab says of a value beyond its range, typed as a user would type it:
# the input echoed as typed ("1e9", not "1,000,000,000"), and 1e999 is beyond the bound, not "not a whole number".
BEYOND = [
    ("#f-seq_len", "1e9", "Sequence length: 1e9 must be at most 16,777,216"),
    ("#f-seq_len", "1e999", "Sequence length: 1e999 must be at most 16,777,216"),
    ("#f-micro_batch", "2e6", "Micro-batch: 2e6 must be at most 1,048,576"),
    ("#f-gpus", "1_000_000", "GPUs: 1_000_000 must be at most"),
    ("#f-custom_rank", "1e5", "Custom rank: 1e5 must be at most 65,536"),
    ("#f-custom_rank", "-1e999", "Custom rank: -1e999 must be at least 1"),
]


async def test_a_number_beyond_a_fields_range_is_echoed_as_typed(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        for selector, typed, said in BEYOND:
            await type_into(pilot, selector, typed)
            errors = str(app.screen.query_one("#setup-errors", Static).render())
            assert said in " ".join(errors.split()), (selector, typed, errors)
            await type_into(pilot, selector, {"#f-custom_rank": "8"}.get(selector, "1"))
            assert not str(app.screen.query_one("#setup-errors", Static).render()).strip(), selector
        await paste_into(pilot, "#f-custom_rank", "9" * 5000)  # pasted: was "Custom rank: inf is too large ..."
        errors = " ".join(str(app.screen.query_one("#setup-errors", Static).render()).split())
        assert "Custom rank: 9999999999… (5,000 digits) must be at most 65,536" in errors, errors


def test_nan_is_not_a_number_and_a_fraction_not_a_whole_number():
    from lorplan.core.errors import BadInput
    from lorplan.tui.panels.setup_form import parse_int

    for typed, said in (("nan", "Sequence length: 'nan' is not a number"),
                        ("0.5", "Sequence length: '0.5' must be a whole number"),
                        ("2048.5", "Sequence length: '2048.5' must be a whole number")):
        with pytest.raises(BadInput) as exc:
            parse_int(typed, "Sequence length", 1, 16_777_216)
        assert str(exc.value) == said
    assert parse_int("1e3", "Sequence length", 1, 16_777_216) == 1000


def _offered(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


async def test_p_and_u_are_offered_only_for_a_recommendation_with_a_pattern(make_app, isolated_home):
    """Without a per-module pattern p and u apply what a applies: they are not in the footer then (at 80
    columns it held a, p, u, l, quit and help)."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.model import load_spec
    from lorplan.probe import runner
    from lorplan.probe.runs import atomic_write_json, create_run
    from lorplan.recommend import DataSize, LadderRow, RankPattern, adapter_size, capacity_prior, combine
    from lorplan.tui.panels.recommend_panel import RecommendPanel

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f8")
        panel = app.screen.query_one(RecommendPanel)
        await type_into(pilot, "#rec-size", "2000000")
        await wait_until(pilot, lambda: panel.shown is not None)
        panel.focus()
        await pilot.pause()
        assert not panel.shown.rank_pattern
        assert {"a", "l"} <= _offered(app) and not _offered(app) & {"p", "u"}, _offered(app)
        assert "p: with" not in str(app.screen.query_one("#rec-keys", Static).render())
        # a ladder's recommendation with a pattern: p and u choose what a does not
        spec = load_spec(app.main.plan.spec.id)
        prior = capacity_prior(DataSize(task="causal-lm", trained_tokens=2_000_000), adapter_size(spec, LoraTargets()))
        rows = [LadderRow(rank=r, learning_rate=1e-3, eval_loss=loss, state="finished", train_seconds=30.0,
                          trainable_params=r * 1000, steps=20) for r, loss in ((6, 2.0), (12, 1.61), (24, 1.59))]
        rec = combine(prior, default_lr=(1e-3, "the default"), ladder=rows, base_loss=2.4,
                      pattern=RankPattern({"q_proj": 24}, "pattern", "q_proj's signal rank is twice the others'"))
        root = isolated_home / "state" / "lorplan" / "runs"
        run = create_run(runner.make_plan((6, 12, 24), steps=20, device="cpu", run="20261205-100000-fade"), root)
        atomic_write_json(run.path / "recommendation.json", {**rec.to_json(), "base_loss": 2.4, "state": "done"})
        await wait_until(pilot, lambda: panel.shown is not None and bool(panel.shown.rank_pattern))
        await wait_until(pilot, lambda: {"a", "p", "u", "l"} <= _offered(app))
        assert "p: with the per-module pattern" in str(app.screen.query_one("#rec-keys", Static).render())
