"""Every command output shown in README.md is what the code prints today (tests/readme_outputs.py runs them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).with_name("readme_outputs.py")
_SPEC = importlib.util.spec_from_file_location("readme_outputs", _PATH)
readme_outputs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(readme_outputs)


def test_readme_outputs_are_what_the_commands_print():
    text = readme_outputs.README.read_text()
    assert readme_outputs.unmarked_command_blocks(text) == []
    marked = [b for b in readme_outputs.blocks(text) if b[0] != "not-checked"]
    assert len(marked) >= 4  # the plan table, the planner's screen, --write, a broken plan's errors
    new = readme_outputs.generated(text)
    drift = [line for line in set(new.splitlines()) ^ set(text.splitlines())]
    assert new == text, f"README.md drifted (python tests/readme_outputs.py --write): {sorted(drift)[:6]}"


def test_a_drifted_or_unmarked_block_is_caught():
    old = "<!-- output: lorplan plan --model gpt2 --ranks 8 -->\n```console\n$ lorplan plan --model gpt2 --ranks 8\nstale\n```"
    ((kind, command, first, end),) = readme_outputs.blocks(old)
    assert (kind, command) == ("output", "lorplan plan --model gpt2 --ranks 8")
    new = readme_outputs.generated(old)
    assert "stale" not in new and "openai-community/gpt2" in new and new.endswith("```")
    assert readme_outputs.unmarked_command_blocks("text\n```console\n$ lorplan train x.toml\n```\n") == [2]
    assert readme_outputs.unmarked_command_blocks("<!-- not-checked: why -->\n```console\n$ lorplan x\n```") == []


def test_commands_wrap_between_flags_and_values():
    lines = readme_outputs.command_lines("lorplan plan --model meta-llama/Llama-3.1-8B --quant nf4 --double-quant "
                                         "--grad-checkpointing --gpu-memory 24GiB --rank 16 --alpha 32 --data "
                                         "data/train.jsonl --write llama-qlora.toml")
    assert all(len(line) <= readme_outputs.WIDTH for line in lines) and len(lines) == 2
    assert lines[0].endswith(" \\") and lines[1].startswith("      --gpu-memory 24GiB")
