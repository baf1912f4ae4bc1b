"""The probe worker refuses to train a probe of a checkpoint whose config.json names a head lorplan does not train
(a token classifier, a question-answering model): a ladder's driver started by an older lorplan, before a run's
start (db3f90c), a retry and a scheduler's restart (bd21275) refused such a model, still queues its probes, and a
scheduler of this lorplan launched them, each training the causal LM planned from that checkpoint, another model
without its head. The probe now ends failed at once, in runner.run_model_refusal's line, before torch is imported
or anything is loaded (its events say no "started"). In this process: no child, no training."""

from __future__ import annotations

import json

from lorplan.probe import runner
from lorplan.probe.events import read_events
from lorplan.probe.runs import create_run
from lorplan.probe.worker import run_worker

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5,
         "architectures": ["LlamaForTokenClassification"]}


def test_a_queued_probe_of_a_tagger_is_not_trained(tmp_path, state_home):
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA))
    run = create_run(runner.make_plan((4,), steps=10, device="cpu", model=str(folder)), state_home)
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "failed"
    assert result["message"].startswith(
        f"OtherHeadRefused: run {run.id}: model {folder}: config.json names LlamaForTokenClassification, a "
        "token-classification model transformers builds with AutoModelForTokenClassification, a head lorplan "
        "does not train"), result["message"]
    assert result["message"].endswith("; probe r4 is not trained")
    assert [e["type"] for e in read_events(run.events_path("r4"))] == ["loading", "failed"]
