"""What a plan of a state-space model says beyond `lorplan train` (tests/core/test_state_space_models.py):

- its exports. The plan file said target_modules = ["all-linear"] on Mamba and Mamba2, which every export wrote as
  that tool's "every linear" (peft and TRL "all-linear", axolotl lora_target_linear, LLaMA-Factory lora_target:
  all, Unsloth 'all-linear'), each of which selects out_proj, and peft refuses out_proj of these model types
  (peft#2556). The plan now names the modules lorplan adapts, so the exported peft config trains them.
- Mamba2's heads. Its config's num_heads (the mixers' heads) was read as attention heads, so an eager plan priced
  seq-len × seq-len attention probabilities no step makes: +286% at 1×1024 and +657% at 1×2048 against a traced
  CPU step of a 4-layer hidden-256, 16-head Mamba2 (-87% at every length without them), and printed the eager
  note about probabilities (Mamba v1 printed it too, with no attention at all).
- the planner's target boxes offered out_proj, ticked by all-linear though it was never adapted, and refused the
  form whenever another box was unticked.
Real tiny models with random weights, real peft."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run
from tests.core.test_state_space_models import _build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssm_plans")
    return {kind: _build(kind, root / kind) for kind in ("mamba", "mamba2")}


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
def test_every_export_names_the_modules_lorplan_adapts(folders, kind, prompt_completion_file, tmp_path, capsys,
                                                      state_home):
    import torch
    import yaml
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorplan.core.lora import LoraTargets, model_path, resolve_targets, trainable_params
    from lorplan.core.model import load_spec
    from lorplan.core.vocab import ExportFormat

    spec = load_spec(str(folders[kind]))
    adapted = {m.path for m in resolve_targets(spec, LoraTargets())}
    names = sorted({p.rsplit(".", 1)[-1] for p in adapted})
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(folders[kind]), "--data", str(prompt_completion_file), "--rank",
                      "4", "--seq-len", "32", "--write", str(plan))
    assert rc == 0, err
    for fmt in ExportFormat:
        rc, _, err = _run(capsys, "export", str(plan), "--to", fmt.value, "-o", str(tmp_path / fmt.value))
        assert rc == 0, (fmt, err)
    axolotl = yaml.safe_load((tmp_path / ExportFormat.AXOLOTL.value).read_text())
    assert axolotl["lora_target_linear"] is False and sorted(axolotl["lora_target_modules"]) == names, axolotl
    factory = yaml.safe_load((tmp_path / ExportFormat.LLAMAFACTORY.value).read_text())
    assert sorted(factory["lora_target"].split(",")) == names, factory
    trl = yaml.safe_load((tmp_path / ExportFormat.TRL.value).read_text())["lora_target_modules"]
    assert trl != "all-linear" and "all-linear" not in (tmp_path / ExportFormat.UNSLOTH.value).read_text()
    # the exported peft config, as peft reads it, adapts what the plan priced, with its trainable count
    config = LoraConfig.from_pretrained(str(tmp_path / ExportFormat.PEFT.value))
    assert sorted(config.target_modules) == names
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(folders[kind], dtype=torch.float32), config)
    assert {model_path(n) for n, m in model.named_modules() if hasattr(m, "lora_A")} == adapted
    assert model.get_nb_trainable_parameters()[0] == trainable_params(spec, LoraTargets(), config.r)


def test_mamba2_prices_no_attention(folders, capsys):
    """No heads, no eager note; its activations grow with the sequence, not its square."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup, estimate
    from lorplan.core.model import load_spec
    from lorplan.core.vocab import Attention

    spec = load_spec(str(folders["mamba2"]))
    assert spec.config["num_heads"] > 0 and spec.num_attention_heads == 0, spec.num_attention_heads
    act = [estimate(spec, TrainingSetup(targets=LoraTargets(), seq_len=seq, attention=Attention.EAGER), 4).activations
           for seq in (1024, 2048)]
    assert act[1] <= 2.05 * act[0], act
    for kind in ("mamba", "mamba2"):
        rc, out, err = _run(capsys, "plan", "--model", str(folders[kind]), "--rank", "4", "--seq-len", "256")
        assert rc == 0, err
        assert "attention probabilities" not in out + err, out + err


def test_a_hybrid_keeps_its_attention_heads(tmp_path):
    """Bamba's attention layers are attention: its num_attention_heads are read as before."""
    from lorplan.core.model import load_spec

    spec = load_spec(str(_build("bamba", tmp_path / "bamba")))
    assert spec.num_attention_heads == spec.config["num_attention_heads"] > 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_target_boxes_offer_what_peft_adapts(folders, tmp_path, monkeypatch):
    """On Bamba, whose out_proj peft adapts but the fused kernel bypasses (core.lora.KERNEL_BYPASSED), as on
    Mamba (out_proj refused by peft, x_proj and dt_proj bypassed), the boxes leave them out."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "tui"))
    from textual.widgets import Checkbox
    from tui_helpers import until_started, wait_until

    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp
    from lorplan.tui.panels.plan_view import PlanView
    from lorplan.tui.panels.setup_panel import SetupPanel

    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("HF_HOME", "hf")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = LorplanApp(model=str(_build("bamba", tmp_path / "bamba")), gpu_source=bridge.no_gpu("no NVIDIA driver (test)"),
                     config_path=tmp_path / "config" / "lorplan" / "config.toml")
    async with app.run_test(size=(140, 50)) as pilot:
        await until_started(pilot)
        await wait_until(pilot, lambda: app.screen.query_one(PlanView).state.spec is not None)
        panel = app.screen.query_one(SetupPanel)
        boxes = list(panel.query(".target").results(Checkbox))
        labels = [b.label.plain for b in boxes]
        assert "in_proj" in labels and "q_proj" in labels and "out_proj" not in labels, labels
        boxes[0].value = False  # the others: a valid plan, not "peft does not adapt out_proj"
        await pilot.pause()
        await wait_until(pilot, lambda: app.screen.query_one(PlanView).state.setup.targets.modules
                         == tuple(labels[1:]))
