"""The fallback's text check of a config.json's model_type against transformers' AutoConfig table
(fallback.check_known_type) on transformers layouts other than the installed one: a source checkout on the path,
a table moved to another module. It read models/auto/configuration_auto.py and auto_mappings.py by name and took
any '"llama"' in them for the table, so a table moved elsewhere, with auto_mappings.py keeping other tables keyed
by model type, refused types that transformers' AutoConfig loads; the refusal named the version of the installed
distribution's metadata, not of the transformers read (a checkout on PYTHONPATH shadowing it), and without such
metadata it was importlib's PackageNotFoundError traceback."""

import importlib.metadata
import sys
import types

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import fallback

CONFIG_TABLE = ('CONFIG_MAPPING_NAMES = OrderedDict(\n    [\n        ("llama", "LlamaConfig"),\n'
                '        ("newtype", "NewtypeConfig"),\n    ]\n)\n')
# another table keyed by model type, which names llama but not every type AutoConfig knows
CAUSAL_LM_TABLE = 'MODEL_FOR_CAUSAL_LM_MAPPING_NAMES = OrderedDict([("llama", "LlamaForCausalLM")])\n'


def _transformers(monkeypatch, tmp_path, auto_files: dict[str, str], init: str = '__version__ = "9.9.0.dev0"\n'):
    """A transformers source layout first on sys.path (as a checkout on PYTHONPATH is), in place of the real one."""
    auto = tmp_path / "transformers" / "models" / "auto"
    auto.mkdir(parents=True)
    (tmp_path / "transformers" / "__init__.py").write_text(init)
    for name, text in auto_files.items():
        (auto / name).write_text(text)
    monkeypatch.delitem(sys.modules, "transformers", raising=False)  # find_spec would answer with the imported one
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("statement", [
    "from .config_tables import CONFIG_MAPPING_NAMES, SPECIAL_MODEL_TYPE_TO_MODULE_NAME\n",
    "from .config_tables import (\n    SPECIAL_MODEL_TYPE_TO_MODULE_NAME,\n    CONFIG_MAPPING_NAMES,\n)\n",
])
def test_a_table_moved_to_another_module_is_read_where_configuration_auto_imports_it(monkeypatch, tmp_path,
                                                                                     statement):
    _transformers(monkeypatch, tmp_path, {"configuration_auto.py": statement, "config_tables.py": CONFIG_TABLE,
                                          "auto_mappings.py": CAUSAL_LM_TABLE})
    assert fallback._transformers_knows("newtype") is True
    fallback.check_known_type(tmp_path / "config.json", {"model_type": "newtype"})  # no BadInput
    assert fallback._transformers_knows("llamma") is False


def test_a_table_it_cannot_find_leaves_the_type_to_the_child(monkeypatch, tmp_path):
    # the table built in a way the text does not show; auto_mappings.py names llama in another table only
    _transformers(monkeypatch, tmp_path, {"configuration_auto.py": "CONFIG_MAPPING_NAMES = _generated()\n",
                                          "auto_mappings.py": CAUSAL_LM_TABLE})
    assert fallback._transformers_knows("newtype") is None
    fallback.check_known_type(tmp_path / "config.json", {"model_type": "newtype"})  # no BadInput


def test_the_refusal_names_the_version_of_the_transformers_it_read(monkeypatch, tmp_path):
    _transformers(monkeypatch, tmp_path, {"configuration_auto.py": CONFIG_TABLE})
    with pytest.raises(BadInput) as caught:
        fallback.check_known_type(tmp_path / "config.json", {"model_type": "llamma"})
    assert str(caught.value) == (f"config.json at {tmp_path / 'config.json'}: transformers cannot build it "
                                 "(model_type 'llamma' is not one transformers 9.9.0.dev0 knows: check its spelling, "
                                 "or a newer transformers may know it)")


def test_a_transformers_without_a_version_is_refused_in_one_line(monkeypatch, tmp_path):
    _transformers(monkeypatch, tmp_path, {"configuration_auto.py": CONFIG_TABLE}, init="")

    def no_metadata(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)  # a checkout on PYTHONPATH, not installed
    with pytest.raises(BadInput, match=r"model_type 'llamma' is not one the transformers on this path knows: check"):
        fallback.check_known_type(tmp_path / "config.json", {"model_type": "llamma"})


def test_a_transformers_module_without_a_spec_leaves_the_type_to_the_child(monkeypatch, tmp_path):
    # a stand-in module in sys.modules (no __spec__): importlib.util.find_spec raises ValueError for it
    monkeypatch.setitem(sys.modules, "transformers", types.ModuleType("transformers"))
    assert fallback._transformers_knows("llamma") is None
    fallback.check_known_type(tmp_path / "config.json", {"model_type": "llamma"})  # no BadInput, no ValueError
