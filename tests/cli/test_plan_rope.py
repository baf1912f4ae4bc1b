"""--rope-scaling travels: the plan file carries it (validated), the exports set it or say what to do, and the
plan's command line and setup read it back."""

from __future__ import annotations

import json
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
    assert "\nrope_scaling:" not in next(iter(factory.files.values()))  # its option fails on transformers 5
    assert any('add "rope_scaling": {"rope_type": "linear", "factor": 2.0}' in w for w in factory.warnings)
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


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _chat_file(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i} ", "completion": "a " * (1 + i % 4)}) + "\n"
                            for i in range(20)))
    return str(path)


def test_recommend_takes_the_rope_scaling_its_refusal_suggests_and_writes_it(tmp_path, capsys):
    """recommend refused a --seq-len beyond the context suggesting --rope-scaling, which it did not accept
    (argparse: unrecognized arguments). It takes plan's flag now, checked as plan checks it, and the plan it
    writes (the one its probe ladder's probes are short runs of) carries it."""
    rc, _, err = _run(capsys, "recommend", "--model", QWEN_INSTRUCT, "--trained-tokens", "5000000",
                      "--seq-len", "40000")
    assert rc == 2 and "extend RoPE with --rope-scaling 2" in err
    path = tmp_path / "long.toml"
    rc, out, err = _run(capsys, "recommend", "--model", QWEN_INSTRUCT, "--trained-tokens", "5000000",
                        "--seq-len", "40000", "--rope-scaling", "2", "--write", str(path))
    assert rc == 0, err
    plan = read_plan(path)
    assert (plan.model.rope_scaling, plan.training.seq_len) == (2.0, 40000)
    for argv, same_as_plan in ((["--seq-len", "80000", "--rope-scaling", "2"], "is beyond 65,536 tokens"),
                               (["--rope-scaling", "0.5"], "--rope-scaling must be a factor above 1"),
                               (["--rope-scaling", "two"], "--rope-scaling: 'two' is not a number")):
        rc, _, plan_err = _run(capsys, "plan", "--model", QWEN_INSTRUCT, *argv)
        assert rc == 2 and same_as_plan in plan_err
        rc, _, err = _run(capsys, "recommend", "--model", QWEN_INSTRUCT, "--trained-tokens", "5000000", *argv)
        assert rc == 2 and err == plan_err.replace("lorplan plan:", "lorplan recommend:", 1), argv


def test_profile_takes_rope_scaling_to_count_beyond_the_context(tmp_path, capsys):
    """profile refused --seq-len 40000 on a 32,768-token model suggesting --rope-scaling 2, which it did not
    accept: the lengths a rope-scaled plan trains could not be profiled. It takes the flag, with plan's checks."""
    data = _chat_file(tmp_path)
    rc, _, err = _run(capsys, "profile", "--data", data, "--model", QWEN_INSTRUCT, "--seq-len", "40000")
    assert rc == 2 and "extend RoPE with --rope-scaling 2" in err
    rc, out, err = _run(capsys, "profile", "--data", data, "--model", QWEN_INSTRUCT, "--seq-len", "40000",
                        "--rope-scaling", "2", "--json")
    assert rc == 0, err
    profile = json.loads(out)
    assert profile["seq_len"] == 40000 and not any("beyond" in n for n in profile["notes"])
    rc, _, plan_err = _run(capsys, "plan", "--model", "openai-community/gpt2", "--rope-scaling", "2")
    rc2, _, err = _run(capsys, "profile", "--data", data, "--model", "openai-community/gpt2", "--rope-scaling", "2")
    assert rc == rc2 == 2 and err == plan_err.replace("lorplan plan:", "lorplan profile:", 1) and "learned position embeddings" in err
    rc, _, err = _run(capsys, "profile", "--data", data, "--rope-scaling", "2")
    assert rc == 2 and err.strip() == "lorplan profile: error: --rope-scaling: only with --model (it extends that model's context)"
