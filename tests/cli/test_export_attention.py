"""`lorplan export` of a plan whose training.attention its model's transformers class does not implement (a Gemma
2 plan edited to "sdpa": transformers 5's Gemma2ForCausalLM has none) refused every format, even those that
write no attention setting (a peft adapter config, an accelerate config, the Unsloth script, whose library picks
its kernels itself): nothing those files say is wrong for the model. Now a format that writes the attention
(core.export.common.WRITES_ATTENTION) refuses the plan as before, in one line naming it and the fix, and the
others are written with one note saying that lorplan train refuses the plan, and how to mend it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.export import export_plan
from lorplan.core.export.common import WRITES_ATTENTION
from lorplan.core.plan import read_plan
from lorplan.core.vocab import Attention, ExportFormat

GEMMA2 = "google/gemma-2-9b"
SDPA, EAGER, FLASH = Attention.SDPA.value, Attention.EAGER.value, Attention.FLASH.value


def _plan(tmp_path: Path, model: str, attention: str | None = None) -> Path:
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", model, "--rank", "8", "--write", str(plan)]) == 0
    if attention is not None:  # as a hand edit, or a plan written elsewhere, would have it
        text = plan.read_text()
        line = next(x for x in text.splitlines() if x.startswith("attention = "))
        plan.write_text(text.replace(line, f'attention = "{attention}"', 1))
    return plan


@pytest.mark.parametrize("fmt", ExportFormat.values())
def test_only_an_export_that_writes_the_attention_refuses_it(tmp_path, capsys, fmt):
    plan = _plan(tmp_path, GEMMA2, SDPA)
    capsys.readouterr()
    refusal = (f'{plan}: training.attention = "{SDPA}": {GEMMA2} (Gemma2ForCausalLM) does not implement {SDPA} '
               f"attention in transformers; it supports {EAGER}, {FLASH}: set training.attention = \"{EAGER}\" "
               f"(or lorplan plan --attention {EAGER})")
    out = tmp_path / "out"
    rc = main(["export", str(plan), "--to", fmt, "-o", str(out)])
    captured = capsys.readouterr()
    if ExportFormat(fmt) in WRITES_ATTENTION:
        assert rc == 2, captured
        assert captured.err.strip() == f"lorplan export: error: {refusal}", captured.err
        assert not out.exists()
        return
    assert rc == 0, captured.err
    assert out.exists() and captured.out.strip(), captured
    said = [line for line in captured.err.splitlines() if "training.attention" in line]
    assert said == [f"note: --to {fmt} writes no attention setting, so this export is made, but lorplan train "
                    f"refuses the plan: {refusal}"], captured.err


@pytest.mark.parametrize("fmt", ExportFormat.values())
def test_a_plan_the_model_can_train_gets_no_attention_note(tmp_path, capsys, fmt):
    plan = _plan(tmp_path, GEMMA2)  # eager, lorplan plan's default for Gemma 2
    capsys.readouterr()
    assert main(["export", str(plan), "--to", fmt, "-o", str(tmp_path / "out")]) == 0
    assert "training.attention" not in capsys.readouterr().err


def _code(files) -> dict[str, list[str]]:
    """An export's files without their comment lines (the warnings an export writes into its output)."""
    return {name: [line for line in text.splitlines() if not line.lstrip().startswith("#")]
            for name, text in files.items()}


def test_the_formats_that_write_the_attention_are_those_whose_output_changes_with_it(tmp_path):
    plan = read_plan(_plan(tmp_path, "Qwen/Qwen3-0.6B"))
    assert plan.training.attention == SDPA
    eager = replace(plan, training=replace(plan.training, attention=EAGER))
    changed = {fmt for fmt in ExportFormat
               if _code(export_plan(plan, fmt.value).files) != _code(export_plan(eager, fmt.value).files)}
    assert changed == set(WRITES_ATTENTION)
    assert changed and changed != set(ExportFormat)
