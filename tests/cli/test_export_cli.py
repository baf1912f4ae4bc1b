"""`lorplan export` never writes over what the export is made from: the plan file, or the data it trains on."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main


def _plan(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(30)))
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", str(data),
                 "--write", str(plan)]) == 0
    return plan, data


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("to", ["axolotl", "llamafactory", "accelerate"])
def test_an_export_onto_its_own_plan_or_data_is_refused_even_with_force(tmp_path, capsys, to, force):
    """`-o plan.toml --force` replaced the plan with the YAML export (and -o train.jsonl the data); without
    --force the error said to pass --force."""
    plan, data = _plan(tmp_path)
    before = plan.read_bytes(), data.read_bytes()
    capsys.readouterr()
    assert main(["export", str(plan), "--to", to, "-o", str(plan), *force]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan export: error: -o {plan}: that is the plan file; writing "
                                               "the export there would replace your plan")
    assert main(["export", str(plan), "--to", to, "-o", str(data), *force]) == 2
    assert capsys.readouterr().err.strip() == (f"lorplan export: error: -o {data}: that is the plan's data.path; "
                                               "writing the export there would replace your data")
    assert (plan.read_bytes(), data.read_bytes()) == before
