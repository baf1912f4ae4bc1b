"""The export dialog's data line says which tokens the plan's data trains, for every schema and train_on. Tokenized
rows keep their own labels whichever way train_on is set (core.data.encode), yet with train_on = "all" (the Data
tab's checkbox ticked for a chat file, then a tokenized file profiled: the box is disabled with its value kept)
the line said 'loss on every token'."""

from __future__ import annotations

import pytest

from lorplan.core.vocab import DataSchema
from lorplan.tui.screens.export_dialog import trained_words


@pytest.mark.parametrize("schema", DataSchema.values())
@pytest.mark.parametrize("train_on", ["completion", "all", None])
def test_the_data_line_says_what_each_schema_trains(schema, train_on):
    expected = ("one label per example" if train_on is None else
                "loss where its labels say" if schema == "tokenized" else
                "loss on every token" if schema == "text" or train_on == "all" else
                "loss on completions")
    assert trained_words(schema, train_on) == expected
