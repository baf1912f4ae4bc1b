"""core.model.sources.check_auto_map of a tokenizer_config.json names the auto_map only where transformers 5's
AutoTokenizer (models/auto/tokenization_auto.py) reads it and fails on it. Two disagreements before:

- a config.json model_type transformers loads its own tokenizer class for (MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS:
  qwen2, phi3...) has its tokenizer_config.json auto_map dropped unread when the folder's code is not trusted, so an
  auto_map of nulls there loads; when such a folder failed for another reason (an eos_token of 5), lorplan profile
  blamed the auto_map ("'auto_map' names no class") and hid the real reason;
- a list of one class (["X"]) passed the check, though transformers reads the list's second entry (the fast class)
  and raised IndexError, which profile said as "cannot load (list index out of range)".

Real folders with MiniLM's tokenizer files; every case is first loaded with transformers itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run


def _folder(tmp_path: Path, auto_map, model_type: str | None = None, **tokenizer_config) -> Path:
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "tok")
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "auto_map": auto_map, **tokenizer_config}))
    if model_type is not None:
        (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


def _load(folder: Path, trust: bool = False):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust)


@pytest.mark.parametrize("model_type", ["qwen2", "phi3"])
def test_an_auto_map_transformers_drops_unread_is_not_blamed(tmp_path, capsys, prompt_completion_file, model_type):
    folder = _folder(tmp_path, [None, None], model_type, eos_token=5)
    with pytest.raises(TypeError, match="Special token eos_token has to be"):  # the real reason
        _load(folder)
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--tokenizer", str(folder))
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == (f"lorplan profile: error: tokenizer at {folder}: cannot load (Special token eos_token has "
                           "to be either str or AddedToken but got: <class 'int'>)"), err
    # with the folder's code trusted transformers reads the entry, and fails on its nulls: then it is the auto_map
    with pytest.raises(TypeError, match="'NoneType' is not iterable"):
        _load(folder, trust=True)
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--tokenizer", str(folder),
                        "--trust-remote-code")
    assert rc == 2 and "'auto_map' names no class ([None, None])" in err, err


@pytest.mark.parametrize(("auto_map", "which"), [
    (["tokenization_x.XTokenizer"], ""),
    ({"AutoTokenizer": ["tokenization_x.XTokenizer"]}, " for 'AutoTokenizer'"),
])
def test_a_single_class_is_refused_naming_the_key(tmp_path, capsys, prompt_completion_file, auto_map, which):
    folder = _folder(tmp_path, auto_map)
    with pytest.raises(IndexError):  # the premise: transformers reads the second entry
        _load(folder)
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--tokenizer", str(folder))
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == (
        f"lorplan profile: error: tokenizer_config.json at {folder / 'tokenizer_config.json'}: 'auto_map' names one "
        f"class{which} (['tokenization_x.XTokenizer']) where transformers reads two, [slow class, fast class]: give "
        "both (null for a class the tokenizer lacks), or remove the key"), err


@pytest.mark.parametrize(("auto_map", "model_type", "loads"), [
    ([None, None], "qwen2", True),  # dropped unread without trust
    (["tokenization_x.XTokenizer"], "phi3", True),
    ({"AutoTokenizer": 5}, "qwen2", True),
    ({"AutoTokenizer": None}, None, True),  # no code of its own
    ({"AutoConfig": 5}, None, True),  # a key AutoTokenizer does not read
    ([None, "tokenization_x.XTokenizer"], None, True),  # the fast class alone (untrusted: its own class used)
    ([None, None], None, False),  # read: "argument of type 'NoneType' is not iterable"
    (5, "qwen2", False),  # auto_map.get: AttributeError, whatever the model type
])
def test_check_auto_map_agrees_with_transformers(tmp_path, auto_map, model_type, loads):
    from lorplan.core.data.counting import _class_read
    from lorplan.core.errors import BadInput
    from lorplan.core.model.sources import check_auto_map

    folder = _folder(tmp_path, auto_map, model_type)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    class_read = _class_read({"model_type": model_type} if model_type else None, False)
    assert class_read == (model_type is None)
    try:
        _load(folder)
        loaded = True
    except (TypeError, AttributeError, IndexError):  # how transformers fails on an auto_map it cannot read
        loaded = False
    assert loaded is loads
    if not loaded:
        with pytest.raises(BadInput, match="'auto_map'"):
            check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, class_read=class_read)
    else:
        check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, class_read=class_read)
