"""The planner opened on a model that is not there (a folder since moved, a misspelled name remembered or given
with --model) showed the error in the model box and left the focus on the rank table, which had no row: arrows,
Enter and the table's keys did nothing, and the field to fix was a F2 away. The focus now goes to the model field
(in view), as F5 and F4 take it there while the table is empty; once a model loads, the table has it again, and a
bad name typed over a good model keeps the focus in the field and the table as it was."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from tui_helpers import model_settled, paste_into, table_rows, wait_until

from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio

SIZES = [(80, 24), (120, 40)]


def _model_field_focused(app) -> None:
    field = app.screen.query_one("#model-input")
    assert app.focused is field, app.focused
    screen = Region(0, 0, *app.size)
    assert field.region.area > 0 and screen.contains_region(field.region), field.region  # in view, to type in


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("model", ["/no/such/folder/model", "no-such-model-zz9"])
async def test_a_missing_model_leaves_the_focus_in_the_model_field(make_app, model, size):
    app = make_app(model=model)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: model_settled(app))
        await pilot.pause(0.2)
        assert app.screen.query_one("#model-picker").has_class("-error")
        assert app.screen.query_one(RankTable).ranks == ()
        _model_field_focused(app)

        for key in ("f6", "f5"):  # back to the Plan tab: still the field, not the empty table
            await pilot.press(key)
            await pilot.pause(0.2)
        _model_field_focused(app)
        await pilot.press("f4")
        await pilot.pause()
        _model_field_focused(app)

        await paste_into(pilot, "#model-input", "meta-llama/Llama-3.1-8B-Instruct", submit=True)
        await wait_until(pilot, lambda: app.screen.query_one(RankTable).ranks != ())
        await pilot.press("f4")
        await pilot.pause()
        assert app.focused is app.screen.query_one(RankTable)


async def test_a_bad_name_over_a_good_model_keeps_the_field_and_the_table(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        before = table_rows(app)
        assert before
        await paste_into(pilot, "#model-input", "/no/such/folder/model", submit=True)
        await wait_until(pilot, lambda: app.screen.query_one("#model-picker").has_class("-error"))
        await pilot.pause(0.2)
        _model_field_focused(app)
        assert table_rows(app) == before
