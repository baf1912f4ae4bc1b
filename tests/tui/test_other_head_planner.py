"""The planner and a checkpoint whose config.json names a head lorplan does not train (a token classifier, a
question-answering model), which `lorplan export` and `lorplan recommend` refuse in one line.

1. Its export dialog read the model as `lorplan export` does, from the fallback's kept build alone (it never starts
the child on the UI thread): a model outside the fast path whose build was not kept on disk (a cache folder that
cannot be written, an entry pruned) read as no spec, and was not refused, although the planner had built it to
price its table; in a planner started with --trust-remote-code the loader's own in-process cache, keyed by that
consent, did not answer the export's reading either. It wrote the plan file and every format. Now the dialog
reads the planner's own build of that config file version (bridge._remember_build).
2. Its Recommend tab recommended a rank for it (the capacity prior alone), where `lorplan recommend` refuses it;
now the tab says that command's line instead.
No child process: the fallback's report is made in this process by the child's own code and kept as the child's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import transformers

from lorplan.core.errors import BadInput
from lorplan.core.model import _fallback_child, buildcache, fallback
from lorplan.core.plan import read_plan
from lorplan.tui import bridge, recommend_bridge
from lorplan.tui.state import PlanSnapshot

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
ROBERTA = {"model_type": "roberta", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1,
           "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 66, "pad_token_id": 1}
LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}


def _folder(tmp_path: Path, cfg: dict) -> Path:
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_the_export_dialog_refuses_a_fallback_tagger_whose_build_is_not_kept(tmp_path):
    folder = _folder(tmp_path, {**ROBERTA, "architectures": ["RobertaForTokenClassification"]})
    config = folder / "config.json"
    verbosity = transformers.logging.get_verbosity()
    try:  # the child's report, made in this process, kept as the child's would be
        code, text = _fallback_child.report(str(config), False)
    finally:
        transformers.logging.set_verbosity(verbosity)
    assert code == 0
    key = fallback.cache_key(config)
    buildcache.store(key, json.loads(text))
    # the planner's worker loads it (lorplan --trust-remote-code: a model without code of its own, so kept)
    spec = bridge.load_spec(str(folder), trust_remote_code=True)
    assert spec.source == "fallback" and spec.named_head == ("RobertaForTokenClassification",
                                                             "AutoModelForTokenClassification")
    buildcache.entry_path(key).unlink()  # not kept where the export looks (a full disk, another session's pruning)

    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(folder), trust_remote_code=True),
                   training=replace(plan.training, seq_len=64))
    out = tmp_path / "out"
    for fmt, name in (("plan", "plan.toml"), ("peft", "peft"), ("trl", "trl.yaml")):
        why = bridge.export_refusal(plan, fmt)
        assert why is not None and why.startswith(f"{folder}: config.json names RobertaForTokenClassification, a "
                                                  "token-classification model"), (fmt, why)
        assert bridge.export_paths(plan, fmt, out / name) == []
        with pytest.raises(BadInput, match="a head lorplan does not train"):
            bridge.write_exports(plan, {fmt: out / name}, force=False)
    assert not out.exists()


def _snapshot(folder: Path) -> PlanSnapshot:
    spec = bridge.load_spec(str(folder))
    setup = bridge.training_setup(targets=("q_proj", "v_proj"), dora=False, seq_len=64)
    return PlanSnapshot("./tagger", spec, setup, 8, bridge.rank_table(spec, setup, None))


@pytest.mark.parametrize("named", [["LlamaForTokenClassification"], ["LlamaForQuestionAnswering"]])
def test_the_recommend_tab_refuses_it_as_lorplan_recommend_does(tmp_path, named):
    read = recommend_bridge.prior(_snapshot(_folder(tmp_path, {**LLAMA, "architectures": named})), None, 100_000)
    assert read.recommendation is None and not read.needs_size
    assert read.needs.startswith(f"./tagger: config.json names {named[0]}, a ") and "\n" not in read.needs
    assert "a head lorplan does not train" in read.needs


def test_the_causal_lm_named_first_is_recommended(tmp_path):
    folder = _folder(tmp_path, {**LLAMA, "architectures": ["LlamaForCausalLM", "LlamaForTokenClassification"]})
    read = recommend_bridge.prior(_snapshot(folder), None, 100_000)
    assert read.recommendation is not None and read.needs is None
