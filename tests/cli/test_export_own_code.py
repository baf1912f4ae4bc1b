"""`lorplan export` judges a model outside the fast path by the class the fallback's child builds without the
model's own Python code (trust_remote_code=False: export never runs it). A model whose config.json names code of
its own (auto_map) is then not the class the plan trains, or no class at all:

- the plan says model.trust_remote_code = true: lorplan train and the tools load the model's own class, which
  export did not build; it judged transformers' class of that model_type instead, and refused (or passed) the
  plan's gradient checkpointing and attention by a class the plan never trains. It is now "not checked", as a
  model this machine cannot read is.
- the model_type is one transformers does not know: the warning said "which lorplan runs only when asked:
  --trust-remote-code on the command line", a flag `lorplan export` does not have (and the plan's key would not
  make export run the code either). It now says that export does not run it.

Real tiny CTRL (a class transformers 5 builds without gradient checkpointing) with MiniLM's tokenizer; the
folder's Python files would leave a file behind if anything imported them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

_CODE = 'open(__file__ + ".ran", "w").write("imported")\n'


def _own_code(folder: Path, model_type: str | None = None) -> list[Path]:
    """Give the folder's config.json an auto_map to Python files of its own (and another model_type); the paths
    the files would leave behind if run."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_own.OwnConfig", "AutoModelForCausalLM": "modeling_own.OwnLM"}
    if model_type is not None:
        cfg["model_type"] = model_type
    path.write_text(json.dumps(cfg))
    for name in ("configuration_own.py", "modeling_own.py"):
        (folder / name).write_text(_CODE)
    return [folder / "configuration_own.py.ran", folder / "modeling_own.py.ran"]


def _plan(capsys, ctrl: Path, data: Path, tmp_path: Path, *, trust: bool) -> Path:
    """The plan `lorplan plan` writes for the CTRL, then set to checkpoint (and to trust the model's code)."""
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(ctrl), "--data", str(data), "--rank", "4", "--seq-len", "32",
                      "--write", str(plan))
    assert rc == 0, err
    text = plan.read_text().replace("gradient_checkpointing = false", "gradient_checkpointing = true", 1)
    if trust:
        text = text.replace("trust_remote_code = false", "trust_remote_code = true", 1)
    plan.write_text(text)
    return plan


def _copy(ctrl: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(ctrl, tmp_path / "own"))


def test_a_plan_that_trusts_the_models_code_is_not_judged_by_another_class(tiny_ctrl, prompt_completion_file,
                                                                         tmp_path, capsys):
    """Before: 'lorplan export: error: ... (CTRLLMHeadModel) does not implement gradient checkpointing', the class
    transformers builds for model_type ctrl, while the plan trains the folder's own class."""
    folder = _copy(tiny_ctrl, tmp_path)
    plan = _plan(capsys, folder, prompt_completion_file, tmp_path, trust=True)
    ran = _own_code(folder)
    out = tmp_path / "axolotl.yaml"
    rc, _, err = _run(capsys, "export", str(plan), "--to", "axolotl", "-o", str(out))
    assert rc == 0, err
    assert out.exists() and "gradient_checkpointing: true" in out.read_text()
    assert (f"warning: training.seq_len and the LoRA targets not checked against the model: config.json at "
            f"{folder / 'config.json'}: the plan's model.trust_remote_code = true builds the model with its own "
            "Python code (auto_map in config.json), which lorplan export does not run") in err.splitlines(), err
    assert not any(p.exists() for p in ran)


def test_without_trust_the_transformers_class_is_still_judged(tiny_ctrl, prompt_completion_file, tmp_path, capsys):
    """model.trust_remote_code = false: lorplan train loads transformers' own CTRL class, which cannot checkpoint,
    so the export that writes the setting is refused, as for a folder without auto_map."""
    folder = _copy(tiny_ctrl, tmp_path)
    plan = _plan(capsys, folder, prompt_completion_file, tmp_path, trust=False)
    ran = _own_code(folder)
    rc, _, err = _run(capsys, "export", str(plan), "--to", "axolotl", "-o", str(tmp_path / "axolotl.yaml"))
    assert rc == 2, err
    assert "(CTRLLMHeadModel) does not implement gradient checkpointing in transformers" in err, err
    assert not any(p.exists() for p in ran)


@pytest.mark.parametrize("trust", [False, True])
def test_a_model_type_only_its_own_code_knows_says_export_does_not_run_it(tiny_ctrl, prompt_completion_file,
                                                                         tmp_path, capsys, trust):
    """Before (model.trust_remote_code = false): '... which lorplan runs only when asked: --trust-remote-code on
    the command line, if you trust that code', a flag lorplan export does not have."""
    folder = _copy(tiny_ctrl, tmp_path)
    plan = _plan(capsys, folder, prompt_completion_file, tmp_path, trust=trust)
    ran = _own_code(folder, model_type="lorplan-own-code-only")
    rc, _, err = _run(capsys, "export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft"))
    assert rc == 0, err
    said = [line for line in err.splitlines() if "not checked against the model" in line]
    why = ("the plan's model.trust_remote_code = true builds the model with its own Python code"
           if trust else "the model needs its own Python code")
    assert said == [f"warning: training.seq_len and the LoRA targets not checked against the model: config.json "
                    f"at {folder / 'config.json'}: {why} (auto_map in config.json), which lorplan export does not "
                    "run"], err
    assert "--trust-remote-code" not in err
    assert not any(p.exists() for p in ran)


def test_a_model_type_only_its_own_code_knows_starts_no_child(tiny_ctrl, prompt_completion_file, tmp_path, capsys):
    """Without trust, an auto_map naming an AutoConfig of a model_type transformers does not know is refused by
    transformers' AutoConfig ("contains custom code") whatever else the folder holds: config.json says it, and the
    fallback's child (torch + transformers, about 3.4 s) no longer starts to find it out. Observed for real: a
    `torch` first on PYTHONPATH that leaves a marker when imported (the child imports torch first)."""
    import os
    import subprocess
    import sys

    folder = _copy(tiny_ctrl, tmp_path)
    plan = _plan(capsys, folder, prompt_completion_file, tmp_path, trust=False)
    ran = _own_code(folder, model_type="lorplan-own-code-only")
    stub, marker = tmp_path / "notorch", tmp_path / "torch-imported"
    (stub / "torch").mkdir(parents=True)
    (stub / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'a').write('imported\\n')\nraise ImportError('torch is not here (test)')\n")
    env = {**os.environ, "PYTHONPATH": str(stub), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "lorplan", "export", str(plan), "--to", "peft", "-o",
                           str(tmp_path / "peft")], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), proc.stderr  # no child started (and export itself imported no torch)
    assert (f"warning: training.seq_len and the LoRA targets not checked against the model: config.json at "
            f"{folder / 'config.json'}: the model needs its own Python code (auto_map in config.json), which "
            "lorplan export does not run") in proc.stderr.splitlines(), proc.stderr
    assert not any(p.exists() for p in ran)
    # with an auto_map but no AutoConfig in it, transformers' answer is not that one: the child is asked
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_own.OwnLM"}
    (folder / "config.json").write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "lorplan", "export", str(plan), "--to", "peft", "-o",
                           str(tmp_path / "peft2")], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0 and marker.exists(), proc.stderr
