"""`lorplan plan --write` of a checkpoint whose config.json names a head lorplan does not train (a token
classifier): it wrote a plan that lorplan train, export and the probes refuse. The table alone is still priced,
with the note naming the head (what the planner shows); --write refuses in their one line
(core.model.head.other_head_refusal), exit 2, nothing written. Fast path only: no child, no torch."""

from __future__ import annotations

import json

from lorplan.cli import main

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}
WORDS = ("config.json names LlamaForTokenClassification, a token-classification model transformers builds with "
         "AutoModelForTokenClassification, a head lorplan does not train")


def _folder(tmp_path, architectures: list[str]):
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    return folder


def test_plan_write_refuses_it(tmp_path, capsys):
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    plan = tmp_path / "plan.toml"
    rc = main(["plan", "--model", str(folder), "--rank", "8", "--write", str(plan)])
    out, err = capsys.readouterr()
    err = err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"lorplan plan: error: --model {folder}: {WORDS}"), err[0]
    assert out == "" and not plan.exists()


def test_its_table_is_still_priced_with_the_note(tmp_path, capsys):
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    rc = main(["plan", "--model", str(folder), "--rank", "8", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["rows"], out
    assert any("config.json names LlamaForTokenClassification" in n for n in json.dumps(out).split('"')), out


def test_its_causal_lm_is_written(tmp_path, capsys):
    folder = _folder(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"])
    plan = tmp_path / "plan.toml"
    rc = main(["plan", "--model", str(folder), "--rank", "8", "--write", str(plan)])
    assert rc == 0 and plan.is_file(), capsys.readouterr().err
