"""`lorplan train` and the LoRA targets a state-space model's presets now leave out (core.lora.preset_excluded).

1. A plan file written before the presets left out Bamba's out_proj (target_modules = ["all-linear"], its
   [estimate] pricing out_proj's adapters) trains without out_proj, and `lorplan train` said the file was "edited
   since it was planned": the user had edited nothing; lorplan's preset had changed. It now says so, naming the
   module; a plan edited as well still says "edited".
2. A plan naming a module a mixer reads as a raw weight (KERNEL_BYPASSED: Mamba's dt_proj) trained its dead
   adapter without a word, though `lorplan plan` notes it: train says the same note, once. A plan whose every
   adapter is one that trains on no path (Mamba's dt_proj alone) is refused in one line: nothing would learn.

Real tiny models with random weights (tests/core/test_state_space_models.py builds them), real peft and training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import read_plan, write_plan
from tests.cli.test_input_edges import _run
from tests.core.test_state_space_models import _build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssm_train")
    return {kind: _build(kind, root / kind) for kind in ("mamba", "bamba")}


def _plan(capsys, tmp_path: Path, model: Path, data: Path, targets: str | None, rank: int = 2) -> Path:
    plan = tmp_path / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(model), "--data", str(data), "--rank", str(rank), "--seq-len",
                      "32", *(("--targets", targets) if targets else ()), "--write", str(plan))
    assert rc == 0, err
    return plan


def _train(capsys, plan: Path, out: Path) -> tuple[int, str, str]:
    return _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(out), "--no-progress")


def _old_bamba_plan(capsys, tmp_path: Path, model: Path, data: Path) -> Path:
    """The plan `lorplan plan` wrote before the presets left out out_proj: all-linear, priced with out_proj."""
    from lorplan.core.lora import LoraTargets, resolve_targets
    from lorplan.core.model import load_spec

    spec = load_spec(str(model))
    now = sorted({m.name for m in resolve_targets(spec, LoraTargets())})
    assert "out_proj" not in now and "out_proj" in {m.name for m in spec.linears}  # the premise
    plan = _plan(capsys, tmp_path, model, data, ",".join([*now, "out_proj"]))
    old = read_plan(plan)
    write_plan(replace(old, lora=replace(old.lora, target_modules=("all-linear",))), plan, force=True)
    return plan


def _estimate_notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if "[estimate] does not price" in line]


def test_an_old_all_linear_plan_says_the_preset_changed_not_that_it_was_edited(folders, capsys, tmp_path,
                                                                              prompt_completion_file, state_home):
    plan = _old_bamba_plan(capsys, tmp_path, folders["bamba"], prompt_completion_file)
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err
    notes = _estimate_notes(err)
    assert len(notes) == 1, err
    assert "edited" not in notes[0] and "all-linear" in notes[0] and "out_proj" in notes[0], notes
    assert "bamba" in notes[0] and "mamba_ssm" in notes[0], notes  # why the preset leaves it out
    assert (tmp_path / "out" / "adapter").is_dir()


def test_an_old_plan_edited_as_well_still_says_edited(folders, capsys, tmp_path, prompt_completion_file,
                                                      state_home):
    plan = _old_bamba_plan(capsys, tmp_path, folders["bamba"], prompt_completion_file)
    old = read_plan(plan)
    write_plan(replace(old, training=replace(old.training, seq_len=24)), plan, force=True)  # a priced key, edited by hand
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err
    notes = _estimate_notes(err)
    assert len(notes) == 1 and "edited since it was planned" in notes[0], err
    assert "out_proj" in notes[0], notes  # the preset's change is part of the difference too


def test_a_plan_that_prices_what_it_trains_gets_no_estimate_note(folders, capsys, tmp_path, prompt_completion_file,
                                                                 state_home):
    """The control: a plan written now, all-linear resolved as it trains."""
    plan = _plan(capsys, tmp_path, folders["bamba"], prompt_completion_file, None)
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err
    assert _estimate_notes(err) == [] and "out_proj" not in err, err


def test_old_mamba_all_linear_pricing_counts_the_refused_out_proj(folders, capsys, tmp_path, prompt_completion_file):
    """On Mamba peft refuses out_proj, so no plan can name it: the plan priced before the change is found by pricing
    the presets as they were (lorplan.cli.train.priced_before_exclusions), whose trainable count adds out_proj's
    and x_proj's and dt_proj's adapters to today's."""
    from lorplan.cli.train import priced_before_exclusions
    from lorplan.core.lora import LoraTargets, preset_excluded, trainable_params
    from lorplan.core.model import load_spec

    spec = load_spec(str(folders["mamba"]))
    plan = read_plan(_plan(capsys, tmp_path, folders["mamba"], prompt_completion_file, None))
    assert "all-linear" not in plan.lora.target_modules  # the file names the modules today's all-linear adapts
    now = plan.estimate.trainable_params
    plan = replace(plan, lora=replace(plan.lora, target_modules=("all-linear",)))
    before, dropped = priced_before_exclusions(plan, spec)
    assert set(dropped) == set(preset_excluded(spec)) - {"conv1d"}, dropped
    extra = sum(2 * (m.in_features + m.out_features) for m in spec.linears if m.name in dropped)
    assert now == trainable_params(spec, LoraTargets(), 2)
    assert extra > 0 and before.trainable_params == now + extra


def test_train_says_the_bypass_note_once(folders, capsys, tmp_path, prompt_completion_file, state_home):
    plan = _plan(capsys, tmp_path, folders["mamba"], prompt_completion_file, "in_proj,dt_proj")
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err
    notes = [line for line in err.splitlines() if "dt_proj" in line]
    assert len(notes) == 1, err
    assert notes[0].startswith(f"note: {plan}: lora.target_modules dt_proj: ") and "never trains" in notes[0], notes


def test_a_bypassed_module_that_trains_on_this_path_is_noted_not_refused(folders, capsys, tmp_path,
                                                                         prompt_completion_file, state_home):
    """Bamba's out_proj alone: the mixer calls it on the PyTorch path (this CPU run), so it trains here."""
    plan = _plan(capsys, tmp_path, folders["bamba"], prompt_completion_file, "out_proj", rank=4)
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err
    notes = [line for line in err.splitlines() if "out_proj" in line]
    assert len(notes) == 1 and "PyTorch path" in notes[0], err


def _dt_proj_alone(capsys, tmp_path: Path, model: Path, data: Path) -> Path:
    """A plan adapting Mamba's dt_proj alone, as a plan edited by hand (or written before lorplan plan refused it)
    holds it: lorplan plan refuses to write one (test_plan_refuses_what_train_refuses)."""
    plan = _plan(capsys, tmp_path, model, data, "in_proj,dt_proj")
    old = read_plan(plan)
    write_plan(replace(old, lora=replace(old.lora, target_modules=("dt_proj",))), plan, force=True)
    return plan


def test_train_refuses_a_plan_in_which_nothing_would_learn(folders, capsys, tmp_path, prompt_completion_file,
                                                           state_home):
    plan = _dt_proj_alone(capsys, tmp_path, folders["mamba"], prompt_completion_file)
    rc, out, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (rc, out, err)
    assert str(plan) in err and "lora.target_modules dt_proj" in err and "nothing" in err, err
    assert not (tmp_path / "out").exists()
    # with a module that learns beside it, the same adapter trains (with its note)
    old = read_plan(plan)
    write_plan(replace(old, lora=replace(old.lora, modules_to_save=("lm_head",))), plan, force=True)
    rc, _, err = _train(capsys, plan, tmp_path / "out")
    assert rc == 0, err


def test_plan_refuses_what_train_refuses(folders, capsys, tmp_path, prompt_completion_file, state_home):
    """`lorplan plan --targets dt_proj` on Mamba wrote a plan (with a note) that `lorplan train` refuses, since its one
    adapter trains on no path: plan refuses it now, in one line giving train's reason (one rule,
    core.memory.bounds.check_learns over core.lora.never_trained), and writes nothing."""
    written = tmp_path / "p.toml"
    rc, out, err = _run(capsys, "plan", "--model", str(folders["mamba"]), "--data", str(prompt_completion_file),
                        "--rank", "2", "--seq-len", "32", "--targets", "dt_proj", "--write", str(written))
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err and out == "", (rc, out, err)
    assert not written.exists()
    said = err.strip().removeprefix("lorplan plan: error: ")
    assert said.startswith("--targets dt_proj: mamba's "), err
    plan = _dt_proj_alone(capsys, tmp_path, folders["mamba"], prompt_completion_file)
    rc, _, train_err = _train(capsys, plan, tmp_path / "out")
    assert rc == 2, train_err
    # the same sentence after the key each names the setting by
    assert train_err.strip().endswith(said.removeprefix("--targets"))
    # the planner's table (`lorplan plan` without --write, and the TUI, through check_plannable) refuses it too
    from lorplan.core.errors import BadInput
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory.bounds import check_plannable
    from lorplan.core.memory.types import TrainingSetup
    from lorplan.core.model import load_spec

    spec = load_spec(str(folders["mamba"]))

    def setup(*modules: str, saved: tuple[str, ...] = ()) -> TrainingSetup:
        return TrainingSetup(seq_len=32, attention="eager", targets=LoraTargets(modules=modules, modules_to_save=saved))

    with pytest.raises(BadInput) as caught:
        check_plannable(spec, setup("dt_proj"))
    assert str(caught.value) == said
    # beside a module that learns, or with a module trained whole, it plans (with the note)
    check_plannable(spec, setup("in_proj", "dt_proj"))
    check_plannable(spec, setup("dt_proj", saved=("lm_head",)))
