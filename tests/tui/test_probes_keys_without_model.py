"""The Probes tab's `p` with nothing to probe says where to go, as the Recommend tab's keys do: with no model
planned it said 'Choose a model in the Plan tab first.' where the Recommend tab's keys name the tab's key (F5), and
with no dataset 'Profile your dataset in the Data tab first' without the Data tab's (F6)."""

from __future__ import annotations

import pytest
from tui_helpers import model_settled, paste_into, wait_until

pytestmark = pytest.mark.anyio


async def _press_p(pilot) -> str:
    """Press p on the Probes tab; the one toast it raised."""
    app = pilot.app
    before = len(app._notifications)
    await pilot.press("p")
    await wait_until(pilot, lambda: len(app._notifications) > before)
    raised = list(app._notifications)[before:]
    assert len(raised) == 1, [n.message for n in raised]
    return str(raised[0].message)


async def test_p_names_the_tab_key_of_what_is_missing(make_app):
    app = make_app(model="/no/such/folder/model")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: model_settled(app))
        assert app.main.plan is None
        await pilot.press("f7")
        await pilot.pause()
        said = await _press_p(pilot)
        assert said == "Choose a model in the Plan tab first (F5).", said

        await pilot.press("f5")
        await paste_into(pilot, "#model-input", "meta-llama/Llama-3.1-8B-Instruct", submit=True)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f7")
        await pilot.pause()
        said = await _press_p(pilot)
        assert said == "Profile your dataset in the Data tab first (F6): the probes train on it.", said
