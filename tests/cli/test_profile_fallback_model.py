"""`lorplan profile --model F` for a model lorplan judges only by building it (the fallback: DistilBERT, RoBERTa,
GPT-Neo, model_types outside the fast path). Profile read the task and the context from sources.config_spec,
which answers None for such a model, so a DistilBERT's data was counted as a causal LM's (every row, trained
tokens, no label figures) while `lorplan plan --data` counted it as a classifier's, and a --seq-len beyond the
model's context was profiled (with a note) where plan refuses it. Profile now loads the spec plan loads (the
fallback build, --trust-remote-code as plan takes it), once per run; a folder plan refuses, the build's failure
included, is refused with plan's line. Real folders: a DistilBERT with random weights and a GPT-Neo config, both
with MiniLM's tokenizer files."""

from __future__ import annotations

import json

import pytest
from model_builders import copy_tokenizer, tiny_distilbert

from lorplan.cli import main
from tests.cli.test_input_edges import _run

GAPS = (5, 17)  # rows whose label is null: training skips them
GPT_NEO = {"model_type": "gpt_neo", "architectures": ["GPTNeoForCausalLM"], "hidden_size": 32, "num_layers": 2,
           "num_heads": 4, "attention_types": [[["global", "local"], 1]], "vocab_size": 30522,
           "max_position_embeddings": 96, "window_size": 16}


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory) -> str:
    return str(tiny_distilbert(tmp_path_factory.mktemp("distilbert")))


@pytest.fixture(scope="module")
def gpt_neo(tmp_path_factory) -> str:
    folder = copy_tokenizer(tmp_path_factory.mktemp("gpt_neo"))
    (folder / "config.json").write_text(json.dumps(GPT_NEO))
    return str(folder)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"review {i} says things", "label": None if i in GAPS else i % 2})
                            + "\n" for i in range(50)))
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _json(capsys, *argv) -> dict:
    rc, out, err = _run(capsys, *argv)
    assert rc == 0, err
    return json.loads(out)


def test_a_fallback_classifier_counts_the_labelled_rows_as_plan_does(distilbert, data, capsys, tmp_path):
    assert main(["plan", "--model", distilbert, "--rank", "8", "--data", str(data), "--write",
                 str(tmp_path / "p.toml")]) == 0
    assert "48 examples, eval_split 0 " in capsys.readouterr().out
    profile = _json(capsys, "profile", "--data", str(data), "--model", distilbert, "--json")
    # 50 before: every row counted, as a causal LM's
    assert (profile["examples"], profile["unlabelled"], profile["first_unlabelled"]) == (48, 2, 6)
    assert profile["split"]["eval"] == 0  # plan's eval_split 0 for the 48
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", distilbert)
    assert rc == 0, err
    assert "trained tokens" not in out and "packing" not in out  # a classifier's report (they were there before)
    assert "labels           2 classes" in out
    assert "2 rows without a label skipped (the first, line 6)" in " ".join(out.split())
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", distilbert, "--train-on-all")
    assert rc == 2 and "is a sequence classifier" in err, err


def test_the_seq_len_check_reads_the_fallback_model_s_context(distilbert, data, capsys):
    # the DistilBERT has 128 positions: plan refuses --seq-len 256, and profile now says plan's line (it profiled)
    rc, _, planned = _run(capsys, "plan", "--model", distilbert, "--rank", "8", "--seq-len", "256")
    assert rc == 2 and planned.startswith("lorplan plan: error: --seq-len 256"), planned
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", distilbert, "--seq-len", "256")
    assert (rc, out) == (2, ""), out
    assert err == planned.replace("lorplan plan:", "lorplan profile:", 1)
    assert _json(capsys, "profile", "--data", str(data), "--model", distilbert, "--seq-len", "128",
                 "--json")["seq_len"] == 128


def test_a_fallback_causal_lm_stays_causal(gpt_neo, data, capsys):
    profile = _json(capsys, "profile", "--data", str(data), "--model", gpt_neo, "--json")
    assert (profile["examples"], profile["unlabelled"]) == (50, 0)  # every row, as a causal LM trains them
    assert profile["trained_tokens"] == profile["tokens"] > 0
    assert profile["seq_len"] == 96  # its config's context caps the default 2048
    rc, _, planned = _run(capsys, "plan", "--model", gpt_neo, "--rank", "8", "--seq-len", "97")
    assert rc == 2 and planned.startswith("lorplan plan: error: --seq-len 97"), planned
    rc, _, err = _run(capsys, "profile", "--data", str(data), "--model", gpt_neo, "--seq-len", "97")
    assert rc == 2 and err == planned.replace("lorplan plan:", "lorplan profile:", 1)


@pytest.mark.own_builds
def test_the_model_is_built_once_per_run(tmp_path, data, capsys, monkeypatch):
    from lorplan.core.model import fallback

    folder = str(tiny_distilbert(tmp_path / "fresh"))  # a path no earlier test built in this process
    capsys.readouterr()  # the save's progress bar
    builds = []
    child = fallback.run_child
    monkeypatch.setattr(fallback, "run_child", lambda *a, **k: builds.append(a) or child(*a, **k))
    profile = _json(capsys, "profile", "--data", str(data), "--model", folder, "--seq-len", "64", "--json")
    assert profile["examples"] == 48 and profile["seq_len"] == 64
    assert len(builds) == 1  # the classifier decision and the --seq-len check share the one build


def test_a_folder_the_fallback_cannot_build_is_refused_with_plan_s_line(tmp_path, data, capsys):
    # 4 heads do not divide dim 30: transformers' DistilBERT refuses to build it, and so does plan
    folder = tiny_distilbert(tmp_path / "broken")
    config = folder / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "dim": 30}))
    capsys.readouterr()  # the save's progress bar
    rc, _, planned = _run(capsys, "plan", "--model", str(folder), "--rank", "8")
    assert rc == 2 and planned.startswith(f"lorplan plan: error: config.json at {config}: transformers cannot build"), \
        planned
    rc, out, err = _run(capsys, "profile", "--data", str(data), "--model", str(folder), "--json")
    assert (rc, out) == (2, "")  # profiled as a causal LM's data before, exit 0
    assert err == planned.replace("lorplan plan:", "lorplan profile:", 1)


def test_a_tokenizer_only_folder_still_profiles(tmp_path, data, capsys):
    folder = copy_tokenizer(tmp_path / "tokenizer only")
    profile = _json(capsys, "profile", "--data", str(data), "--model", str(folder), "--json")
    assert profile["examples"] == 50 and profile["tokenizer"] != "estimate"
