"""Peak memory as the Probes tab writes it, in its probe table and its comparison alike (lorplan.tui.numbers)."""

from __future__ import annotations

import pytest

from lorplan.tui.numbers import memory_text

MiB, GiB = 2**20, 2**30


@pytest.mark.parametrize(("n", "text"), [
    (400 * MiB, "400 MiB"),  # was "400" under "peak MiB" in the probe table, "400.00 MiB" in the comparison
    (1600 * MiB, "1.56 GiB"),  # was "1,600" and "1.56 GiB"
    (93 * MiB, "93.0 MiB"),
    (8 * MiB, "8.00 MiB"),
    (1000 * MiB, "0.98 GiB"),  # not "1000 MiB": 3 digits, the next unit
    (int(9.996 * GiB), "10.0 GiB"),  # rounding up to a new digit drops a decimal
    (int(99.96 * GiB), "100 GiB"),
    (80 * GiB, "80.0 GiB"),
    (512, "512 B"),
    (2048, "2.00 KiB"),
])
def test_memory_text_has_three_significant_digits_in_eight_characters(n, text):
    assert memory_text(n) == text
    assert len(memory_text(n)) <= 8  # a probe table column no wider than its heading, "peak mem"
