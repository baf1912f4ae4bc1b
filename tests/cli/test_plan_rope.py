"""--rope-scaling travels: the plan file carries it (validated), the exports set it or say what to do, and the
plan's command line and setup read it back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export import export_plan
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import load_spec
from lorplan.core.plan import plan_from_setup, read_plan, write_plan
from lorplan.core.plan.build import plan_to_setup
from lorplan.core.plan.command import command_for

QWEN_INSTRUCT = "Qwen/Qwen2.5-7B-Instruct"


def test_plan_file_and_exports_carry_rope_scaling(tmp_path, capsys):
    path = tmp_path / "long.toml"
    assert main(["plan", "--model", QWEN_INSTRUCT, "--seq-len", "40000", "--rope-scaling", "2", "--rank", "8",
                 "--write", str(path)]) == 0
    capsys.readouterr()
    plan = read_plan(path)
    assert plan.model.rope_scaling == 2.0 and "rope_scaling = 2.0" in path.read_text()
    _source, setup, rank = plan_to_setup(plan)
    assert setup.rope_scaling == 2.0 and setup.seq_len == 40000 and rank == 8
    axolotl = export_plan(plan, "axolotl")
    text = next(iter(axolotl.files.values()))
    assert "overrides_of_model_config:\n  rope_scaling:\n    type: linear\n    factor: 2.0" in text
    factory = export_plan(plan, "llamafactory")
    assert "\nrope_scaling: linear\n" in next(iter(factory.files.values()))
    assert any("sets the factor itself" in w for w in factory.warnings)
    peft = export_plan(plan, "peft")
    assert any("'rope_type': 'linear', 'factor': 2.0" in w for w in peft.warnings)
    assert "LORPLAN_WARNINGS.txt" in peft.files
    assert not any("rope" in w.lower() for w in export_plan(replace(plan, model=replace(plan.model, rope_scaling=None)),
                                                            "peft").warnings)


def test_command_line_reads_back(capsys):
    spec = load_spec(QWEN_INSTRUCT)
    setup = TrainingSetup(seq_len=40000, rope_scaling=2.0)
    line = command_for(QWEN_INSTRUCT, setup, (8,))
    assert "--rope-scaling 2.0" in line
    assert main(line.split()[1:] + ["--json"]) == 0
    assert '"rope_scaling": 2.0' in capsys.readouterr().out
    assert plan_from_setup(spec, setup, 8).model.rope_scaling == 2.0


@pytest.mark.parametrize("factor", [0.5, 1.0, 100.0])
def test_plan_file_rejects_a_bad_factor(tmp_path, factor):
    plan = plan_from_setup(load_spec(QWEN_INSTRUCT), TrainingSetup(), 8)
    with pytest.raises(BadInput, match="model.rope_scaling: must be a factor above 1 and at most 64"):
        write_plan(replace(plan, model=replace(plan.model, rope_scaling=factor)), tmp_path / "bad.toml")
    path = write_plan(plan, tmp_path / "plan.toml")
    path.write_text(path.read_text().replace('task = "causal-lm"\n', f'task = "causal-lm"\nrope_scaling = {factor}\n'))
    with pytest.raises(BadInput, match="model.rope_scaling: must be a factor above 1 and at most 64"):
        read_plan(path)
