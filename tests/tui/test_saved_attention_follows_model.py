"""An attention the last session saved is treated as the saved grad checkpointing tick is
(tests/tui/test_grad_checkpointing_model_lacks.py): one policy for a setting the user did not touch in this session.

It was kept as the user's choice: the last session's flash, on a model without it (the multimodal Gemma 3), left the
table stale with the field marked until the user picked another attention, which the session then saved, losing
flash for every later model. Now a saved attention the model implements is kept; one it lacks is replaced by the
attention `lorplan plan` gives the model, with a note, and comes back for the next model that has it; the session
keeps saving it. An attention picked by hand in this session is kept and marked as before
(tests/tui/test_attention_model_default.py)."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, wait_until

from lorplan.core.vocab import Attention
from lorplan.tui.config import load_config
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.panels.setup_form import attention_for_model
from lorplan.tui.widgets.select import Select

pytestmark = pytest.mark.anyio

GEMMA3, QWEN = "google/gemma-3-4b-it", "Qwen/Qwen3-0.6B"
SDPA, FLASH = Attention.SDPA.value, Attention.FLASH.value


def test_the_saved_attention_is_wanted_as_the_default_is():
    supported = tuple(a for a in Attention.values() if a != FLASH)
    assert attention_for_model(FLASH, supported, SDPA, False, saved=FLASH) == (SDPA, True)
    assert attention_for_model(SDPA, Attention.values(), SDPA, True, saved=FLASH) == (FLASH, False)
    assert attention_for_model(FLASH, supported, SDPA, False) == (FLASH, False)  # picked in this session: kept


def _config(tmp_path):
    return tmp_path / "config" / "lorplan" / "config.toml"


def _planned(view, attention: str) -> bool:
    return not view.state.stale and view.state.setup is not None and view.state.setup.attention == attention


async def test_a_saved_attention_the_model_lacks_is_replaced_with_a_note_and_comes_back(make_app, tmp_path):
    path = _config(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[setup]\nattention = "{FLASH}"\n')
    app = make_app(model=GEMMA3)
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (said.append(str(message)), notify(message, *a, **k))[1]
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        await wait_until(pilot, lambda: view.state.setup is not None and view.state.source == GEMMA3)
        await wait_until(pilot, lambda: _planned(view, SDPA))  # planned at once, never stale
        assert app.screen.query_one("#f-attention", Select).value == SDPA
        notes = [n for n in said if n.startswith("Attention ")]
        assert len(notes) == 1, said
        assert f"has no {FLASH} attention" in notes[0] and GEMMA3 in notes[0], notes
        await paste_into(pilot, "#model-input", QWEN, submit=True)
        await wait_until(pilot, lambda: view.state.source == QWEN and _planned(view, FLASH))  # the saved one again
        await paste_into(pilot, "#model-input", GEMMA3, submit=True)
        await wait_until(pilot, lambda: view.state.source == GEMMA3 and _planned(view, SDPA))
    # the session ended on Gemma 3 with flash replaced for it: the saved setup keeps flash
    assert load_config(path)[0].setup.attention == FLASH
