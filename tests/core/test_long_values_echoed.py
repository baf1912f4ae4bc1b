"""A long bad value in a plan file, a config.json or a model name is echoed short, by the one rule of
lorplan.core.units.echoed ("9999999999… (4,000 digits)", "'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters)"), in one
line naming the input. Before, a 4,000-digit rank or a 5,000-character pattern key was printed whole; a 4,000-digit
hidden_size or attention_dropout in config.json, a cuda_context_bytes of 4,000 digits in a plan and a model name
of 5,000 characters were tracebacks (OverflowError, ENAMETOOLONG).

Also the tokenizer auto_map check reads what transformers 5's AutoTokenizer reads of the [slow, fast] list, the
fast class else the slow one: [5, "tokenization_x.XTokenizer"] (a slow class that is no string, never read) loads
with transformers and is no longer refused; nor is a list in config.json, whose items transformers never reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from tests.cli.test_input_edges import _run

BIG = "9" * 4000  # TOML and JSON read an integer of this many digits whole (Python's limit is 4,300)
LONG = "x" * 5000
SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"


def _one_short_line(message: str, limit: int = 260) -> str:
    assert "\n" not in message and len(message) < limit, (len(message), message[:300])
    assert any(f"({n} digits)" in message or f"({n} characters)" in message
               for n in ("4,000", "4,001", "5,000", "5,001", "10,890")), message
    return message


@pytest.mark.parametrize(("old", "new", "says"), [
    ("r = 8", f"r = {BIG}", "lora.r: rank must be at most 65,536 (got 9999999999… (4,000 digits))"),
    ("r = 8", f"r = -{BIG}", "lora.r: rank must be at least 1 (got -999999999… (4,000 digits))"),
    ("version = 1", f"version = {BIG}", "version: 9999999999… (4,000 digits) was written by a newer lorplan"),
    ("seed = 42", f"seed = {BIG}", "training.seed: must be at most 4,294,967,295 (got 9999999999… (4,000 digits))"),
    ("[lora.rank_pattern]", f"[lora.rank_pattern]\n'{LONG}' = {BIG}",
     "lora.rank_pattern: 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters) = 9999999999… (4,000 digits): a rank must be"),
    ("[lora.rank_pattern]", f"[lora.rank_pattern]\n'{LONG}' = 'abc'",
     "lora.rank_pattern: 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters) = 'abc': must be an integer, not a string"),
    ("[lora.rank_pattern]", f"[lora.rank_pattern]\n'({LONG}' = 8",
     "lora.rank_pattern: '(xxxxxxxxx…xxxxxxxxxx' (5,001 characters) is not a valid regular expression"),
    ('"all-linear",', f'"all-linear", "{LONG}", {BIG},',
     "lora.target_modules: item 3 = 9999999999… (4,000 digits): must be a string, not an integer"),
    ('bias = "none"', f'bias = "none"\n{LONG} = 1', "lora.xxxxxxxxxx…xxxxxxxxxx (5,000 characters): unknown key"),
    ("\n[data]", f"\n[{LONG}]\n[data]", "xxxxxxxxxx…xxxxxxxxxx (5,000 characters): unknown table"),
    ("total_bytes = 4789171850", f"total_bytes = {BIG}",
     "estimate.total_bytes: is 9999999999… (4,000 digits) but the components add up to 4789171850"),
    ("total_bytes = 4789171850", f"total_bytes = 4789171850\ncuda_context_bytes = {BIG}",
     "estimate.cuda_context_bytes: must be at most 68,719,476,736 (64 GiB; got 9999999999… (4,000 digits) bytes)"),
])
def test_a_long_plan_value_is_echoed_short(old, new, says):
    from lorplan.core.plan import loads_plan

    text = SAMPLE.read_text()
    assert old in text
    with pytest.raises(BadInput) as caught:
        loads_plan(text.replace(old, new, 1))
    assert str(caught.value).startswith(f"plan: {says}"), str(caught.value)[:300]
    _one_short_line(str(caught.value))


LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 100, "max_position_embeddings": 64}


@pytest.mark.parametrize(("extra", "says"), [
    ({"hidden_size": LONG}, "'hidden_size' must be a positive integer, not 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters)"),
    ({"hidden_size": int(BIG)}, "'hidden_size' must be a positive integer of at most 2,147,483,647, not 9999999999… "
                                "(4,000 digits)"),  # was OverflowError ({v:.3g})
    ({"hidden_size": list(range(2000))}, "'hidden_size' must be a positive integer, not [0, 1, 2, …998, 1999] "
                                         "(10,890 characters)"),
    ({"head_dim": LONG}, "'head_dim' must be a non-negative integer, not 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters)"),
    ({"attention_dropout": int("1" + "0" * 4000)},  # was OverflowError (float(v))
     "'attention_dropout' must be a dropout probability in [0, 1), not 1000000000… (4,001 digits)"),
    ({"model_type": LONG}, "transformers cannot build it (model_type 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters) is not"),
    ({"auto_map": {LONG: 5}}, "'auto_map' must map names to strings or lists of strings, not 'xxxxxxxxxx…xxxxxxxxxx' "
                              "(5,000 characters): 5"),
])
def test_a_long_config_value_is_echoed_short(tmp_path, extra, says):
    from lorplan.core.model.sources import config_spec

    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, **extra}))
    with pytest.raises(BadInput) as caught:
        config_spec(str(tmp_path))
    assert str(caught.value).startswith(f"config.json at {tmp_path / 'config.json'}: {says}"), str(caught.value)[:300]
    _one_short_line(str(caught.value), 260 + len(str(tmp_path)))


@pytest.mark.parametrize(("name", "says"), [
    ("q" * 5000, "unknown model 'qqqqqqqqqq…qqqqqqqqqq' (5,000 characters): not in the catalog"),
    ("org/" + "q" * 4996, "unknown model 'org/qqqqqq…qqqqqqqqqq' (5,000 characters): not in the catalog"),
    ("/" + "q" * 4999, "model path /qqqqqqqqq…qqqqqqqqqq (5,000 characters) does not exist"),
])
def test_a_long_model_name_is_one_short_line(name, says):
    """Each was an OSError traceback (File name too long) from Path.exists or the cache's is_dir."""
    from lorplan.core.model.resolve import resolve_model

    with pytest.raises(BadInput) as caught:
        resolve_model(name)
    assert str(caught.value).startswith(says), str(caught.value)[:300]
    _one_short_line(str(caught.value))


def test_rope_scaling_flag_and_a_config_rope_type_are_echoed_short(tmp_path, capsys):
    rc, out, err = _run(capsys, "plan", "--model", "smollm2-135m", "--rope-scaling", LONG)
    assert rc == 2 and out == "", (out, err[:300])
    assert err.strip() == ("lorplan plan: error: --rope-scaling: 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters) is not "
                           "a number"), err[:300]
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "rope_scaling": {"rope_type": LONG, "factor": 2.0}}))
    rc, out, err = _run(capsys, "plan", "--model", str(tmp_path), "--seq-len", "128", "--rope-scaling", "2")
    assert rc == 2 and out == "", (out, err[:300])
    assert "already scales RoPE (xxxxxxxxxx…xxxxxxxxxx (5,000 characters) ×2.0, to 64 tokens)" in err, err[:300]
    _one_short_line(err.strip(), 400)


# --- auto_map: what transformers 5 reads of it


def _tokenizer_folder(tmp_path: Path, auto_map) -> Path:
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "tok")
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "auto_map": auto_map}))
    return folder


def _load_tokenizer(folder: Path, trust: bool):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust)


@pytest.mark.parametrize("auto_map", [
    [5, "tokenization_x.XTokenizer"],  # the slow class is never read beside a fast one
    [{}, "tokenization_x.XTokenizer"],
    ["tokenization_x.XTokenizer", None, 5],  # nor a third item
    {"AutoTokenizer": [True, "tokenization_x.XTokenizer"]},
])
def test_an_unread_item_of_the_tokenizer_list_is_not_refused(tmp_path, auto_map):
    from lorplan.core.model.sources import check_auto_map

    folder = _tokenizer_folder(tmp_path, auto_map)
    _load_tokenizer(folder, trust=False)  # loads: transformers uses the folder's own tokenizer class
    with pytest.raises(OSError, match="tokenization_x.py"):  # trusted it goes for the module file: the form is fine
        _load_tokenizer(folder, trust=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    for trusted in (False, True):
        check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=trusted)


@pytest.mark.parametrize(("auto_map", "trusted", "says"), [
    ([5, "X"], True, "'auto_map' names the class 'X' (give the tokenizer's class path as module.Class"),
    ([5, None], False, "'auto_map' lists [5, None] where transformers reads [slow class, fast class]: 5 is no class"),
    ([None, ["x"]], True, "'auto_map' lists [None, ['x']] where transformers reads [slow class, fast class]: ['x'] is"),
    ([None, ["--"]], False, "'auto_map' lists [None, ['--']] where transformers reads [slow class, fast class]"),
])
def test_the_class_transformers_takes_is_still_checked(tmp_path, auto_map, trusted, says):
    from lorplan.core.model.sources import check_auto_map

    folder = _tokenizer_folder(tmp_path, auto_map)
    with pytest.raises((TypeError, ValueError, AttributeError)):  # the premise: transformers fails on it
        _load_tokenizer(folder, trust=trusted)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    with pytest.raises(BadInput) as caught:
        check_auto_map(config, "tokenizer_config.json at t", tokenizer=True, trusted=trusted)
    assert str(caught.value).startswith(f"tokenizer_config.json at t: {says}"), str(caught.value)


def test_a_list_class_the_untrusted_load_passes_is_not_refused_untrusted(tmp_path):
    from lorplan.core.model.sources import check_auto_map

    folder = _tokenizer_folder(tmp_path, [None, ["x"]])
    _load_tokenizer(folder, trust=False)
    check_auto_map({"auto_map": [None, ["x"]]}, "tokenizer_config.json at t", tokenizer=True, trusted=False)


@pytest.mark.parametrize("entry", [{"AutoTokenizer": [5, "X"]}, {"AutoModelForCausalLM": [5, "X"]},
                                   {"AutoConfig": [5, "X"]}])
def test_a_config_json_list_entry_loads_as_transformers_loads_it_and_still_asks_for_consent(tmp_path, entry):
    import transformers

    from lorplan.core.model.sources import config_spec
    from lorplan.tui.bridge import asks_own_code

    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "auto_map": entry}))
    config = transformers.AutoConfig.from_pretrained(str(tmp_path), trust_remote_code=False)
    transformers.AutoModelForCausalLM.from_config(config, trust_remote_code=False)  # the premise: it loads
    spec = config_spec(str(tmp_path))  # was "'auto_map' must map names to strings or lists of strings"
    assert spec.hidden_size == 64
    assert asks_own_code(spec)  # a plan of it still asks for model.trust_remote_code
