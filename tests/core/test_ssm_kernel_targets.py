"""LoRA targets a state-space mixer never runs, and target selections that adapt nothing.

1. peft 0.21 refuses out_proj/conv1d only on its own list of Mamba-based model types (core.lora.PEFT_MAMBA_TYPES).
   transformers 5.25's Bamba, GraniteMoeHybrid and Zamba2 mixers hand `self.out_proj.weight` to mamba_ssm's
   fused training kernel (mamba_split_conv1d_scan_combined) as Mamba2's does, Mamba's hands x_proj's and
   dt_proj's weights to mamba_inner_fn, and Mamba, FalconMamba and Jamba multiply by `self.dt_proj.weight` on
   the PyTorch path too: a LoRA adapter there is accepted by peft and never run (its B gets no gradient), yet
   lorplan's presets adapted them. They are now left out of the presets (core.lora.KERNEL_BYPASSED); naming one
   is a plan note, not a refusal (out_proj trains on the PyTorch path).
2. `--targets out_proj --layers 1 --modules-to-save lm_head` on Bamba (block 1 is attention) selects no LoRA
   module; check_targets let it through because modules_to_save was given, and `lorplan train` ended in peft's
   NoMatchingPeftModuleError traceback (peft refuses a LoRA config that adapts no module, modules_to_save or not).

Real tiny models with random weights, real peft and transformers; the one stand-in is mamba_ssm's CUDA kernel,
which this machine cannot run (its fallback returns None, so the PyTorch path runs instead)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run
from tests.core.test_state_space_models import _IDS, _build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssm_kernel")
    return {kind: _build(kind, root / kind) for kind in ("mamba", "bamba", "mamba2")}


def _mixer_weight_reads(source: str) -> set[str]:
    """The nn.Linear / nn.Conv1d modules whose `.weight` a state-space mixer (a class holding an A_log parameter)
    in `source` reads in a method other than its initialisers; a look at the weight's device, dtype or shape (a
    dispatch test such as `"cuda" in self.in_proj.weight.device.type`) is not a read of its values."""
    found: set[str] = set()
    for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)):
        assigned = {ast.unparse(t): ast.unparse(n.value.func) if isinstance(n.value, ast.Call) else ""
                    for n in ast.walk(cls) if isinstance(n, ast.Assign) for t in n.targets}
        if "self.A_log" not in assigned:
            continue
        modules = {k.removeprefix("self.") for k, v in assigned.items() if v in ("nn.Linear", "nn.Conv1d")}
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and "init" not in n.name):
            metadata = {id(n.value) for n in ast.walk(fn)
                        if isinstance(n, ast.Attribute) and n.attr in ("device", "dtype", "shape")}
            for node in ast.walk(fn):
                if (isinstance(node, ast.Attribute) and node.attr == "weight" and id(node) not in metadata
                        and isinstance(node.value, ast.Attribute) and ast.unparse(node.value.value) == "self"
                        and node.value.attr in modules):
                    found.add(node.value.attr)
    return found


def _weight_reads() -> dict[str, set[str]]:
    """model_type -> _mixer_weight_reads of its modeling files in the installed transformers."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES, model_type_to_module_name

    root = Path(transformers.__file__).parent / "models"
    found: dict[str, set[str]] = {}
    for model_type in CONFIG_MAPPING_NAMES:
        folder = root / model_type_to_module_name(model_type)
        for path in folder.glob("modeling_*.py"):
            text = path.read_text()
            # a file with no A_log has no state-space mixer: not parsed (parsing every model took ~20 s)
            if "A_log" in text and (reads := _mixer_weight_reads(text)):
                found.setdefault(model_type, set()).update(reads)
    return found


def test_the_scan_counts_values_not_a_weights_device_or_dtype():
    """transformers 4's mixers chose their path by `"cuda" in self.x_proj.weight.device.type`: not a bypass, so a
    transformers that tests a device that way again must not fail the table check below."""
    source = (
        "class Mixer(nn.Module):\n"
        "    def __init__(self):\n"
        "        self.A_log = nn.Parameter(torch.ones(2))\n"
        "        self.in_proj = nn.Linear(2, 4)\n"
        "        self.out_proj = nn.Linear(4, 2)\n"
        "    def forward(self, h):\n"
        "        if 'cuda' in self.in_proj.weight.device.type and self.in_proj.weight.dtype != torch.float32:\n"
        "            return kernel(self.in_proj(h), outproj_weight=self.out_proj.weight)\n"
        "        return self.out_proj(self.in_proj(h))\n"
    )
    assert _mixer_weight_reads(source) == {"out_proj"}
    assert _mixer_weight_reads(source.replace("self.A_log", "self.scale")) == set()  # only state-space mixers


def test_the_bypass_table_is_the_installed_transformers():
    """Every linear module a mixer reads as a raw weight is refused by peft or listed as bypassed, and every listed
    one is still read so: a transformers that adds such a mixer (or calls the module again) fails here."""
    from lorplan.core.lora import KERNEL_BYPASSED, PEFT_MAMBA_REFUSED, PEFT_MAMBA_TYPES

    found = _weight_reads()
    assert {"bamba", "granitemoehybrid", "zamba2", "mamba2"} <= set(found)  # the premise: the scan sees the mixers
    for model_type, names in found.items():
        refused = set(PEFT_MAMBA_REFUSED) if model_type in PEFT_MAMBA_TYPES else set()
        assert names - {"conv1d"} <= refused | set(KERNEL_BYPASSED.get(model_type, {})), model_type
    for model_type, names in KERNEL_BYPASSED.items():
        assert set(names) <= found.get(model_type, set()), model_type
        assert not set(names) & (set(PEFT_MAMBA_REFUSED) if model_type in PEFT_MAMBA_TYPES else set()), model_type


def _lora_b_gets_gradient(model, names: list[str]) -> dict[str, bool]:
    """For each leaf name, whether every adapter of that name got a gradient on its B in one training step."""
    import torch
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=names))
    peft_model.train()
    ids = torch.randint(3, 100, (1, 16))
    peft_model(input_ids=ids, labels=ids, use_cache=False).loss.backward()  # as lorplan train runs it
    got: dict[str, bool] = {}
    for path, module in peft_model.named_modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            grad = module.lora_B["default"].weight.grad
            leaf = path.rsplit(".", 1)[-1]
            got[leaf] = got.get(leaf, True) and grad is not None and bool(grad.abs().sum() > 0)
    return got


@pytest.mark.parametrize("kind", ["mamba", "falcon_mamba"])
def test_a_dt_proj_adapter_gets_no_gradient_on_the_pytorch_path(kind):
    """The table's "every device" entries: the mixer multiplies by dt_proj.weight, here on CPU."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    ids = dict(_IDS, vocab_size=100, bos_token_id=1, eos_token_id=2)
    config = (tf.MambaConfig if kind == "mamba" else tf.FalconMambaConfig)(hidden_size=32, state_size=8,
                                                                          num_hidden_layers=2, **ids)
    model = (tf.MambaForCausalLM if kind == "mamba" else tf.FalconMambaForCausalLM)(config)
    assert _lora_b_gets_gradient(model, ["in_proj", "x_proj", "dt_proj"]) == {
        "in_proj": True, "x_proj": True, "dt_proj": False}


def test_bambas_out_proj_trains_on_the_pytorch_path_but_not_through_the_fused_kernel(folders, monkeypatch):
    """On CPU (mamba_ssm absent) the mixer calls out_proj, so its adapter trains: lorplan notes it rather than
    refusing it. With a fused kernel the mixer hands the kernel `self.out_proj.weight` (peft's wrapper answers
    with the base weight) and returns the kernel's output: a stand-in kernel that computes from the weights it is
    given shows the adapter's B gets no gradient there, while in_proj's (called as a module) does."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM
    from transformers.models.bamba import modeling_bamba

    def load():
        torch.manual_seed(0)
        return AutoModelForCausalLM.from_pretrained(folders["bamba"], dtype=torch.float32)

    assert _lora_b_gets_gradient(load(), ["in_proj", "out_proj"]) == {"in_proj": True, "out_proj": True}
    seen = []

    def kernel(zxbcdt, *args, outproj_weight=None, outproj_bias=None, **kwargs):
        seen.append(outproj_weight)
        return F.linear(zxbcdt[..., :outproj_weight.shape[1]], outproj_weight, outproj_bias)

    monkeypatch.setattr(modeling_bamba, "mamba2_split_conv1d_scan_combined", kernel)
    assert _lora_b_gets_gradient(load(), ["in_proj", "out_proj"]) == {"in_proj": True, "out_proj": False}
    assert seen and all(isinstance(w, torch.nn.Parameter) for w in seen)


@pytest.mark.parametrize(("kind", "left_out"), [("bamba", {"out_proj"}), ("mamba", {"x_proj", "dt_proj"})])
def test_the_presets_leave_the_bypassed_modules_out(folders, kind, left_out):
    """Before: Bamba's all-linear adapted out_proj (peft's "all-linear" string), Mamba's x_proj and dt_proj."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorplan.core.lora import (
        LoraTargets,
        model_path,
        peft_target_modules,
        preset_members,
        resolve_targets,
    )
    from lorplan.core.model import load_spec

    spec = load_spec(str(folders[kind]))
    adapted = {m.name for m in resolve_targets(spec, LoraTargets())}
    assert "in_proj" in adapted and not adapted & left_out, adapted
    assert not set(preset_members(spec)["all-linear"]) & left_out
    assert left_out <= {m.name for m in spec.linears}  # the premise: the model has them
    target_modules = peft_target_modules(spec, LoraTargets())
    assert target_modules != "all-linear"  # peft's all-linear would adapt them
    model = AutoModelForCausalLM.from_pretrained(folders[kind], dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=target_modules))
    wrapped = {model_path(n) for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped == {m.path for m in resolve_targets(spec, LoraTargets())}


def _notes(capsys, folder: Path, targets: str) -> list[str]:
    rc, out, err = _run(capsys, "plan", "--model", str(folder), "--rank", "4", "--seq-len", "64", "--targets",
                        targets, "--json")
    assert rc == 0, err
    return json.loads(out)["notes"]


def test_naming_a_bypassed_module_is_planned_with_a_note(folders, capsys):
    notes = [n for n in _notes(capsys, folders["bamba"], "in_proj,out_proj") if "out_proj" in n]
    assert len(notes) == 1, notes
    assert "mamba_ssm" in notes[0] and "PyTorch path" in notes[0], notes
    assert not [n for n in _notes(capsys, folders["bamba"], "in_proj") if "out_proj" in n]
    rc, out, err = _run(capsys, "plan", "--model", str(folders["bamba"]), "--rank", "4", "--seq-len", "64",
                        "--targets", "in_proj,out_proj")
    assert rc == 0 and "out_proj" in out and "mamba_ssm" in out, (out, err)  # the table prints it too


def test_a_bypassed_module_named_by_a_longer_suffix_gets_the_note_too(folders, capsys):
    """--targets takes any dotted suffix of a module's path (mamba.out_proj, layers.0.mamba.out_proj), which adapts
    the same bypassed module: before, only the bare leaf name got the note."""
    for targets, named in (("in_proj,mamba.out_proj", "mamba.out_proj"),
                           ("layers.0.mamba.out_proj", "layers.0.mamba.out_proj"),
                           ("out_proj,mamba.out_proj", "out_proj")):  # one note per module, naming the first
        notes = [n for n in _notes(capsys, folders["bamba"], targets) if "out_proj's weight" in n]
        assert len(notes) == 1 and "mamba_ssm" in notes[0], (targets, notes)
        assert notes[0].startswith(f"--targets {named}: "), notes
    notes = [n for n in _notes(capsys, folders["mamba"], "in_proj,mixer.dt_proj") if "dt_proj" in n]
    assert len(notes) == 1 and "never trains" in notes[0], notes


_EMPTY = ("--targets", "out_proj", "--layers", "1", "--modules-to-save", "lm_head")  # Bamba's block 1 is attention


def _one_line(rc: int, out: str, err: str, *words: str) -> None:
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (rc, out, err)
    assert all(w in err for w in words), err


def test_plan_refuses_targets_that_adapt_nothing_even_with_modules_to_save(folders, capsys, tmp_path,
                                                                           prompt_completion_file):
    """Before: planned and written (check_targets let modules_to_save stand in for the adapted modules)."""
    rc, out, err = _run(capsys, "plan", "--model", str(folders["bamba"]), "--rank", "4", "--seq-len", "32", *_EMPTY)
    _one_line(rc, out, err, "--targets out_proj", "--layers", "peft")
    assert out == ""
    plan = tmp_path / "plan.toml"
    rc, out, err = _run(capsys, "plan", "--model", str(folders["bamba"]), "--data", str(prompt_completion_file),
                        "--rank", "4", "--seq-len", "32", *_EMPTY, "--write", str(plan))
    _one_line(rc, out, err, "--targets out_proj", "--layers")
    assert not plan.exists()


def test_train_refuses_a_plan_whose_targets_adapt_nothing(folders, capsys, tmp_path, prompt_completion_file,
                                                          state_home):
    """Before: `lorplan train` loaded the model and ended in peft's NoMatchingPeftModuleError traceback."""
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(folders["bamba"]), "--data", str(prompt_completion_file),
                      "--rank", "4", "--seq-len", "32", "--targets", "out_proj", "--layers", "0",
                      "--modules-to-save", "lm_head", "--write", str(plan))
    assert rc == 0, err
    text = plan.read_text()
    assert "layers_to_transform = [\n    0,\n]" in text, text
    plan.write_text(text.replace("layers_to_transform = [\n    0,\n]", "layers_to_transform = [\n    1,\n]"))
    rc, out, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"),
                        "--no-progress")
    _one_line(rc, out, err, str(plan), "lora.target_modules out_proj", "lora.layers_to_transform")
    assert not (tmp_path / "out").exists()


def test_the_planner_refuses_a_preset_that_adapts_nothing(folders):
    """The TUI's bridge: Mamba2 has no attention module; the form's one line names Targets."""
    from lorplan.core.errors import BadInput
    from lorplan.tui import bridge

    spec = bridge.load_spec(str(folders["mamba2"]))
    setup = bridge.training_setup(targets=("attention",), dora=False, micro_batch=1, seq_len=64, attention="eager")
    with pytest.raises(BadInput) as exc:
        bridge.rank_table(spec, setup, None)
    message = str(exc.value)
    assert "\n" not in message and "Targets" in message and "attention" in message, message
