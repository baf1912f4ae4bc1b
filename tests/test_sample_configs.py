"""Every plan in sample_configs/ validates, is what sample_configs/generate.py makes, carries the estimate
that lorplan's memory model (and `lorplan plan`) gives for the same setup today, and either runs as shipped or
says in its first lines what it needs; the README's `lorplan train` example runs."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.lora import trainable_params
from lorplan.core.memory import estimate
from lorplan.core.memory.sweep import peak_moment
from lorplan.core.model import load_spec
from lorplan.core.plan import dumps_plan, loads_plan, plan_to_setup, read_plan

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "sample_configs").glob("*.toml"))
CATALOG = ROOT / "lorplan" / "core" / "model" / "catalog"
STALE = "the memory model changed: run `python sample_configs/generate.py` to refresh the samples"


def generator():
    spec = importlib.util.spec_from_file_location("sample_generate", ROOT / "sample_configs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_at_least_six_samples_and_all_generated():
    assert len(FILES) >= 6
    assert {p.stem for p in FILES} == set(generator().SAMPLES)
    tasks = {read_plan(p).model.task for p in FILES}
    assert tasks == {"causal-lm", "sequence-classification"}
    assert any(read_plan(p).hardware.sharding == "fsdp" for p in FILES)
    assert any(read_plan(p).hardware.gpus == 0 for p in FILES)
    assert any(read_plan(p).quantization.load_in_4bit for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_validates_and_estimate_matches_memory_model(path):
    plan = read_plan(path)  # validates
    source, setup, rank = plan_to_setup(plan)
    spec = load_spec(source)
    mem = estimate(spec, setup, rank)
    est = plan.estimate
    assert est is not None and est.rank == rank
    got = {c: getattr(est, f"{c}_bytes") for c in ("weights", "adapter", "gradients", "optimizer", "activations",
                                                   "overhead", "total")}
    want = {c: getattr(mem, c) for c in ("weights", "adapter", "optimizer", "overhead", "total")}
    pm = peak_moment(spec, setup, rank)  # gradients and activations at the peak moment, as lorplan plan says
    want.update(gradients=pm.gradients, activations=pm.in_step - pm.gradients)
    assert got == want, STALE
    assert est.details["all_gradients"] == mem.gradients, STALE
    assert est.trainable_params == trainable_params(spec, setup.targets, rank), STALE
    if est.budget_bytes is not None:
        assert est.fits == (mem.total <= est.budget_bytes)
        assert est.fits, f"{path.name} is a sample that should fit its card"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_file_is_what_the_generator_writes(path):
    """Same plan as the generator builds today (the finer estimate.details terms may be added to over time)."""
    ours, fresh = read_plan(path), generator().build(path.stem)
    assert replace(ours, estimate=replace(ours.estimate, details={})) == replace(
        fresh, estimate=replace(fresh.estimate, details={})), STALE
    assert loads_plan(dumps_plan(fresh)) == fresh


def cli_args(plan) -> list[str]:
    """`lorplan plan` flags for the same setup. lora.alpha and alpha_pattern have no flag here: they scale the
    adapter's output and change no byte of memory."""
    lo, q, t, hw = plan.lora, plan.quantization, plan.training, plan.hardware
    quant = q.bnb_4bit_quant_type if q.load_in_4bit else ("int8" if q.load_in_8bit else "none")
    args = ["plan", "--model", plan.model.source, "--quant", quant, "--targets", ",".join(lo.target_modules),
            "--ranks", str(lo.r), "--lora-dropout", str(lo.dropout), "--micro-batch", str(t.micro_batch),
            "--seq-len", str(t.seq_len), "--optimizer", t.optimizer, "--attention", t.attention,
            "--gpus", str(max(1, hw.gpus)), "--sharding", hw.sharding, "--base-dtype", t.precision, "--json"]
    if lo.rank_pattern:
        args += ["--rank-pattern", ",".join(f"{k}={v}" for k, v in lo.rank_pattern.items())]
    if lo.layers_to_transform:
        args += ["--layers", ",".join(map(str, lo.layers_to_transform))]
    if lo.modules_to_save:
        args += ["--modules-to-save", ",".join(lo.modules_to_save)]
    if lo.use_dora:
        args.append("--dora")
    e = plan.estimate
    if e.adapter_dtype is not None:
        args += ["--adapter-dtype", e.adapter_dtype]
    if e.kernels is not None:
        args += ["--kernels", e.kernels]
    if e.autocast is False:
        args.append("--no-autocast")
    if q.prepare_kbit is False:
        args.append("--no-prepare-kbit")
    if e.foreach is False:
        args.append("--no-foreach")
    if e.reserve_fraction is not None:
        args += ["--reserve-fraction", repr(e.reserve_fraction)]
    if e.padding_mask:
        args.append("--padding-mask")
    if e.cuda_context_bytes is not None:
        args += ["--cuda-context", f"{e.cuda_context_bytes}B"]
    if q.load_in_4bit and q.bnb_4bit_use_double_quant:
        args.append("--double-quant")
    if t.gradient_checkpointing:
        args.append("--grad-checkpointing")
    if plan.estimate.budget_bytes:
        args += ["--gpu-memory", f"{plan.estimate.budget_bytes}B"]
    return args


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_estimate_matches_lorplan_plan_cli(path, capsys, monkeypatch):
    from lorplan.cli import main

    plan = read_plan(path)
    args = cli_args(plan)
    monkeypatch.setattr(sys, "argv", ["lorplan"])
    assert main(args) in (0, 1), capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    (row,) = out["rows"]
    est = plan.estimate
    assert row["rank"] == est.rank and row["trainable_params"] == est.trainable_params
    for c in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead", "total"):
        assert row["memory"][c] == getattr(est, f"{c}_bytes"), (c, STALE)


def _shipped(plan, path) -> bool:
    """Whether the plan's model and data are on this machine as shipped (model_folder finds the model offline;
    the data is readable with usable rows, found as lorplan train finds it)."""
    from lorplan.core.data import peek_examples
    from lorplan.core.errors import BadInput
    from lorplan.core.model import model_folder
    from lorplan.train.paths import resolve_path

    try:
        model_folder(plan.model.source)
        peek_examples(resolve_path(plan.data.path, str(path)))
    except BadInput:
        return False
    return True


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_runs_as_shipped_or_says_first_what_it_needs(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # data paths are found beside the plan, not in the repository's root
    plan, first = read_plan(path), path.read_text().splitlines()[0]
    if first.startswith("# Runs as shipped"):
        assert _shipped(plan, path), f"{path.name} says it runs as shipped but its model or data is missing"
        assert f"lorplan train sample_configs/{path.name}" in first
        return
    head = "\n".join(path.read_text().splitlines()[:5])
    assert first == f"# Needs before `lorplan train sample_configs/{path.name}`:", first
    assert f"the model {plan.model.id} on this machine" in head
    if plan.data.path in generator().SHIPPED_DATA:  # the model alone is the user's to fetch
        assert f"({plan.data.path} ships beside it" in head and "your data" not in head
        from lorplan.core.data import peek_examples
        from lorplan.train.paths import resolve_path

        peek_examples(resolve_path(plan.data.path, str(path)))  # found beside the plan, rows usable
    else:
        assert f"your data at {plan.data.path}" in head
    if plan.hardware.gpus:
        assert "CUDA GPU" in head


@pytest.mark.parametrize(("data", "rows"), [("SENTIMENT", "sentiment_rows"), ("ARITHMETIC", "arithmetic_rows")])
def test_shipped_data_is_what_the_generator_writes(data, rows):
    gen = generator()
    lines = (ROOT / "sample_configs" / getattr(gen, data)).read_text().splitlines()
    assert [json.loads(line) for line in lines] == getattr(gen, rows)(), "run `python sample_configs/generate.py`"


def test_a_causal_lm_sample_trains_on_the_shipped_prompt_completion_data():
    """The causal-LM flow (profile, recommend --data, train) has data to try: a plan of a catalog model reads it."""
    gen = generator()
    lm = [read_plan(p) for p in FILES if read_plan(p).data.path == gen.ARITHMETIC]
    assert lm and all(p.model.task == "causal-lm" and p.data.schema == "prompt-completion" for p in lm)
    assert all((CATALOG / f"{p.model.id.replace('/', '__')}.json").is_file() for p in lm)


def test_lorplan_profile_reads_the_causal_lm_sample_data_offline(tmp_path, monkeypatch, capsys):
    """`lorplan profile --data sample_configs/data/arithmetic.jsonl`, as README shows it, with no network."""
    from lorplan.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    data = ROOT / "sample_configs" / generator().ARITHMETIC
    assert main(["profile", "--data", str(data), "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["schema"] == "prompt-completion" and profile["examples"] == 200
    assert profile["duplicates"] == 0 and 0 < profile["trained_tokens"] < profile["tokens"]


def test_at_least_one_sample_runs_as_shipped():
    shipped = [p for p in FILES if p.read_text().startswith("# Runs as shipped")]
    assert [p.stem for p in shipped] == sorted(generator().RUNS_AS_SHIPPED)


def test_the_readme_train_example_runs_as_shipped(tmp_path, monkeypatch, capsys):
    """The command the README's Training section shows, cut short with --max-steps on the CPU."""
    from lorplan.cli import main

    readme = (ROOT / "README.md").read_text()
    training = readme[readme.index("### Training"):]
    (command,) = re.findall(r"^\$ (lorplan train \S+)$", training[: training.index("```", training.index("```") + 3)],
                            re.MULTILINE)
    sample = ROOT / command.split()[-1]
    assert sample in FILES and sample.read_text().startswith("# Runs as shipped"), command
    monkeypatch.chdir(tmp_path)  # as a user who cloned the repository elsewhere runs it
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert main(["train", str(sample), "--max-steps", "3", "--output", "run", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()
    assert "eval loss:" in out and "accuracy" in out
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"] == 3
