"""A dropout typed as "-0" is no dropout: before, it was kept as the float -0.0 and the exported plan and the saved
setup said lora_dropout = -0.0; now it is 0.0 everywhere."""

from __future__ import annotations

import math

from lorplan.tui.panels.setup_form import parse_dropout


def test_minus_zero_dropout_is_zero():
    for typed in ("-0", "-0.0", " -0e5 "):
        value = parse_dropout(typed)
        assert value == 0.0 and math.copysign(1.0, value) == 1.0, typed
        assert format(value, "g") == "0"
