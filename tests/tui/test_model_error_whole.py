"""A model error is shown whole in the Model box.

Found in a pilot walk: `Qwen/Qwen9-999B` (no such model) gave an error naming the local Hugging Face cache, the
closest ids and the model the table is still for; the status line was at most 3 rows (max-height), so at 120x40
it ended "...not in the local Hugging Face" and at 80x24 after "closest: Qwen/Qwen3-4B, Qwen/Qwen3-8B,": the
cache's path, the closest ids and "the table is still for" were cut, and nothing showed them anywhere. The
status now takes the rows its text needs (the Plan tab scrolls)."""

from __future__ import annotations

import pytest
from rich.text import Text
from tui_helpers import type_into, wait_until

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_whole_model_error_is_shown(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        status = app.screen.query_one("#model-status")
        await type_into(pilot, "#model-input", "Qwen/Qwen9-999B", submit=True)
        await wait_until(pilot, lambda: app.screen.query_one("#model-picker").has_class("-error"), timeout=10)
        await pilot.pause()
        message = str(status.render())
        assert "closest:" in message and message.endswith("the table is still for meta-llama/Llama-3.1-8B-Instruct")
        lines = Text(message).wrap(app.console, status.content_size.width)
        assert len(lines) > 3  # the walk's error: more than the 3 rows it had
        assert status.content_size.height == len(lines), (status.content_size, len(lines))
        status.scroll_visible(animate=False, immediate=True)
        await pilot.pause()
        assert app.screen.region.contains_region(status.region)  # the Plan tab scrolls to all of it
