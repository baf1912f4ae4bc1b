"""Datasets: streaming readers, schema detection, token counting and the data profile.

Entry points: `load_examples`, `iter_examples`, `detect_schema` (rows as `Example`s) and `profile_dataset`
(the figures `lorplan profile` prints), and `encode_example`, the rule for which tokens are trained that the
profile, `lorplan train` and probes share. Imports no torch/transformers at module level; the tokenizer is
loaded inside the functions that count tokens.
"""

from __future__ import annotations

from lorplan.core.data.encode import EncodedExample, encode_example
from lorplan.core.data.example import SCHEMAS, Example
from lorplan.core.data.profile import DataProfile, Problem, profile_dataset
from lorplan.core.data.records import (
    DataPeek,
    data_classes,
    detect_schema,
    iter_examples,
    load_examples,
    open_records,
    peek_examples,
)
from lorplan.core.errors import UnknownSchema

__all__ = [
    "SCHEMAS", "DataPeek", "DataProfile", "EncodedExample", "data_classes", "Example", "Problem", "detect_schema",
    "encode_example", "iter_examples", "load_examples", "open_records", "peek_examples", "profile_dataset",
    "UnknownSchema",
]
