"""`lorplan plan` plans an attention the model's transformers class implements (core.model.attention): without
--attention a Gemma 2 plan takes eager (transformers 5's Gemma2ForCausalLM has no SDPA, lorplan's default), says
why in one note and prices eager's seq-len x seq-len probabilities; an explicit --attention the model lacks (sdpa
on Gemma 2, flash on the multimodal Gemma 3) is refused in one line, as is a plan file asking for it (lorplan
export and train, core.plan.context)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.vocab import Attention

GEMMA2, GEMMA3 = "google/gemma-2-9b", "google/gemma-3-4b-it"
SDPA, EAGER, FLASH = Attention.SDPA.value, Attention.EAGER.value, Attention.FLASH.value


def _json(capsys, *flags) -> dict:
    assert main(["plan", *flags, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_gemma2_without_attention_plans_eager_and_says_why(capsys):
    assert main(["plan", "--model", GEMMA2, "--ranks", "16", "--seq-len", "4096"]) == 0
    out = capsys.readouterr().out
    assert f", {EAGER}, checkpointing" in out, out
    notes = [line for line in out.splitlines() if line.startswith(f"note: --attention {EAGER}: ")]
    assert len(notes) == 1 and "Gemma2ForCausalLM" in notes[0], out
    got = _json(capsys, "--model", GEMMA2, "--ranks", "16", "--seq-len", "4096")
    assert any(n.startswith(f"--attention {EAGER}: ") for n in got["notes"]), got["notes"]
    # the estimate is eager's: the same as asked for by name, and more than flash-attention's (no s x s scores)
    same = _json(capsys, "--model", GEMMA2, "--ranks", "16", "--seq-len", "4096", "--attention", EAGER)
    flash = _json(capsys, "--model", GEMMA2, "--ranks", "16", "--seq-len", "4096", "--attention", FLASH)
    total = got["rows"][0]["memory"]["total"]
    assert total == same["rows"][0]["memory"]["total"]
    assert total > flash["rows"][0]["memory"]["total"] + 4096**2 * 42  # at least a byte per score and layer
    assert not any(n.startswith("--attention") for n in same["notes"] + flash["notes"])


def test_a_model_with_sdpa_keeps_it_without_a_note(capsys):
    got = _json(capsys, "--model", "Qwen/Qwen3-0.6B", "--ranks", "8")
    assert got["setup"]["attention"] == SDPA
    assert not any(n.startswith("--attention") for n in got["notes"])


@pytest.mark.parametrize(("model", "attention", "cls", "supported"),
                         [(GEMMA2, SDPA, "Gemma2ForCausalLM", f"{EAGER}, {FLASH}"),
                          (GEMMA3, FLASH, "Gemma3ForConditionalGeneration", f"{SDPA}, {EAGER}")])
def test_an_attention_the_model_lacks_is_refused(capsys, tmp_path, model, attention, cls, supported):
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", model, "--rank", "8", "--attention", attention, "--write", str(plan)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan plan: error: --attention {attention}: {model} ({cls}) does not implement {attention} "
                   f"attention in transformers; it supports {supported}"), err
    assert not plan.exists()


def _edited_plan(tmp_path: Path, model: str, attention: str) -> Path:
    plan = tmp_path / f"{attention}.toml"
    assert main(["plan", "--model", model, "--rank", "8", "--write", str(plan)]) == 0
    text = plan.read_text()
    line = next(x for x in text.splitlines() if x.startswith("attention = "))
    plan.write_text(text.replace(line, f'attention = "{attention}"', 1))
    return plan


def test_the_written_gemma2_plan_says_eager(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", GEMMA2, "--rank", "8", "--write", str(plan)]) == 0
    captured = capsys.readouterr()
    assert f'attention = "{EAGER}"' in plan.read_text().splitlines()
    assert f"note: --attention {EAGER}: " in captured.err, captured


def test_a_plan_file_asking_for_an_attention_the_model_lacks_is_refused(tmp_path, capsys):
    plan = _edited_plan(tmp_path, GEMMA2, SDPA)
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "axolotl", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f'lorplan export: error: {plan}: training.attention = "{SDPA}": {GEMMA2} (Gemma2ForCausalLM) '
                   f"does not implement {SDPA} attention in transformers; it supports {EAGER}, {FLASH}: set "
                   f'training.attention = "{EAGER}" (or lorplan plan --attention {EAGER})'), err
    assert not (tmp_path / "out").exists()
    ok = _edited_plan(tmp_path, GEMMA2, FLASH)
    assert main(["export", str(ok), "--to", "axolotl", "-o", str(tmp_path / "out2")]) == 0


def test_recommend_says_the_eager_it_writes_for_gemma2(tmp_path, capsys):
    # 03febc3 made `lorplan recommend --write` write eager for Gemma 2 without a word (recommend has no
    # --attention flag, so the note names none); a model with SDPA gets no note
    plan = tmp_path / "rec.toml"
    assert main(["recommend", "--model", GEMMA2, "--trained-tokens", "1000000", "--write", str(plan)]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith(f"note: {EAGER} attention: ")]
    assert len(notes) == 1 and "Gemma2ForCausalLM" in notes[0] and "--attention" not in notes[0], err
    assert notes[0].endswith("the probes and a written plan use it"), err
    assert f'attention = "{EAGER}"' in plan.read_text().splitlines()
    assert main(["recommend", "--model", "Qwen/Qwen3-0.6B", "--trained-tokens", "1000000"]) == 0
    assert "attention" not in capsys.readouterr().err
