"""A model's config.json that is no JSON text lorplan can read (binary bytes, nesting deeper than Python's
parser recurses, an integer of more digits than int() reads) is one BadInput line naming the file; each was a
traceback (UnicodeDecodeError, RecursionError, ValueError) from `lorplan plan --model FOLDER`."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.model import load_spec

LLAMA = ('{"model_type": "llama", "hidden_size": %s, "num_hidden_layers": 2, "intermediate_size": 128, '
         '"num_attention_heads": 4, "vocab_size": 100}')


@pytest.mark.parametrize(("content", "says"), [
    (b"\xde\xad\xbe\xef not utf-8", "is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ((LLAMA % ("9" * 5000)).encode(), "a number of 5000 digits"),
])
def test_unreadable_config_text_is_one_line_naming_the_file(tmp_path, capsys, content, says):
    folder = tmp_path / "my model é"
    folder.mkdir()
    (folder / "config.json").write_bytes(content)
    with pytest.raises(BadInput, match=says) as exc:
        load_spec(str(folder))
    assert str(folder / "config.json") in str(exc.value)
    rc = main(["plan", "--model", str(folder), "--ranks", "8"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("lorplan plan: error: config.json at ") and says in err, err


def test_a_dimension_beyond_any_model_is_refused(tmp_path):
    # 10^26 hidden units priced a model of 8·10^40 parameters and exited 0
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(LLAMA % ("1" + "0" * 26))
    with pytest.raises(BadInput, match=r"'hidden_size' must be a positive integer of at most 2,147,483,647"):
        load_spec(str(folder))
