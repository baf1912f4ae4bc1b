"""Every flag `lorplan recommend`'s memory verdict names works on `lorplan recommend`.

The verdict (recommend.fit.price_fit, from core.memory.report.fit_hints) says "it fits with --grad-checkpointing
--no-prepare-kbit" or "--gpus 4 --sharding zero3 ...", but recommend took no --no-prepare-kbit, --gpus or
--sharding (they were `lorplan plan`'s alone): a user who added the flags to the command got an argparse error.
Each case here is a real catalog model whose verdict names one of those flags; the suggested command line is run
as it is printed and must parse and price the remedy's figure. --write carries them into the plan file."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan

GiB = 1024**3
QWEN3_MOE = ("--model", "Qwen/Qwen3-30B-A3B", "--quant", "nf4")

# (the recommend flags, a flag the verdict must name): Qwen3-30B-A3B's fused experts stay unquantized and are
# up-cast to fp32; at 64 GiB only its attention projections fit (500k tokens: rank 1 on all-linear targets and on
# attention alone, so the suggested command prices the same rank); Mixtral on 8 GPUs defaults to ddp, so ZeRO-3
# over them; a 70B on one 24 GiB card needs more GPUs.
CASES = (
    ((*QWEN3_MOE, "--gpu-memory", "70GiB", "--trained-tokens", "1M"), "--no-prepare-kbit"),
    ((*QWEN3_MOE, "--gpu-memory", "64GiB", "--trained-tokens", "500k"), "--targets attention"),
    (("--model", "mistralai/Mixtral-8x7B-v0.1", "--gpus", "8", "--gpu-memory", "80GiB", "--trained-tokens", "1M"),
     "--sharding zero3"),
    (("--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu-memory", "24GiB", "--trained-tokens", "1M"), "--gpus "),
)


def recommend_json(capsys, *argv) -> dict:
    rc = main(["recommend", *argv, "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return json.loads(cap.out)


def recommend_options() -> set[str]:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    from lorplan.cli import recommend

    recommend.register(sub)
    return set(sub.choices["recommend"]._option_string_actions)


@pytest.mark.parametrize(("argv", "flag"), CASES, ids=[c[1].strip() for c in CASES])
def test_the_suggested_command_parses_and_prices_the_verdicts_figure(capsys, argv, flag):
    out = recommend_json(capsys, *argv)
    fit = out["fits"]
    assert fit["fits"] is False
    works = [r for r in fit["remedies"] if r["fits"]]
    named = [r for r in works if flag in r["change"]]
    assert named, fit["explanation"]
    assert all(r["change"] in fit["explanation"] for r in works)  # what the verdict says is what is run here
    known = recommend_options()
    for remedy in works:
        words = remedy["change"].split()
        assert {w for w in words if w.startswith("--")} <= known, remedy["change"]
        again = recommend_json(capsys, *argv, *words)
        assert again["fits"]["rank"] == fit["rank"], remedy["change"]
        assert again["fits"]["total_bytes"] == remedy["total_bytes"], remedy["change"]
        assert again["fits"]["fits"] is True, remedy["change"]


def test_attention_targets_recommend_the_rank_anew(capsys):
    """At 1M tokens attention-only targets hold fewer parameters per rank unit than all-linear, so the prior's rank
    goes from 1 to 2: the verdict says the rank is recommended anew with that remedy, and the suggested command
    does so, priced (and fitting) at its own rank."""
    argv = (*QWEN3_MOE, "--gpu-memory", "64GiB", "--trained-tokens", "1M")
    fit = recommend_json(capsys, *argv)["fits"]
    works = [r for r in fit["remedies"] if r["fits"]]
    assert [r["change"].split()[:2] for r in works] == [["--targets", "attention"]], works
    assert "so with it the rank is recommended anew" in fit["explanation"]
    again = recommend_json(capsys, *argv, *works[0]["change"].split())
    assert again["rank"] > fit["rank"] and again["target_modules"] != ["all-linear"]
    assert again["fits"]["fits"] is True and again["fits"]["rank"] == again["rank"]
    # a verdict whose remedies leave the targets alone does not say it
    plain = recommend_json(capsys, *QWEN3_MOE, "--gpu-memory", "70GiB", "--trained-tokens", "1M")["fits"]
    assert "recommended anew" not in plain["explanation"]


def test_write_carries_the_gpus_sharding_and_prepare_kbit(tmp_path, capsys):
    path = tmp_path / "plan.toml"
    argv = ("--model", "meta-llama/Llama-3.1-70B-Instruct", "--quant", "nf4", "--gpus", "4", "--sharding", "zero3",
            "--no-prepare-kbit", "--grad-checkpointing", "--gpu-memory", "24GiB", "--trained-tokens", "1M",
            "--write", str(path))
    out = recommend_json(capsys, *argv)
    plan = read_plan(path)
    assert plan.hardware.gpus == 4 and plan.hardware.sharding == "zero3"
    assert plan.quantization.prepare_kbit is False
    assert plan.estimate.total_bytes == out["fits"]["total_bytes"]
    # a ladder's probes are short runs of this plan (probe.plans), each on one GPU, unsharded, as --help says
    from lorplan.probe import runner
    from lorplan.probe.plans import base_plan, plan_settings, probe_plan

    run = runner.make_plan((4, 8), (1e-3,), steps=5, **plan_settings(plan))
    probe = probe_plan(base_plan(run), run, run.probes[0], "cuda")
    assert (probe.hardware.gpus, probe.hardware.sharding) == (1, "none")
    # and skip prepare_model_for_kbit_training as the plan does (lorplan train reads [quantization] prepare_kbit);
    # the base's [estimate], priced for another rank, is not carried into it
    assert probe.quantization.prepare_kbit is False and probe.estimate is None
    # the same setup without the three flags prices more: they reached the figure
    alone = recommend_json(capsys, *argv[:4], "--grad-checkpointing", "--gpu-memory", "24GiB", "--trained-tokens", "1M")
    assert alone["fits"]["total_bytes"] > out["fits"]["total_bytes"]


def test_plan_prices_the_flags_as_recommend_does(capsys):
    """One definition of each flag: `lorplan plan` with the same setup prints the same total."""
    setup = ("--quant", "nf4", "--gpus", "2", "--sharding", "zero3", "--no-prepare-kbit")
    out = recommend_json(capsys, "--model", "Qwen/Qwen3-30B-A3B", *setup, "--gpu-memory", "70GiB",
                         "--trained-tokens", "1M")
    rank = out["rank"]
    rc = main(["plan", "--model", "Qwen/Qwen3-30B-A3B", *setup, "--rank", str(rank), "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert plan["rows"][0]["memory"]["total"] == out["fits"]["total_bytes"]


@pytest.mark.parametrize("flag", (("--gpus", "2"), ("--sharding", "zero3"), ("--no-prepare-kbit",)))
def test_run_refuses_the_setup_flags(capsys, flag):
    """--run RUN re-attaches to a ladder with its own setup: the new flags are refused there as the others are."""
    rc = main(["recommend", "--run", "nosuchrun", *flag])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith(f"lorplan: {flag[0]}: --run RUN re-attaches") or f"{flag[0]}: --run RUN" in err, err


def test_help_says_probes_train_on_one_gpu(capsys):
    with pytest.raises(SystemExit):
        main(["recommend", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--gpus", "--sharding", "--no-prepare-kbit"):
        assert flag in text
    assert "one GPU" in text
    assert "lorplan train and the probes skip that call" in text  # d58eb68: both honour the plan's setting
