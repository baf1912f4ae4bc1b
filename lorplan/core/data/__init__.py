"""Datasets: streaming readers, schema detection, token counting and the data profile.

Entry points: `load_examples`, `iter_examples`, `detect_schema` (rows as `Example`s) and `profile_dataset`
(the figures `lorplan profile` prints). Imports no torch/transformers at module level; the tokenizer is
loaded inside the functions that count tokens.
"""

from __future__ import annotations

from lorplan.core.data.example import SCHEMAS, Example
from lorplan.core.data.profile import DataProfile, Problem, profile_dataset
from lorplan.core.data.records import detect_schema, iter_examples, load_examples, open_records

__all__ = [
    "SCHEMAS", "DataProfile", "Example", "Problem", "detect_schema", "iter_examples", "load_examples",
    "open_records", "profile_dataset",
]
