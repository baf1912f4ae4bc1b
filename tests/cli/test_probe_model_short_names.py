"""`lorplan probe list` and `status` name a folder model by a short name that stays recognisable: a folder
named `model` (checkpoint-500, final, a hash) was shown as just that word; now with the folders above it until one
is not generic (`x/model`). --json keeps the full path."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.model.names import model_name

RUN = "20261205-120000-abcd"


@pytest.mark.parametrize(("model", "shown"), [
    ("/tmp/x/model", "x/model"),
    ("/data/runs/sft-7/checkpoint-500", "sft-7/checkpoint-500"),
    ("/a/b/final/model", "b/final/model"),
    ("/x/models/model/final/best", "model/final/best"),  # at most three parts
    ("/srv/llama/3f2a9c1d0e7b", "llama/3f2a9c1d0e7b"),  # a revision hash outside a Hugging Face cache
    ("/model", "model"),
    ("/tmp/my-llama", "my-llama"),  # a name of its own stays alone
    ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
    ("/cache/hub/models--tiny--llama/snapshots/abc1234", "tiny/llama"),  # a cache snapshot: its hub id
])
def test_model_name(model, shown):
    assert model_name(model) == shown


def test_the_shipped_minilm_keeps_its_published_id():
    from lorplan.core.model.resolve import SHIPPED_ID, shipped_folder

    assert shipped_folder().name == "model" and model_name(str(shipped_folder())) == SHIPPED_ID


def test_probe_list_and_status_show_the_short_name_and_json_the_path(tmp_path, monkeypatch, capsys):
    from lorplan.probe import runner
    from lorplan.probe.runs import atomic_write_json, create_run

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    model = str(tmp_path / "x" / "model")
    run = create_run(runner.make_plan((4, 8), steps=10, device="cpu", run=RUN, model=model),
                     tmp_path / "state" / "lorplan" / "runs")
    for probe in runner.status(run).probes:  # none queued: status would start a scheduler for them
        atomic_write_json(run.result_path(probe.id), {"state": "cancelled", "step": 0})
    assert main(["probe", "list"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(RUN) and line.endswith("  x/model"), line
    assert main(["probe", "status", RUN]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("  model x/model")
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["model"] == model
