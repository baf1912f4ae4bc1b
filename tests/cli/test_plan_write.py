"""`lorplan plan … --rank R --write PLAN.toml`: the written plan carries what `lorplan plan --json` prints."""

from __future__ import annotations

import json

from lorplan.cli import main
from lorplan.core.memory import estimate
from lorplan.core.model import load_spec
from lorplan.core.plan import plan_to_setup, read_plan

FLAGS = ["--model", "meta-llama/Llama-3.1-8B", "--quant", "nf4", "--double-quant", "--targets", "attention",
         "--grad-checkpointing", "--micro-batch", "2", "--seq-len", "1024", "--gpu-memory", "24GiB"]


def test_write_matches_json_and_never_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "plan.toml"
    assert main(["plan", *FLAGS, "--rank", "16", "--alpha", "16", "--data", "d.jsonl", "--write", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    plan = read_plan(path)
    assert plan.model.id == "meta-llama/Llama-3.1-8B" and plan.model.path is None
    assert (plan.lora.r, plan.lora.alpha) == (16, 16)
    assert plan.lora.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj")
    assert plan.quantization.load_in_4bit and plan.quantization.bnb_4bit_use_double_quant
    assert plan.training.micro_batch == 2 and plan.training.seq_len == 1024
    assert plan.training.gradient_checkpointing and plan.data.path == "d.jsonl"
    assert main(["plan", *FLAGS, "--ranks", "16", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    est = plan.estimate
    assert est.trainable_params == row["trainable_params"]
    for c in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead", "total"):
        assert getattr(est, f"{c}_bytes") == row["memory"][c], c
    assert est.budget_bytes == 24 * 2**30 and est.fits == row["fits"]
    source, setup, rank = plan_to_setup(plan)  # and back: the plan prices the same step
    assert estimate(load_spec(source), setup, rank).total == est.total_bytes

    before = path.read_text()
    assert main(["plan", *FLAGS, "--rank", "8", "--write", str(path)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert path.read_text() == before
    assert main(["plan", *FLAGS, "--rank", "8", "--write", str(path), "--force"]) == 0
    assert read_plan(path).lora.r == 8 and read_plan(path).lora.alpha == 16  # alpha defaults to 2·rank


def test_write_needs_rank_and_a_numeric_alpha(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "p.toml"
    assert main(["plan", *FLAGS, "--ranks", "8,16", "--write", str(path)]) == 2
    assert "--rank" in capsys.readouterr().err
    assert main(["plan", *FLAGS, "--rank", "8", "--alpha", "lots", "--write", str(path)]) == 2
    assert "--alpha: 'lots' is not a number" in capsys.readouterr().err
    assert not path.exists()


def test_train_on_all_reaches_the_plan_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    default, everything = tmp_path / "default.toml", tmp_path / "all.toml"
    assert main(["plan", *FLAGS, "--rank", "8", "--write", str(default)]) == 0
    assert main(["plan", *FLAGS, "--rank", "8", "--train-on", "all", "--write", str(everything)]) == 0
    assert read_plan(default).data.train_on == "completion"
    assert read_plan(everything).data.train_on == "all"
    assert 'train_on = "all"' in everything.read_text()
