"""A class that cannot checkpoint (transformers 5's CTRL: `supports_gradient_checkpointing = False`, read by the
fallback's child) is refused `lorplan plan --grad-checkpointing` (core.model.fallback.check_gradient_checkpointing).
The other ways to that setting agree with it: the memory remedies (core.memory.report.fit_hints: the plan table's
"to fit" line, `lorplan recommend`'s remedies and the planner's) offered `--grad-checkpointing` for such a model,
the one change plan then refused; `lorplan recommend --grad-checkpointing` was taken, its probes each failed with
transformers' ValueError and its --write plan ended `lorplan train` in that traceback. The catalog's classes are
planned as checkpointing (ModelSpec's default), which is checked here against the installed transformers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

FLAG = "--grad-checkpointing"


@pytest.fixture(scope="module")
def ctrl(tmp_path_factory) -> Path:
    """A config-only CTRL large enough that its activations dominate (checkpointing would be the remedy); the
    fallback builds it on the meta device, so no weights are written."""
    from transformers import CTRLConfig

    folder = tmp_path_factory.mktemp("ctrl") / "model"
    CTRLConfig(vocab_size=30522, n_embd=1024, n_layer=24, n_head=16, dff=4096, n_positions=4096).save_pretrained(folder)
    return folder


def _refusal(ctrl: Path, command: str) -> str:
    return (f"{FLAG}: {ctrl} (CTRLLMHeadModel) does not implement gradient checkpointing in transformers: "
            f"{command} without {FLAG}")


def test_the_remedies_leave_out_checkpointing_for_a_class_without_it(ctrl):
    from lorplan.core.memory import TrainingSetup, rank_table
    from lorplan.core.memory.report import fit_hints
    from lorplan.core.model import load_spec

    spec = load_spec(str(ctrl))
    assert spec.source == "fallback" and not spec.supports_gradient_checkpointing
    setup = TrainingSetup(micro_batch=8, seq_len=2048)
    budget = 16 << 30

    def flags(s) -> list[str]:
        row = rank_table(s, setup, (8,), budget).rows[0]
        assert row.fits is False
        return [h.flags for h in fit_hints(s, setup, row, budget)]

    # the same model, said to checkpoint: checkpointing is the remedy that fits (the check below can fail)
    assert FLAG in flags(replace(spec, supports_gradient_checkpointing=True))
    hints = flags(spec)
    assert hints and not any(FLAG in h for h in hints), hints


def test_plan_does_not_offer_checkpointing_it_refuses(ctrl, capsys):
    argv = ("plan", "--model", str(ctrl), "--rank", "8", "--seq-len", "2048", "--micro-batch", "8",
            "--gpu-memory", "16")
    rc, out, err = _run(capsys, *argv)
    assert rc == 1, err  # no rank fits the budget as set up
    fit = [ln for ln in out.splitlines() if ln.startswith("to fit rank 8: ")]
    assert len(fit) == 1 and "--micro-batch" in fit[0], out
    assert FLAG not in out, out
    rc, out, err = _run(capsys, *argv, FLAG)
    assert rc == 2 and out == "" and err.strip() == f"lorplan plan: error: {_refusal(ctrl, 'plan')}", err


def test_recommend_refuses_checkpointing_for_a_class_without_it(ctrl, tmp_path, capsys, state_home):
    plan = tmp_path / "plan.toml"
    argv = ("recommend", "--model", str(ctrl), "--trained-tokens", "100000", "--gpu-memory", "16", "--seq-len",
            "2048", "--micro-batch", "8", "--write", str(plan))
    rc, out, err = _run(capsys, *argv, FLAG)
    assert rc == 2 and out == "" and not plan.exists(), (out, err)
    assert err.strip() == f"lorplan recommend: error: {_refusal(ctrl, 'recommend')}", err
    rc, out, err = _run(capsys, *argv, "--json")
    assert rc == 0, err
    import json

    remedies = [r["change"] for r in json.loads(out)["fits"]["remedies"]]
    assert remedies and not any(FLAG in r for r in remedies), remedies
    assert "gradient_checkpointing = false" in plan.read_text().splitlines()


def test_every_catalog_class_checkpoints():
    """ModelSpec.supports_gradient_checkpointing is True for every catalog model (the fast path reads no class):
    the classes transformers builds for them must checkpoint, or plan would price a setup train cannot run."""
    from tests.core.test_attention_support import _specs, _transformers_class

    specs = _specs()
    assert specs and all(s.supports_gradient_checkpointing for s in specs)
    lacking = {c.__name__ for c in map(_transformers_class, specs) if c.supports_gradient_checkpointing is False}
    assert not lacking, lacking
