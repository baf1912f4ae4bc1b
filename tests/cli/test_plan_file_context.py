"""A hand-edited plan whose training.seq_len is beyond its model's context is refused by `lorplan train` and
`lorplan export` with the words `lorplan plan` uses (core.memory.bounds.check_context, naming the plan's keys),
unless its model.rope_scaling reaches that length: one line, exit 2, and train refuses before importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lorplan.cli import main

PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', sys.argv[1]]); "
         "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules}))")
QWEN = "Qwen/Qwen2.5-7B-Instruct"  # context 32,768, RoPE


def _plan(tmp_path: Path, model: str, seq_len: int, rope: float | None = None, name: str = "plan.toml") -> Path:
    """A plan written by `lorplan plan`, then edited by hand: seq_len (and rope_scaling) changed."""
    plan = tmp_path / name
    assert main(["plan", "--model", model, "--rank", "8", "--write", str(plan), "--force"]) == 0
    text = plan.read_text()
    line = next(x for x in text.splitlines() if x.startswith("seq_len = "))
    text = text.replace(line, f"seq_len = {seq_len}", 1)
    if rope is not None:
        text = text.replace("[model]\n", f"[model]\nrope_scaling = {rope}\n", 1)
    plan.write_text(text)
    return plan


def _train_in_child(plan: Path, cwd: Path) -> tuple[dict, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cwd / "hf")}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plan)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_train_refuses_a_seq_len_beyond_the_shipped_minilms_context_before_torch(tmp_path, capsys):
    plan = _plan(tmp_path, "all-MiniLM-L6-v2", 1024)
    capsys.readouterr()
    got, err = _train_in_child(plan, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False}
    assert err.strip() == (f"lorplan train: error: {plan}: training.seq_len = 1024 is beyond "
                           "sentence-transformers/all-MiniLM-L6-v2's context of 512 tokens (learned position "
                           "embeddings, max_position_embeddings); use sequences of at most that length")
    assert not (tmp_path / "outputs").exists()
    # the same words `lorplan plan` prints for the flag
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--seq-len", "1024"]) == 2
    assert "--seq-len 1024 is beyond sentence-transformers/all-MiniLM-L6-v2's context of 512 tokens (learned " \
           "position embeddings, max_position_embeddings); use sequences of at most that length" in \
           capsys.readouterr().err


def _rope_folder(tmp_path: Path) -> Path:
    """A local Llama-style model folder (config.json, and the file names train looks for)."""
    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
        "max_position_embeddings": 128, "tie_word_embeddings": False}))
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).write_text("")
    return folder


def test_train_allows_it_with_rope_scaling_and_refuses_beyond_the_factor(tmp_path, capsys):
    folder = _rope_folder(tmp_path)
    plan = _plan(tmp_path, str(folder), 512)
    capsys.readouterr()
    got, err = _train_in_child(plan, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert err.strip() == (f"lorplan train: error: {plan}: training.seq_len = 512 is beyond {folder}'s context of 128 "
                           "tokens (max_position_embeddings); shorten the sequences, or extend RoPE with "
                           "model.rope_scaling = 4 (linear position interpolation, which the plan and its exports "
                           "carry)")
    short = _plan(tmp_path, str(folder), 512, rope=2.0, name="short.toml")
    got, err = _train_in_child(short, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert "training.seq_len = 512 is beyond 256 tokens" in err and "model.rope_scaling = 2" in err
    # with a factor that reaches 512 the context check passes: the next check (the placeholder data path) speaks
    ok = _plan(tmp_path, str(folder), 512, rope=4.0, name="ok.toml")
    got, err = _train_in_child(ok, tmp_path)
    assert got["rc"] == 2 and "data.path" in err and "seq_len" not in err and "context" not in err


def test_export_refuses_the_same_plan_and_writes_it_with_rope_scaling(tmp_path, capsys):
    plan = _plan(tmp_path, QWEN, 40000)
    capsys.readouterr()
    out = tmp_path / "axolotl.yaml"
    assert main(["export", str(plan), "--to", "axolotl", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"lorplan export: error: {plan}: training.seq_len = 40000 is beyond {QWEN}'s context of "
                           "32,768 tokens (max_position_embeddings); shorten the sequences, or extend RoPE with "
                           "model.rope_scaling = 2 (linear position interpolation, which the plan and its exports "
                           "carry)")
    assert not out.exists()
    allowed = _plan(tmp_path, QWEN, 40000, rope=2.0, name="allowed.toml")
    assert main(["export", str(allowed), "--to", "axolotl", "-o", str(out)]) == 0
    assert "factor: 2.0" in out.read_text()


def test_export_refuses_rope_scaling_on_learned_positions(tmp_path, capsys):
    plan = _plan(tmp_path, "gpt2", 2048, rope=2.0)
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan export: error: {plan}: model.rope_scaling: openai-community/gpt2 has learned position "
                   "embeddings (1,024 rows), not RoPE; its sequences cannot be longer than 1,024 tokens")
    assert not (tmp_path / "peft").exists()


def test_export_of_a_model_this_machine_cannot_read_says_it_was_not_checked(tmp_path, capsys):
    plan = _plan(tmp_path, QWEN, 4096)
    text = plan.read_text().replace(f'id = "{QWEN}"', 'id = "someone/not-a-known-model-7b"')
    plan.write_text(text)
    out = tmp_path / "axolotl.yaml"
    assert main(["export", str(plan), "--to", "axolotl", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: training.seq_len and the LoRA targets not checked against the model: " in err
    assert out.exists()
