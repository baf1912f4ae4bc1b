"""core.model.sources.check_auto_map of a tokenizer_config.json let a string "AutoTokenizer" entry ("x.Y") and a
list whose class path is no module.Class (["X", ""]) pass, though transformers 5's AutoTokenizer fails on them:
it indexes the entry ("X"[1]: IndexError, whatever the trust) and, with the folder's code trusted, splits the class
it takes (the fast one, entry[1], else the slow one) as [repo--]module.Class (dynamic_module_utils.
get_class_from_dynamic_module: "not enough values to unpack"), so `lorplan profile --trust-remote-code` said
"cannot load (not enough values to unpack (expected 2, got 1))", naming neither the file nor the key. Untrusted,
transformers never splits the class path (a folder with a tokenizer of transformers' own loads), so the check
refuses a path only when the code is trusted.

Real folders with MiniLM's tokenizer files; every case is first loaded with transformers itself."""

from __future__ import annotations

import pytest

from tests.cli.test_input_edges import _run
from tests.cli.test_profile_tokenizer_auto_map_read import _folder, _load

FIX = "give the tokenizer's class path as module.Class (tokenization_x.XTokenizer), or remove the key"
LIST = ("where transformers reads a list, [slow class, fast class]: write the class in such a list (null for a "
        "class the tokenizer lacks), or remove the key")


@pytest.mark.parametrize(("auto_map", "says"), [
    ({"AutoTokenizer": "tokenization_x.XTokenizer"},
     f"'auto_map' names a string for 'AutoTokenizer' ('tokenization_x.XTokenizer') {LIST}"),
    (["tokenization_x.XTokenizer", ""], f"'auto_map' names the class '' ({FIX})"),
    ({"AutoTokenizer": [None, "tokX"]}, f"'auto_map' names the class 'tokX' for 'AutoTokenizer' ({FIX})"),
    ([None, "a.b.C"], f"'auto_map' names the class 'a.b.C' ({FIX})"),
    (["a--b--c.D", None], f"'auto_map' names the class 'a--b--c.D' ({FIX})"),
    ([None, "--tok.X"], f"'auto_map' names the class '--tok.X' ({FIX})"),
])
def test_a_class_path_trusted_code_cannot_load_is_one_line(tmp_path, capsys, prompt_completion_file, auto_map, says):
    folder = _folder(tmp_path, auto_map)
    _load(folder)  # untrusted: the class path is never read, the folder's own tokenizer loads
    with pytest.raises(Exception) as premise:  # noqa: PT011 - transformers' own failure, whichever it is
        _load(folder, trust=True)
    assert not isinstance(premise.value, OSError)  # a missing module file, not the class path's form
    capsys.readouterr()  # what transformers logged on the way ('--tok.X': "not a valid Python identifier")
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--tokenizer", str(folder),
                        "--trust-remote-code")
    assert rc == 2 and out == "" and err.count("\n") == 1, (out, err)
    assert err.strip() == f"lorplan profile: error: tokenizer_config.json at {folder / 'tokenizer_config.json'}: {says}"


@pytest.mark.parametrize("entry", ["X", ""])
def test_a_string_too_short_to_index_is_refused_untrusted_too(tmp_path, capsys, prompt_completion_file, entry):
    folder = _folder(tmp_path, {"AutoTokenizer": entry})
    with pytest.raises(IndexError):  # the premise: "X"[1], trusted or not
        _load(folder)
    rc, out, err = _run(capsys, "profile", "--data", str(prompt_completion_file), "--tokenizer", str(folder))
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == (f"lorplan profile: error: tokenizer_config.json at {folder / 'tokenizer_config.json'}: "
                           f"'auto_map' names a string for 'AutoTokenizer' ({entry!r}) {LIST}"), err


@pytest.mark.parametrize("auto_map", [
    {"AutoTokenizer": "tokenization_x.XTokenizer"}, ["tokenization_x.XTokenizer", ""], [None, "a.b.C"],
    [None, "tok.X"],  # well formed: trusted, transformers fails on the missing tok.py, which is its reason to say
    [None, ".X"],  # a module file named .py loads
])
def test_the_check_agrees_with_transformers_trusted_or_not(tmp_path, auto_map):
    import json

    from lorplan.core.errors import BadInput
    from lorplan.core.model.sources import check_auto_map

    folder = _folder(tmp_path, auto_map)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    _load(folder)
    check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=False)
    try:
        _load(folder, trust=True)
    except OSError:  # the module file is missing: the class path's form is fine
        check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=True)
    except (ValueError, IndexError, AttributeError):
        with pytest.raises(BadInput, match="^tokenizer_config.json at t: 'auto_map' names "):
            check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=True)
    else:
        raise AssertionError(f"{auto_map!r} loaded trusted without its module file")


def test_a_class_path_of_no_class_name_is_refused_trusted():
    """"tok.": transformers imports tok.py and then reads getattr(module, ""), AttributeError (tried by hand with a
    tok.py beside it: not here, where a trusted import would write into the Hugging Face modules cache); without
    the file it fails on the missing file first, so this one is checked on the function itself."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model.sources import check_auto_map

    config = {"auto_map": [None, "tok."]}
    check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=False)
    with pytest.raises(BadInput, match=r"^tokenizer_config.json at t: 'auto_map' names the class 'tok.' \(give"):
        check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=True)
