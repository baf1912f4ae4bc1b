"""The shipped causal-LM sample, sample_configs/smollm2-135m-arithmetic-cpu.toml, trained as the README tells a
user once the model is on disk: copied with its data, [model] pointed at a local folder (here a tiny Llama from
a config with MiniLM's tokenizer), `lorplan train` through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import AutoTokenizer

from lorplan.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SAMPLE = SAMPLES / "smollm2-135m-arithmetic-cpu.toml"


def _copied_sample(tmp_path: Path, model: Path) -> Path:
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLES / "data" / "arithmetic.jsonl", tmp_path / "data" / "arithmetic.jsonl")
    text = SAMPLE.read_text(encoding="utf-8")
    assert 'id = "HuggingFaceTB/SmolLM2-135M-Instruct"' in text and "eval_split = 0.1" in text
    text = text.replace('id = "HuggingFaceTB/SmolLM2-135M-Instruct"', f"path = {json.dumps(str(model))}")
    plan = tmp_path / "sample.toml"
    plan.write_text(text.replace("eval_split = 0.1", "eval_split = 0.0"), encoding="utf-8")
    return plan


def _completion_tokens(model: Path, rows: list[dict]) -> int:
    """Tokens with loss, counted here with the tokenizer: the completion's and the closing [SEP] (MiniLM's
    tokenizer frames a text as [CLS] ... [SEP]; the prompt's own [SEP] is not in the joined text)."""
    tok = AutoTokenizer.from_pretrained(model)
    total = 0
    for r in rows:
        joined = tok(r["prompt"] + r["completion"])["input_ids"]
        prompt = tok(r["prompt"])["input_ids"][:-1]
        assert joined[: len(prompt)] == prompt
        total += len(joined) - len(prompt)
    return total


def test_the_cpu_sample_trains_with_its_completions_masked_and_a_cpu_memory_report(tiny_llama, tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = _copied_sample(tmp_path, tiny_llama)
    assert main(["train", str(plan), "--max-steps", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "data" / "arithmetic.jsonl").read_text().splitlines()]
    trained = _completion_tokens(tiny_llama, rows)
    assert 0 < trained < sum(len(r["prompt"]) for r in rows) / 4  # the prompts are masked: far fewer
    # 2 steps of 8 rows: a trial, which trained on 16 of the epoch's sequences, not on all of them
    assert (f"trained on 16 of an epoch's 200 sequences (2 steps, 0.08 epoch); {trained:,} tokens with loss per "
            "epoch (data.train_on = 'completion')") in out
    result = json.loads((tmp_path / "outputs" / "smollm2-135m-arithmetic-cpu" / "result.json").read_text())
    assert (result["train_examples"], result["trained_tokens"]) == (200, trained)
    # the sample is a CPU plan (hardware.gpus 0, estimate.kernels cpu): no GPU or CUDA context to explain
    memory = [line for line in out.splitlines() if line.startswith(("peak memory", "planned:"))]
    assert memory[0].startswith("peak memory (CPU RSS): ") and "GPU" not in memory[0]
    assert "adds an allocator reserve of " in memory[1] and "CUDA" not in memory[1]
