"""Byte sizes typed by people: parsed exactly, refused in one line when they are not sizes."""

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.units import counted, format_bytes, format_count, memory_text, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24GiB", 24 * 2**30),
        ("24 gib", 24 * 2**30),
        ("80GB", 80 * 10**9),
        ("16000MiB", 16000 * 2**20),
        ("24", 24 * 2**30),  # a bare small number means GiB
        ("1.5TiB", int(1.5 * 2**40)),
        ("5000000000", 5 * 10**9),  # a bare large number means bytes
        # one letter is binary, as lorplan's own tables write it ("23.50G") and free -h / df -h mean it
        ("24G", 24 * 2**30),
        ("24g", 24 * 2**30),
        ("23.5G", int(23.5 * 2**30)),
        ("1.5T", int(1.5 * 2**40)),
        ("512M", 512 * 2**20),
        ("64K", 64 * 2**10),
        ("24Gi", 24 * 2**30),
        ("80 Mi", 80 * 2**20),
        # SI spellings with B stay decimal, as GPU vendors write them
        ("80GB", 80 * 10**9),
        ("80 gb", 80 * 10**9),
        ("1.5TB", int(1.5 * 10**12)),
        ("500MB", 500 * 10**6),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "24XB", "0", "-3", "1e999", "nan", "inf", "24 GiB GiB",
                                  "4096", "16000", "1000000"])  # bare numbers neither GiB nor bytes: ambiguous
def test_parse_size_refuses_with_the_input_named(text):
    with pytest.raises(BadInput) as err:
        parse_size(text, what="--gpu-memory")
    message = str(err.value)
    assert message.startswith("--gpu-memory:")
    assert "\n" not in message


def test_copying_a_size_from_lorplan_s_own_output_gives_it_back():
    """The rank table's cells ("14.96G") and format_bytes ("24.00 GiB") read back as the same bytes, to their
    rounding (a decimal G would be 7% short)."""
    from lorplan.tui.widgets.rank_table import compact_bytes

    for n in (16_060_522_496, 24 * 2**30, 88_080_384, 1_649_267_441_664):
        for shown in (compact_bytes(n), format_bytes(n)):
            assert abs(parse_size(shown) - n) / n < 1e-3, shown


def test_an_unknown_unit_is_refused_naming_the_unit_choices():
    with pytest.raises(BadInput) as err:
        parse_size("24XB", what="--gpu-memory")
    message = str(err.value)
    assert message.startswith("--gpu-memory: unknown unit 'XB' in '24XB'")
    for unit in ("G", "GiB", "GB", "MiB", "MB", "T"):
        assert unit in message.split("(use ", 1)[1]
    assert "binary" in message and "decimal" in message and "\n" not in message


def test_formatters():
    assert format_bytes(24 * 2**30) == "24.00 GiB"
    assert format_bytes(512) == "512 B"
    assert format_count(8_030_261_248) == "8.03B"
    assert format_count(999) == "999"


def test_counted_is_singular_only_when_the_number_reads_as_one():
    assert counted(1, "sequence") == "1 sequence"
    assert [counted(n, "token") for n in (0, 2, 2048)] == ["0 tokens", "2 tokens", "2,048 tokens"]
    assert counted(1.0, "bit", ".3g") == "1 bit" and counted(1.5, "bit", ".3g") == "1.5 bits"
    assert counted(1.0004, "bit", ".3g") == "1 bit" and counted(0.9996, "bit", ",.0f") == "1 bit"


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
    """Peak memory as every table of probes writes it: the Probes tab's, `lorplan probe status`, the Recommend
    tab's ladder and `lorplan recommend`'s."""
    assert memory_text(n) == text
    assert len(memory_text(n)) <= 8  # a probe table column no wider than its heading, "peak mem"
