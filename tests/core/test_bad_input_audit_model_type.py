"""A model folder whose config.json names a model_type transformers does not know (a typo: "llamma"): the
fallback started a child that imported torch and transformers, about 4 s on this machine, to say
"transformers cannot build it (ValueError: The checkpoint you are trying to load has model type ...)". The
installed transformers' tables are now read as text, and the refusal comes at once."""

import json
import subprocess
import sys
import time

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import fallback


def _folder(tmp_path, **cfg):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_an_unknown_model_type_is_refused_in_a_fraction_of_a_second(tmp_path):
    folder = _folder(tmp_path, model_type="llamma", hidden_size=64, num_hidden_layers=2)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", str(folder)],
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"lorplan plan: error: config.json at {folder / 'config.json'}: transformers cannot build it (model_type "
        f"'llamma' is not one transformers {__import__('importlib.metadata').metadata.version('transformers')} "
        "knows: check its spelling, or a newer transformers may know it)"]
    assert took < 2.0, took  # the child alone imports torch and transformers: ~4 s here


def test_every_model_type_transformers_knows_passes_the_text_check():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    unknown = [t for t in CONFIG_MAPPING_NAMES if fallback._transformers_knows(t) is not True]
    assert unknown == []
    assert fallback._transformers_knows("llamma") is False


@pytest.mark.parametrize("cfg", [{"model_type": "llamma", "auto_map": {"AutoConfig": "x.Config"}},
                                 {"model_type": "gpt_neox"}, {"hidden_size": 64}])
def test_code_of_its_own_a_known_type_or_no_type_is_left_to_the_child(tmp_path, cfg):
    fallback.check_known_type(tmp_path / "config.json", cfg)  # no BadInput


def test_check_known_type_names_the_file(tmp_path):
    with pytest.raises(BadInput, match=r"^config.json at .*config.json: transformers cannot build it \(model_type"):
        fallback.check_known_type(tmp_path / "config.json", {"model_type": "frobnicator"})
