"""Byte sizes typed by people: parsed exactly, refused in one line when they are not sizes."""

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.units import counted, format_bytes, format_count, parse_size


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
