"""The F1 key list names each binding id once. ProbesPanel has two bindings under probes.cancel_probe (dde6494):
the shown `c` that cancels, and a hidden `c` (show=False) that says why nothing can be cancelled once the run has
ended; a keymap entry moves both. The help listed every Binding, so it read "c  Cancel probe (Probes tab)
[probes.cancel_probe]" twice. Real app, real F1 screen, the Probes tab's real bindings."""

from __future__ import annotations

from collections import Counter

import pytest

SIZE = (120, 40)


@pytest.mark.anyio
async def test_each_binding_id_is_listed_once_in_the_help(make_app):
    from lorplan.tui.panels.probes_panel import ProbesPanel

    ids = Counter(b.id for b in ProbesPanel.BINDINGS if b.id)
    assert ids["probes.cancel_probe"] == 2  # the case this guards: two bindings, one id
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        keys = str(app.screen.query_one("#help-keys").render())
    for binding_id in ids:
        assert keys.count(f"[{binding_id}]") == 1, binding_id


def test_the_listed_row_follows_a_keymap_for_both_bindings():
    # the row kept is the shown binding's, with the keymap's keys (one id, so both bindings take them)
    from lorplan.tui.app import LorplanApp
    from lorplan.tui.panels.probes_panel import ProbesPanel

    app = LorplanApp.__new__(LorplanApp)
    app._keymap = {"probes.cancel_probe": "x"}
    rows = [r for r in app._key_rows(ProbesPanel.BINDINGS, "Probes tab") if "[probes.cancel_probe]" in r[1]]
    assert rows == [("x", "Cancel probe (Probes tab)  [probes.cancel_probe]")]
