"""`lorplan recommend` (capacity prior): the JSON contract, data files, --write, text output, bad input."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

from lorplan.cli import main
from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CONTRACT = ("rank", "alpha", "use_rslora", "learning_rate", "target_modules", "rank_pattern", "tolerance",
            "confidence", "cost_seconds", "fits", "ladder", "evidence")


def recommend(capsys, *argv):
    rc = main(["recommend", *argv])
    return rc, capsys.readouterr()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_json_contract_from_sizes(capsys):
    rc, cap = recommend(capsys, "--model", QWEN, "--trained-tokens", "2000000", "--gpu-memory", "80GiB", "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    assert all(k in out for k in CONTRACT)
    assert out["rank"] == 4 and out["confidence"] == {"low": 2, "high": 8}
    assert out["alpha"] == 32 and out["use_rslora"] is False and out["target_modules"] == ["all-linear"]
    assert out["fits"]["fits"] is True and out["fits"]["budget_bytes"] == 80 * 1024**3
    assert out["ladder"] == [] and out["cost_seconds"] == 0
    assert out["capacity"]["params_per_rank"] == 549_888 and out["capacity"]["trained_tokens"] == 2_000_000
    assert {e["source"] for e in out["evidence"]} >= {"token rule", "capacity prior", "probes", "scaling", "memory"}
    assert all(set(e) == {"source", "rank", "explanation"} for e in out["evidence"])


def test_data_file_is_profiled(tmp_path, capsys):
    rows = [{"prompt": f"question {i}?", "completion": " answer " * 20} for i in range(200)]
    data = write_jsonl(tmp_path / "sft.jsonl", rows)
    rc, cap = recommend(capsys, "--model", QWEN, "--data", data, "--probes", "none", "--epochs", "3", "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    assert main(["profile", "--data", data, "--model", QWEN, "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert out["capacity"]["trained_tokens"] == profile["trained_tokens"] > 0
    assert out["capacity"]["examples"] == 200 and out["capacity"]["epochs"] == 3
    assert out["capacity"]["data_source"] == f"profile of {data}"
    assert out["rank"] == 1  # a few thousand tokens: one rank unit (549,888 parameters) covers them


def test_classification_counts_label_entropy(tmp_path, capsys):
    rows = [{"text": f"review {i}", "label": ["pos", "neg", "neu", "neg"][i % 4]} for i in range(400)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none", "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    entropy = -(2 * 0.25 * math.log2(0.25) + 0.5 * math.log2(0.5))  # 1.5 bits
    assert out["capacity"]["label_bits"] == pytest.approx(400 * entropy)
    assert out["task"] == "sequence-classification" and out["learning_rate"] == 1e-3
    bits = next(e for e in out["evidence"] if e["source"] == "bits rule")
    assert "1.5 bits of label entropy (measured from the labels)" in bits["explanation"]


def test_one_bit_of_label_entropy_is_singular(tmp_path, capsys):
    rows = [{"text": f"review {i}", "label": ["pos", "neg"][i % 2]} for i in range(400)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none", "--json")
    assert rc == 0, cap.err
    bits = next(e for e in json.loads(cap.out)["evidence"] if e["source"] == "bits rule")
    assert "400 examples × 1 bit of label entropy (measured from the labels) = 400 bits" in bits["explanation"]


def test_label_warnings_of_the_profile_are_said(tmp_path, capsys):
    """recommend says what `lorplan profile` says of the labels (the ladder's accuracies are read against the
    majority class; names beside integer ids take the ids after them), on stderr: stdout stays the JSON."""
    rows = [{"text": f"review {i}", "label": 1 if i % 10 else "spam"} for i in range(400)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none", "--json")
    assert rc == 0, cap.err
    json.loads(cap.out)
    err = cap.err.strip().splitlines()
    assert any(line.startswith(f"warning: --data {data}: labels are imbalanced: 1 has 360 examples") for line in err)
    assert any(line.startswith(f"note: --data {data}: ") and "'spam'" in line for line in err), err
    balanced = write_jsonl(tmp_path / "ok.jsonl", [{"text": f"r {i}", "label": i % 2} for i in range(400)])
    rc, cap = recommend(capsys, "--model", MINILM, "--data", balanced, "--probes", "none", "--json")
    assert rc == 0 and "warning" not in cap.err and "note:" not in cap.err, cap.err


def test_write_plan(tmp_path, capsys):
    path = tmp_path / "plan.toml"
    rc, cap = recommend(capsys, "--model", MINILM, "--examples", "300000", "--task", "sequence-classification",
                        "--num-labels", "4", "--epochs", "2", "--write", str(path))
    assert rc == 0, cap.err
    assert f"wrote {path}" in cap.out
    plan = read_plan(path)
    # 300,000 examples: token rule 300,000 parameters, bits rule 300,000 × 2 bits / 2; / 42,240 = 7.1 -> 8
    assert plan.lora.r == 8 and plan.lora.alpha == 32 and plan.lora.use_rslora is False
    assert plan.training.learning_rate == 1e-3 and plan.training.epochs == 2
    assert plan.model.num_labels == 4
    # a classifier trains one label per example: no data.train_on is written (it was "completion")
    assert plan.data.train_on is None and "train_on" not in path.read_text()
    spec = load_spec(MINILM)
    head4 = 384 * 4 + 4
    assert plan.estimate.trainable_params == trainable_params(spec, LoraTargets(), 8) - (384 * 2 + 2) + head4
    rc, cap = recommend(capsys, "--model", MINILM, "--examples", "10", "--write", str(path))
    assert rc == 2 and "--force" in cap.err


def test_text_output(capsys):
    rc, cap = recommend(capsys, "--model", QWEN, "--trained-tokens", "900000000", "--gpu", "RTX-4090")
    assert rc == 0, cap.err
    lines = cap.out.splitlines()
    assert lines[0] == f"lorplan recommend: {QWEN} (causal-lm), targets all-linear"
    assert any(line.split()[:2] == ["rank", "128"] for line in lines)
    assert "evidence" in lines
    assert any(line.startswith("  memory") and line.endswith("(RTX-4090) per GPU: fits") for line in lines)
    unwrapped = cap.out.replace("\n      ", " ")  # evidence sentences wrap with a 6-space indent
    assert "kept at rank 128 (an adapted module has only 128 dimensions) by the token rule" in unwrapped


def test_the_seeds_help_names_the_limit_the_ladder_enforces():
    from lorplan.cli import build_parser
    from lorplan.recommend.launch import MAX_SEEDS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    seeds = next(a for a in sub.choices["recommend"]._actions if a.dest == "seeds")
    assert f"at most {MAX_SEEDS})" in seeds.help


def test_the_probe_steps_help_names_the_default_the_ladder_uses():
    from lorplan.cli import build_parser
    from lorplan.recommend.launch import PROBE_STEPS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    steps = next(a for a in sub.choices["recommend"]._actions if a.dest == "probe_steps")
    assert f"(default {PROBE_STEPS}," in steps.help
    from lorplan.recommend.ladder import SPARE_SHARE

    assert SPARE_SHARE == 0.5 and "the whole ladder in half its time" in steps.help


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--model", QWEN, "--data", "x.jsonl", "--probes", "auto"], f"--probes auto: model {QWEN} is not on disk"),
        (["--wait"], "--wait: only with --run RUN"),
        (["--run", "nope"], "probe run"),
        (["--data", "x.jsonl"], "--model: give a model"),
        (["--probes", "none"], "--probes none: the demo"),
        (["--run", "x", "--model", QWEN], "--model: --run RUN re-attaches"),
        (["--model", QWEN], "--data: give --data FILE, or --trained-tokens N"),
        (["--model", QWEN, "--data", "x.jsonl", "--trained-tokens", "5"], "--trained-tokens: give either --data"),
        (["--model", QWEN, "--trained-tokens", "5", "--task", "sequence-classification"], "--task sequence-classification: "),
        (["--model", QWEN, "--trained-tokens", "0"], "--trained-tokens: 0 must be at least 1"),
        (["--model", QWEN, "--trained-tokens", "5", "--epochs", "-1"], "--epochs: '-1' must be a positive number"),
        (["--model", QWEN, "--trained-tokens", "5", "--targets", "nope"], "--targets: 'nope' matches no module"),
        (["--model", QWEN, "--trained-tokens", "5", "--gpu-memory", "lots"], "--gpu-memory: 'lots'"),
        (["--model", QWEN, "--data", "/no/such/file.jsonl"], "--data /no/such/file.jsonl"),
        (["--model", MINILM, "--trained-tokens", "100"], "--examples: sequence classification counts"),
        (["--model", MINILM, "--examples", "100", "--trained-tokens", "9"], "--trained-tokens: sentence-transformers/"
         "all-MiniLM-L6-v2 is a sequence classifier; its rules count the labelled examples"),
        (["--model", MINILM, "--examples", "100", "--num-labels", "1"], "--num-labels: 1 must be at least 2"),
        (["--model", MINILM, "--examples", "100", "--num-labels", "0"], "--num-labels: 0 must be at least 2"),
        (["--model", MINILM, "--examples", "100", "--num-labels", "-3"], "--num-labels: -3 must be at least 2"),
        (["--model", QWEN, "--examples", "100", "--num-labels", "3"], "--num-labels: only with"),
        (["--model", QWEN, "--trained-tokens", "5", "--apply-pattern"], "--apply-pattern: only with --write"),
        (["--model", QWEN, "--trained-tokens", "5", "--no-pattern"], "--no-pattern: only with --write"),
        (["--model", QWEN, "--trained-tokens", "5", "--seeds", "2"], "--seeds: it is for the probe ladder"),
        (["--model", QWEN, "--data", "x.jsonl", "--probes", "none", "--seeds", "2"], "--seeds: it is for"),
        (["--model", QWEN, "--trained-tokens", "5", "--probe-steps", "50"], "--probe-steps: it is for the probe"),
        (["--model", QWEN, "--data", "x.jsonl", "--probes", "none", "--probe-steps", "50"], "--probe-steps: it is"),
        (["--probe-steps", "50"], "--probe-steps: the demo trains its own length"),
        (["--model", QWEN, "--data", "x.jsonl", "--probe-steps", "0"], "--probe-steps: 0 must be at least 1"),
        (["--model", QWEN, "--data", "x.jsonl", "--probe-steps", "long"], "--probe-steps: 'long'"),
        (["--run", "x", "--probe-steps", "50"], "--probe-steps: --run RUN re-attaches"),
        (["--seeds", "3"], "--seeds: the demo trains its own 3 seeds"),
        (["--model", QWEN, "--data", "x.jsonl", "--seeds", "9"], "--seeds: 9 is more than 5"),
        (["--model", QWEN, "--data", "x.jsonl", "--seeds", "two"], "--seeds: 'two'"),
        (["--run", "x", "--seeds", "2"], "--seeds: --run RUN re-attaches"),
        (["--model", QWEN, "--trained-tokens", "5", "--force"], "--force: only with --write PLAN.toml"),
        (["--model", QWEN, "--trained-tokens", "5", "--budget-minutes", "5"], "--budget-minutes: it is for the probe"),
        (["--model", QWEN, "--data", "x.jsonl", "--probes", "none", "--budget-minutes", "5"], "--budget-minutes: it is"),
        (["--budget-minutes", "5"], "--budget-minutes: the demo trains a fixed ladder"),
        (["--run", "x", "--budget-minutes", "5"], "--budget-minutes: --run RUN re-attaches"),
        (["--model", "gpt2", "--trained-tokens", "5", "--seq-len", "4096"], "--seq-len 4096 is beyond"),
        (["--model", MINILM, "--examples", "100", "--seq-len", "100000"], "context of 512 tokens"),
        # a classifier trains one label per example: --train-on (a causal LM's tokens) was accepted and ignored
        (["--model", MINILM, "--examples", "100", "--train-on", "all"], "--train-on all: sentence-transformers/"
         "all-MiniLM-L6-v2 is a sequence classifier, which trains one label per example"),
        (["--model", MINILM, "--examples", "100", "--train-on", "completion"], "--train-on completion: "
         "sentence-transformers/all-MiniLM-L6-v2 is a sequence classifier"),
        (["--train-on", "all"], "--train-on all: the demo is a classification task"),
        (["--run", "x", "--train-on", "all"], "--train-on: --run RUN re-attaches"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(capsys, argv, expected):
    try:
        rc = main(["recommend", *argv])
    except SystemExit as exc:  # argparse's own checks
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err


def test_a_fresh_process_prints_json_without_loading_torch():
    code = (
        "import io, contextlib, json, sys\n"
        "from lorplan.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    rc = main(['recommend', '--model', '{QWEN}', '--trained-tokens', '3000000', '--json'])\n"
        "print(json.dumps({'rc': rc, 'rank': json.loads(buf.getvalue())['rank'],\n"
        "                  'heavy': [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "rank": 8, "heavy": []}
    cli = subprocess.run([sys.executable, "-m", "lorplan", "recommend", "--probes", "auto", "--model", QWEN],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and "Traceback" not in cli.stderr


def test_sequence_length_comes_from_the_profile_and_setup_flags_are_checked_first(tmp_path, capsys):
    rows = [{"prompt": f"q{i}", "completion": " short answer"} for i in range(100)]
    data = write_jsonl(tmp_path / "short.jsonl", rows)
    rc, cap = recommend(capsys, "--model", QWEN, "--data", data, "--gpu-memory", "8GiB", "--json")
    assert rc == 0, cap.err
    assert "× 64 tokens" in json.loads(cap.out)["fits"]["explanation"]  # p99 rounded up to 64
    rc, cap = recommend(capsys, "--model", QWEN, "--data", data, "--seq-len", "512", "--gpu-memory", "8GiB",
                        "--json")
    assert "× 512 tokens" in json.loads(cap.out)["fits"]["explanation"]
    # a bad setup flag is reported before the (missing) data file is read
    rc, cap = recommend(capsys, "--model", QWEN, "--data", str(tmp_path / "missing.jsonl"), "--targets", "nope")
    assert rc == 2 and "--targets: 'nope'" in cap.err


def test_write_keeps_one_rank_unless_the_pattern_is_asked_for_or_checked(tmp_path, capsys):
    """A ladder's unchecked per-module rank_pattern is offered, not written: --write writes one rank for every
    module, and --apply-pattern writes the pattern too (on the real-text benchmarks it never clearly beat one
    rank). A pattern the ladder's check kept is written unless --no-pattern."""
    import argparse

    from lorplan.cli import recommend as cli
    from lorplan.cli.plan_args import setup_from_args

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    pattern = {r"layer\.\d+\.attention\.self\.query": 16}
    obj = {"rank": 8, "alpha": 32, "learning_rate": 3e-3, "use_rslora": False, "rank_pattern": pattern}
    spec = load_spec(MINILM)
    for extra, want in (((), {}), (("--apply-pattern",), pattern)):
        path = tmp_path / f"plan{len(extra)}.toml"
        args = parser.parse_args(["recommend", "--model", MINILM, "--examples", "100", "--json", "--write", str(path),
                                  *extra])
        assert cli._print_ladder(args, obj, spec=spec, setup=setup_from_args(args)) == 0
        plan = read_plan(path)
        assert (plan.lora.r, plan.lora.alpha, plan.training.learning_rate) == (8, 32, 3e-3)
        assert dict(plan.lora.rank_pattern) == want
    capsys.readouterr()
    args = parser.parse_args(["recommend", "--model", MINILM, "--examples", "100", "--json", "--write",
                              str(tmp_path / "none.toml"), "--apply-pattern"])
    assert cli._print_ladder(args, {**obj, "rank_pattern": {}}, spec=spec, setup=setup_from_args(args)) == 0
    assert "has no per-module pattern, so every module keeps rank 8" in capsys.readouterr().err
    checked = {**obj, "pattern_checked": True}
    for extra, want in (((), pattern), (("--no-pattern",), {}), (("--apply-pattern",), pattern)):
        path = tmp_path / f"checked{len(extra)}{extra[:1]}.toml"
        args = parser.parse_args(["recommend", "--model", MINILM, "--examples", "100", "--json", "--write", str(path),
                                  *extra])
        assert cli._print_ladder(args, checked, spec=spec, setup=setup_from_args(args)) == 0
        assert dict(read_plan(path).lora.rank_pattern) == want
        err = capsys.readouterr().err
        assert ("the ladder checked on your data" in err) == (not extra)
    with pytest.raises(SystemExit):  # argparse: not allowed with each other
        parser.parse_args(["recommend", "--write", "x.toml", "--apply-pattern", "--no-pattern"])


@pytest.mark.filterwarnings("ignore:The PEFT config's `base_model_name_or_path` was renamed")
def test_an_applied_pattern_is_priced_and_trained_as_written(tmp_path, capsys):
    """--write --apply-pattern: the written plan's [estimate] is priced with the per-module ranks (it was priced
    at one rank for every module), and the peft model `lorplan train` builds from the plan (its LoraConfig, on the
    meta device) has exactly those ranks and the estimate's trainable-parameter count."""
    import argparse

    import torch
    import transformers
    from peft import get_peft_model

    from lorplan.cli import recommend as cli
    from lorplan.cli.plan_args import setup_from_args
    from lorplan.core.model import model_folder
    from lorplan.train.model import lora_config

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    pattern = {r"layer\.\d+\.attention\.self\.query": 16, r"layer\.5\.attention\.self\.value": 2}
    obj = {"rank": 8, "alpha": 32, "learning_rate": 3e-3, "use_rslora": False, "rank_pattern": pattern}
    spec = load_spec(MINILM)
    path = tmp_path / "plan.toml"
    args = parser.parse_args(["recommend", "--model", MINILM, "--examples", "100", "--json", "--write", str(path),
                              "--apply-pattern"])
    setup = setup_from_args(args)
    assert cli._print_ladder(args, obj, spec=spec, setup=setup) == 0
    capsys.readouterr()
    plan = read_plan(path)
    assert dict(plan.lora.rank_pattern) == pattern
    patterned = LoraTargets(modules=setup.targets.modules, rank_pattern=pattern)
    assert plan.estimate.trainable_params == trainable_params(spec, patterned, 8) != trainable_params(
        spec, setup.targets, 8)
    config = transformers.AutoConfig.from_pretrained(str(model_folder(MINILM)), num_labels=plan.model.num_labels or 2)
    with torch.device("meta"):
        model = get_peft_model(transformers.AutoModelForSequenceClassification.from_config(config),
                               lora_config(plan, spec))
    ranks = {name.removeprefix("base_model.model."): m.lora_A["default"].out_features
             for name, m in model.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A}
    assert ranks["bert.encoder.layer.0.attention.self.query"] == ranks["bert.encoder.layer.5.attention.self.query"] == 16
    assert ranks["bert.encoder.layer.5.attention.self.value"] == 2
    assert ranks["bert.encoder.layer.4.attention.self.value"] == ranks["bert.encoder.layer.0.output.dense"] == 8
    assert model.get_nb_trainable_parameters()[0] == plan.estimate.trainable_params


@pytest.mark.parametrize(("budget", "longer"), [(None, True), ("2.5", False)])
def test_a_budget_with_room_to_spare_lengthens_the_probes(tiny_llama, lm_data, state_home, monkeypatch, capsys,
                                                           budget, longer):
    """The real ladder data_ladder plans for the tiny Llama on 150 examples (planned run longer than 100
    steps), caught before its probes start: the default budget buys the whole ladder in well under half its
    time, so probes train the planned run's length; 2.5 minutes buy the whole ladder but not within half, so they
    keep the default."""
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend.launch import PROBE_STEPS

    seen = {}
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: seen.setdefault("ladder", ladder)
                        and 0)
    argv = ["--model", str(tiny_llama), "--data", str(lm_data), "--targets", "q_proj,v_proj"]
    rc, cap = recommend(capsys, *argv, *(["--budget-minutes", budget] if budget else []))
    assert rc == 0, cap.err
    spec = seen["ladder"].spec
    assert spec.planned_steps > PROBE_STEPS and spec.refine and spec.extra_learning_rates
    note = next(n for n in spec.notes if n["source"] == "probes")["explanation"]
    if longer:
        assert spec.probe_steps == spec.planned_steps and "room for longer probes than 100" in note
        assert seen["ladder"].plan.steps == spec.probe_steps  # what the probes really train
    else:
        assert spec.probe_steps == PROBE_STEPS and "room for longer" not in note and "--probe-steps up to" in note


def test_a_one_seed_ladder_reports_the_seed_its_probes_train_with(tiny_llama, lm_data, state_home, monkeypatch,
                                                                  capsys):
    """The real ladder data_ladder plans (caught before its probes start): with one seed its probes name none and
    train with the run's, the plan's training.seed (42), and the spec and the JSON say 42, not 0."""
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend.ladder_spec import LadderState
    from lorplan.recommend.measured import recommendation_json

    seen = {}
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: seen.setdefault("ladder", ladder)
                        and 0)
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--targets", "q_proj,v_proj")
    assert rc == 0, cap.err
    ladder = seen["ladder"]
    trained = {p.seed if p.seed is not None else ladder.plan.seed for p in ladder.plan.probes}
    assert trained == {42} and ladder.spec.seeds == (42,)
    assert recommendation_json(ladder.spec, [], LadderState(), run_seed=ladder.plan.seed)["seeds"] == [42]


@pytest.mark.parametrize(("stored", "read"), [([0], [42]), ([42], [42]), ([42, 43], [42, 43])])
def test_a_ladder_folder_written_with_seed_0_reads_as_the_seed_it_trained(state_home, stored, read):
    """Ladders written before the seed was recorded say "seeds": [0] for one seed (ladder.json and
    recommendation.json); their probes trained with the run's seed, and that is what is read back and what the
    driver writes from such a spec. Several seeds are the probes' own and stay as written."""
    from lorplan.probe import runner
    from lorplan.probe.runs import create_run
    from lorplan.recommend.driver import Driver
    from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState

    run = create_run(runner.make_plan((1, 4), seeds=(42,), steps=10, device="cpu"), state_home)
    assert run.plan().seed == 42
    files = LadderFiles(run)
    files.write_spec(LadderSpec(kind="data", model="tiny", spec_source="/nowhere", task="causal-lm",
                                target_modules=("q_proj",), learning_rate=1e-3,
                                data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
                                adapter={"model": "tiny", "targets": "q_proj", "per_rank": 1000, "fixed": 0,
                                         "min_dim": 64},
                                learning_rate_why="test", planned_steps=10, probe_steps=10, seeds=tuple(stored),
                                ranks=(1, 4)))
    files.write_recommendation({"rank": 4, "seeds": stored})
    assert files.recommendation() == {"rank": 4, "seeds": read}
    assert json.loads(files.recommendation_path.read_text())["seeds"] == stored  # the folder is left as it was
    driver = Driver(run)
    driver._write([], LadderState())
    assert json.loads(files.recommendation_path.read_text())["seeds"] == read


def test_the_default_sequence_stays_within_the_context_so_the_written_plan_trains(tmp_path, capsys):
    """gpt2's context is 1,024 tokens: the recommendation is priced there (not at 2,048), and the plan it
    writes is one `lorplan export` (and train) accept."""
    plan_file = tmp_path / "gpt2.toml"
    rc, cap = recommend(capsys, "--model", "gpt2", "--trained-tokens", "5000", "--write", str(plan_file))
    assert rc == 0, cap.err
    assert "× 1,024 tokens" in cap.out and read_plan(plan_file).training.seq_len == 1024
    assert main(["export", str(plan_file), "--to", "peft", "--output", str(tmp_path / "peft")]) == 0


@pytest.mark.parametrize("target", ["data", "empty", "under-a-file", "missing-folder"])
def test_a_write_target_that_cannot_be_written_is_refused_and_the_data_kept(tmp_path, capsys, target):
    """--write naming the --data file (even with --force: the plan would replace the data it was made from), an
    empty name (it used to mean no --write at all: exit 0, nothing written), a folder under a file, a folder
    that does not exist (it was created: a typo made a stray folder)."""
    rows = [{"prompt": f"question {i}?", "completion": " answer " * 5} for i in range(100)]
    data = write_jsonl(tmp_path / "sft.jsonl", rows)
    before = (tmp_path / "sft.jsonl").read_text()
    write, said = {"data": (data, f"--write {data}: that is the --data file"),
                   "empty": ("", "--write: give a file name"),
                   "under-a-file": (f"{data}/plan.toml", f"--write {data}/plan.toml: {data} is a file, not a folder"),
                   "missing-folder": (f"{tmp_path}/typo/plans/plan.toml", f"--write {tmp_path}/typo/plans/plan.toml: "
                                      f"folder {tmp_path}/typo/plans does not exist; create it first"),
                   }[target]
    rc, cap = recommend(capsys, "--model", QWEN, "--data", data, "--probes", "none", "--write", write, "--force")
    assert rc == 2 and said in cap.err and len(cap.err.strip().splitlines()) == 1, cap.err
    assert cap.out == "" and (tmp_path / "sft.jsonl").read_text() == before
    assert main(["plan", "--model", QWEN, "--rank", "8", "--data", data, "--write", write, "--force"]) == 2
    cap = capsys.readouterr()
    assert said in cap.err and (tmp_path / "sft.jsonl").read_text() == before  # lorplan plan --write: the same
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.jsonl"]  # no folder, no plan


def test_the_write_target_is_checked_before_the_ladder_starts(tiny_llama, lm_data, state_home, tmp_path):
    """An existing --write file without --force stops the command before the probe ladder (minutes of probes),
    not after it; nothing is started and the file is kept."""
    existing = tmp_path / "plan.toml"
    existing.write_text("# mine\n")
    argv = [sys.executable, "-m", "lorplan", "recommend", "--model", str(tiny_llama), "--data", str(lm_data),
            "--budget-minutes", "2", "--write", str(existing)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the ladder started: --write was checked only after it")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"lorplan recommend: error: --write {existing}: that file already exists; pass --force to overwrite it"), proc.stderr
    assert existing.read_text() == "# mine\n" and not any(state_home.glob("*/ladder.json"))


@pytest.mark.parametrize(("labels", "num_labels", "head"), [
    ([0, 5], None, 6),  # integer labels are class ids: lorplan train builds a head of the largest + 1
    ([0, 5], "8", 8),  # --num-labels may add classes this file lacks
    (["a", "b", "c"], "5", 5),
    (["a", "b", "c"], None, 3),
    ([0, 5, "spam"], None, 7),  # a name beside integer ids takes the id after the largest: "spam" is 6
])
def test_the_written_head_is_the_head_the_estimate_priced(tmp_path, capsys, labels, num_labels, head):
    """The plan's model.num_labels and its estimate's trainable parameters describe the same classifier head:
    the one --num-labels asks for, else the one the file's labels need."""
    rows = [{"text": f"review {i}", "label": labels[i % len(labels)]} for i in range(300)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    path = tmp_path / "plan.toml"
    extra = ["--num-labels", num_labels] if num_labels else []
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none", "--write", str(path), *extra)
    assert rc == 0, cap.err
    plan = read_plan(path)
    assert plan.model.num_labels == head
    spec = load_spec(MINILM)  # its config's head has 2 outputs
    assert plan.estimate.trainable_params == (trainable_params(spec, LoraTargets(), plan.lora.r) - (384 * 2 + 2)
                                              + 384 * head + head)


@pytest.mark.parametrize(("labels", "num_labels", "needed"), [([0, 5], "3", 6), (["a", "b", "c"], "2", 3)])
def test_num_labels_fewer_than_the_data_needs_is_refused(tmp_path, capsys, labels, num_labels, needed):
    rows = [{"text": f"review {i}", "label": labels[i % len(labels)]} for i in range(300)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none", "--num-labels", num_labels)
    assert rc == 2 and cap.out == ""
    assert cap.err.strip().splitlines() == [f"lorplan recommend: error: --num-labels: {num_labels} is too few for --data {data}, "
                                            f"whose labels need {needed} classes (integer labels are class ids: the "
                                            "largest + 1; names take the ids after them)"]


def test_skipped_rows_of_the_data_are_said(tmp_path, capsys):
    """The profile skips rows it cannot use (README: Dataset profiles); recommend says so instead of quietly
    counting fewer examples (stdout stays the JSON object)."""
    lines = [json.dumps({"prompt": f"question {i}?", "completion": " answer " * 5}) for i in range(100)]
    lines[40] = '{"prompt": "oops", "completion": '
    lines[70] = json.dumps({"prompt": "no completion"})
    data = tmp_path / "sft.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, cap = recommend(capsys, "--model", QWEN, "--data", str(data), "--probes", "none", "--json")
    assert rc == 0, cap.err
    assert json.loads(cap.out)["capacity"]["examples"] == 98
    note = [line for line in cap.err.splitlines() if "skipped" in line]
    assert note == [f"note: --data {data}: 2 rows skipped (the first, line 41: invalid JSON (Expecting value at "
                    f"column 34)); the recommendation counts the 98 usable examples; `lorplan profile --data {data}` "
                    "lists the skipped rows"]


def test_run_that_is_not_there_is_named_as_the_flag(state_home, capsys):
    """--run RUN's errors name --run and the id typed; an empty id is refused instead of matching whatever run
    is alone in the folder; a plain probe run is not a ladder."""
    rc, cap = recommend(capsys, "--run", "nosuch")
    assert rc == 2 and cap.err.strip().splitlines() == [
        f"lorplan recommend: error: --run nosuch: no such probe run; {state_home} holds none yet (lorplan recommend --model M "
        "--data FILE starts a probe ladder)"]
    from lorplan.probe import runner
    from lorplan.probe.runs import create_run

    run = create_run(runner.make_plan((4,), steps=5, device="cpu", run="20261130-100000-abcd"), state_home)
    for typed, said in (("nosuch", "--run nosuch: no such probe run (see lorplan probe list)"),
                        ("", "--run: give a run id"),
                        ("2026", f"--run {run.id}: not a recommend run")):
        rc, cap = recommend(capsys, "--run", typed)
        assert rc == 2 and len(cap.err.strip().splitlines()) == 1 and said in cap.err, (typed, cap.err)


def test_the_probe_lines_tell_the_learning_rate_pass_apart():
    """The lines printed while waiting name each probe's rate at the rank the learning-rate pass tried three
    rates at: when the rate 0.001 finished the ladder's rate was still 0.001, and when 0.003 finished the
    ladder's rate had become 0.003, so neither line used to say its rate (two identical 'rank 4' lines)."""
    from lorplan.cli.recommend import _probe_line

    probes = [{"id": "base", "rank": 0, "lr": 1e-3}, {"id": "r4-lr0.00033", "rank": 4, "lr": 1e-3 / 3},
              {"id": "r4-lr0.001", "rank": 4, "lr": 1e-3}, {"id": "r4-lr0.003", "rank": 4, "lr": 3e-3},
              {"id": "r16", "rank": 16, "lr": 3e-3}]
    for p in probes:
        p.update(state="finished", step=100, curve=[[100, 10.0]], seed=42)
    lines = {p["id"]: _probe_line(p, {"learning_rate": 3e-3, "probes": probes, "seeds": [42]}) for p in probes}
    assert lines["r4-lr0.001"].startswith("  rank 4 lr 0.001: finished")
    assert lines["r4-lr0.003"].startswith("  rank 4 lr 0.003: finished")
    assert lines["r16"].startswith("  rank 16: finished") and lines["base"].startswith("  base: finished")
    # a third of the policy's rate to 3 significant digits, as the ladder table writes it (it said 0.000333333)
    assert lines["r4-lr0.00033"].startswith("  rank 4 lr 0.000333: finished")


def test_the_probe_line_of_the_pattern_check_says_so():
    """The pattern check trains the recommended rank with the per-module pattern: its line is not a second
    'rank 16' (and it does not make the rank's one-rank probe name its rate)."""
    from lorplan.cli.recommend import _probe_line

    probes = [{"id": "r16", "rank": 16, "lr": 3e-3}, {"id": "r16-pattern", "rank": 16, "lr": 3e-3, "pattern": True}]
    for p in probes:
        p.update(state="finished", step=100, curve=[[100, 10.0]], seed=42)
    lines = [_probe_line(p, {"learning_rate": 3e-3, "probes": probes, "seeds": [42]}) for p in probes]
    assert lines == ["  rank 16: finished at step 100, eval loss 10.0000",
                     "  rank 16 with the pattern (its check): finished at step 100, eval loss 10.0000"]


def test_the_probe_line_of_a_second_seed_says_so():
    """A one-seed ladder's last pass trains ranks again with the seed after the plan's: its line is not a second,
    identical 'rank 64' line."""
    from lorplan.cli.recommend import _probe_line

    probes = [{"id": "r64", "rank": 64, "lr": 3e-3, "seed": 42}, {"id": "r64-s1", "rank": 64, "lr": 3e-3, "seed": 43}]
    for p in probes:
        p.update(state="finished", step=100, curve=[[100, 10.0]])
    lines = [_probe_line(p, {"learning_rate": 3e-3, "probes": probes, "seeds": [42]}) for p in probes]
    assert lines == ["  rank 64: finished at step 100, eval loss 10.0000",
                     "  rank 64, second seed (43): finished at step 100, eval loss 10.0000"]


@pytest.mark.parametrize("extra", [["--examples", "100"], ["--data", "DATA", "--probes", "none"]])
def test_num_labels_beyond_the_limit_is_refused(tmp_path, capsys, extra):
    """A typo of a head (100000000 classes would price 38.5 billion parameters) is one line naming the flag,
    with or without --data; the largest allowed head is planned."""
    data = write_jsonl(tmp_path / "cls.jsonl", [{"text": f"t{i}", "label": i % 2} for i in range(100)])
    extra = [data if a == "DATA" else a for a in extra]
    path = tmp_path / "plan.toml"
    rc, cap = recommend(capsys, "--model", MINILM, *extra, "--num-labels", "100000000", "--write", str(path))
    assert rc == 2 and cap.out == "" and not path.exists()
    assert cap.err.splitlines() == ["lorplan recommend: error: --num-labels: 100000000 is more than 1,048,576 classes "
                                    "(lorplan's limit: a head that large is a typo, not a classifier)"]
    rc, cap = recommend(capsys, "--model", MINILM, *extra, "--num-labels", str(1 << 20), "--write", str(path))
    assert rc == 0, cap.err
    assert read_plan(path).model.num_labels == 1 << 20


def test_the_rules_count_one_token_and_one_parameter_in_the_singular(capsys):
    rc, cap = recommend(capsys, "--model", QWEN, "--trained-tokens", "1")
    assert rc == 0, cap.err
    text = " ".join(cap.out.split())  # the evidence wraps
    assert "token rule (rank 1): 1 trained token; repeating the data over epochs" in text
    assert "already covers the 1 parameter this asks for" in text
    assert "1 trained tokens" not in text and "1 parameters" not in text
    rc, cap = recommend(capsys, "--model", MINILM, "--examples", "1")
    assert rc == 0, cap.err
    text = " ".join(cap.out.split())
    assert "data: 1 example is too few to measure anything" in text
    assert "token rule (rank 1): 1 labelled example (one trained label each" in text


def test_the_text_output_keeps_a_hyphenated_model_folder_on_one_line(tmp_path, capsys):
    """A folder such as .../site-packages/... was split at its hyphen by the evidence's wrapping."""
    from importlib import resources

    config = resources.files("lorplan.core.model").joinpath("catalog", "Qwen__Qwen2.5-0.5B-Instruct.json")
    for pad in range(0, 40, 3):
        folder = tmp_path / ("x" * pad) / "my-site-packages" / "qwen-two-half"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(config.read_text(encoding="utf-8"))
        rc, cap = recommend(capsys, "--model", str(folder), "--trained-tokens", "2000000")
        assert rc == 0, cap.err
        mended = re.sub(r"-\n +", "-", cap.out)  # a line broken after a hyphen, mended
        for name, count in ((str(folder), 1), ("on qwen-two-half holds", 1)):  # the headline; the token rule's
            on_one_line = sum(name in line for line in cap.out.splitlines())  # evidence names the folder's name
            assert on_one_line == mended.count(name) == count, (pad, name, cap.out)


def test_a_classifier_plan_written_by_recommend_is_priced_as_lorplan_plan_prices_it(tmp_path, capsys):
    """lorplan train right-pads a classifier's 16 rows per step, so `lorplan plan --write` prices the padding
    mask; `recommend --write` priced the same plan without it (a smaller estimate for the same training)."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    rows = [{"text": " ".join(words[(i + k) % 6] for k in range(3 + i % 20)), "label": i % 3} for i in range(300)]
    data = write_jsonl(tmp_path / "cls.jsonl", rows)
    rc, cap = recommend(capsys, "--model", MINILM, "--data", data, "--probes", "none",
                        "--write", str(tmp_path / "rec.toml"))
    assert rc == 0, cap.err
    rec = read_plan(tmp_path / "rec.toml")
    assert rec.training.micro_batch == 16 and rec.estimate.padding_mask is True
    assert main(["plan", "--model", MINILM, "--rank", str(rec.lora.r), "--seq-len", str(rec.training.seq_len),
                 "--data", data, "--write", str(tmp_path / "plan.toml")]) == 0
    plan = read_plan(tmp_path / "plan.toml")
    assert plan.training.micro_batch == 16 and plan.model.num_labels == rec.model.num_labels == 3
    assert rec.estimate.total_bytes == plan.estimate.total_bytes


def test_the_first_estimate_of_a_cpu_probe_allows_for_the_load(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    """The real ladder data_ladder plans (caught before its probes start) on a CPU kept busy by other work: its
    probes are estimated CpuLoad.slowdown times longer than on an idle one, so the budget buys fewer, and the
    probes' note says what it allowed for (a GPU's probes would not wait on the load; this machine has none)."""
    import lorplan.cli.recommend as cli_recommend
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    plans = {}
    for load in (0.0, 5.1):
        monkeypatch.setattr(launch, "cpu_load", lambda load=load: CpuLoad(2, load))
        monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, load=load, **kw: plans.setdefault(load, ladder)
                            and 0)
        rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--targets", "q_proj,v_proj",
                            "--budget-minutes", "2", "--probe-steps", "20")
        assert rc == 0, cap.err
    idle, busy = ({n["source"]: n["explanation"] for n in plans[x].spec.notes}["probes"] for x in (0.0, 5.1))
    assert "allowing for the load" not in idle and "estimated from the model's size until" in idle, idle
    assert "each (allowing for the load: 2 cores, load 5.1; " in busy, busy
    assert "estimated from the model's size and the load until probes are timed" in busy, busy
    each = [float(re.search(r"probes of about ([\d,.]+) s", t).group(1).replace(",", "")) for t in (idle, busy)]
    assert each[1] == pytest.approx(each[0] * 3.05, abs=1.5), each


def test_run_refuses_setup_flags_by_the_parser_s_defaults_not_copies_of_them(monkeypatch):
    """`--run RUN` refuses a setup flag set away from its default. _check_flags compared with its own copies of the
    defaults ("all-linear", "1", ...): a default changed where it is defined once (cli.plan_args, shared with
    `lorplan plan`) made a bare `--run RUN` refuse the flag nobody typed. Here the defaults drift, and --run
    still refuses only what was typed."""
    from lorplan.cli import build_parser
    from lorplan.cli import recommend as cli_recommend
    from lorplan.core.errors import BadInput

    def drifted(add, **defaults):
        def wrapped(group, *a, **kw):
            add(group, *a, **kw)
            group.set_defaults(**defaults)
        return wrapped

    monkeypatch.setattr(cli_recommend, "add_targets", drifted(cli_recommend.add_targets, targets="attention"))
    monkeypatch.setattr(cli_recommend, "add_quant", drifted(cli_recommend.add_quant, quant="nf4", double_quant=True))
    monkeypatch.setattr(cli_recommend, "add_checkpointing_optimizer",
                        drifted(cli_recommend.add_checkpointing_optimizer, optimizer="sgd", grad_checkpointing=True))
    monkeypatch.setattr(cli_recommend, "add_prepare_kbit",
                        drifted(cli_recommend.add_prepare_kbit, no_prepare_kbit=True))
    monkeypatch.setattr(cli_recommend, "add_gpus_sharding", drifted(cli_recommend.add_gpus_sharding, gpus="2"))
    parser = build_parser()
    cli_recommend._check_flags(parser.parse_args(["recommend", "--run", "x"]))  # nothing typed: nothing refused
    for typed in (["--targets", "all-linear"], ["--quant", "none"], ["--optimizer", "adamw"], ["--gpus", "1"]):
        with pytest.raises(BadInput, match=f"^{typed[0]}: --run RUN re-attaches"):
            cli_recommend._check_flags(parser.parse_args(["recommend", "--run", "x", *typed]))


def test_run_compares_a_typed_flag_s_default_as_parsed(monkeypatch):
    """argparse converts a string default through the flag's type when it parses, while get_default returns the
    string: had --gpus a type (an int, default "1", as --epochs has one), args.gpus would read 1 and its default
    "1", and a bare `--run RUN` refused --gpus nobody typed. The defaults are compared as a parse without flags
    gives them."""
    from lorplan.cli import build_parser
    from lorplan.cli import recommend as cli_recommend
    from lorplan.core.errors import BadInput

    add = cli_recommend.add_gpus_sharding

    def typed(group, *a, **kw):
        add(group, *a, **kw)
        next(act for act in group._group_actions if act.dest == "gpus").type = int

    monkeypatch.setattr(cli_recommend, "add_gpus_sharding", typed)
    parser = build_parser()
    cli_recommend._check_flags(parser.parse_args(["recommend", "--run", "x"]))  # nothing typed: nothing refused
    with pytest.raises(BadInput, match="^--gpus: --run RUN re-attaches"):
        cli_recommend._check_flags(parser.parse_args(["recommend", "--run", "x", "--gpus", "2"]))
