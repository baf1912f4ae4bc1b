"""Plans, model folders, datasets and checkpoints handed over by someone else are data: no lorplan command runs
code they carry unless the user typed --trust-remote-code. Each test builds a real malicious file (a pickle whose
__reduce__ writes a marker file, a model folder whose auto_map names Python files that write a marker when
imported), runs the real `lorplan` command on it, and checks that the marker never appears and that the
refusal is one line saying why."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from model_builders import remote_code_model, tiny_llama

from lorplan.cli import main


class _Pickled:
    """Unpickled, it runs exec(code): what a malicious checkpoint does."""

    def __init__(self, marker: Path, tag: str):
        self.code = f"open({str(marker)!r}, 'a').write({tag!r} + '\\n')"

    def __reduce__(self):
        return exec, (self.code,)


def _evil_torch_file(path: Path, marker: Path, tag: str) -> None:
    """A file in torch.save's format (a zip with data.pkl) holding one tensor and the code-running object."""
    import torch

    torch.save({"state": {}, "param_groups": [], "base_lrs": [0.001], "x": torch.zeros(2),
                "evil": _Pickled(marker, tag)}, path)
    assert b"exec" in path.read_bytes()


def _lorplan(*args: str, cwd: Path, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "state"), "HF_HOME": str(cwd / "hf"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "lorplan", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def _in_process(*args: str, cwd: Path, monkeypatch, capfd) -> subprocess.CompletedProcess:
    """`lorplan ARGS` run by main() in this process, as _lorplan's child would run it (same environment and
    folder), for the commands whose refusal is what is checked, not their process: a child's start and imports
    of torch and transformers saved. Code that ran would write the marker here just as in a child."""
    for name, value in (("XDG_STATE_HOME", str(cwd / "state")), ("HF_HOME", str(cwd / "hf")),
                        ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    capfd.readouterr()
    code = main(list(args))
    out = capfd.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The command's refusal: exit 2, no traceback, its last stderr line."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def _data(folder: Path) -> Path:
    data = folder / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"What is {i}+{i}?", "completion": f" {2 * i}."}) + "\n"
                            for i in range(48)))
    return data


def _plan(folder: Path, model: Path, data: Path, name: str = "plan.toml", **edits: str) -> Path:
    plan = folder / name
    assert main(["plan", "--model", str(model), "--rank", "2", "--seq-len", "32", "--data", str(data),
                 "--write", str(plan), "--force"]) == 0
    text = plan.read_text()
    for old, new in edits.items():
        assert old.replace("__", " = ") in text
        text = text.replace(old.replace("__", " = "), new)
    plan.write_text(text)
    return plan


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real `lorplan train` run of a tiny Llama (2 steps, a checkpoint at each): its folder, plan and data.
    Trained in this process (a child's start and imports saved): the files it writes are what is read."""
    root = tmp_path_factory.mktemp("trained")
    model = tiny_llama(root / "model", hidden=16, layers=1)
    plan = _plan(root, model, _data(root), **{"save_steps__100": "save_steps = 1"})
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("XDG_STATE_HOME", str(root / "state")), ("HF_HOME", str(root / "hf")),
                            ("HF_HUB_OFFLINE", "1")):
            mp.setenv(name, value)
        mp.chdir(root)
        assert main(["train", str(plan), "--max-steps", "2", "--no-progress", "--output", "run"]) == 0
    assert sorted(p.name for p in (root / "run").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    return root, plan


@pytest.mark.parametrize("name", ["optimizer.pt", "rng.pt", "scheduler.pt"])
def test_resume_refuses_a_checkpoint_file_whose_pickle_runs_code(trained, tmp_path, name, monkeypatch, capfd):
    root, plan = trained
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    marker = tmp_path / "PWNED"
    _evil_torch_file(run / "checkpoint-2" / name, marker, name)
    line = _error_line(_in_process("train", str(plan), "--resume", "--max-steps", "3", "--no-progress",
                                   "--output", str(run), cwd=tmp_path, monkeypatch=monkeypatch, capfd=capfd))
    assert not marker.exists(), marker.read_text()
    assert line.startswith(f"lorplan train: error: --resume: {run / 'checkpoint-2' / name} holds more than "
                           "tensors and numbers (it names exec): lorplan does not load it"), line
    assert "unpickling such a file can run any code" in line
    assert not (run / "checkpoint-3").exists()


def test_a_checkpoint_saved_before_state_json_kept_the_rate_is_refused_before_its_scheduler_runs_code(
        trained, tmp_path, monkeypatch, capfd):
    """A checkpoint without state.json's training settings: the learning rate is read from scheduler.pt before
    the model is loaded (train.runner.check_resumed_rate); that read is weights-only too."""
    root, plan = trained
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    state = json.loads((run / "checkpoint-2" / "state.json").read_text())
    del state["training"]
    (run / "checkpoint-2" / "state.json").write_text(json.dumps(state))
    marker = tmp_path / "PWNED"
    _evil_torch_file(run / "checkpoint-2" / "scheduler.pt", marker, "scheduler")
    line = _error_line(_in_process("train", str(plan), "--resume", "--max-steps", "3", "--no-progress",
                                   "--output", str(run), cwd=tmp_path, monkeypatch=monkeypatch, capfd=capfd))
    assert not marker.exists()
    assert "scheduler.pt holds more than tensors and numbers" in line


def test_the_files_lorplan_train_saves_load_weights_only(trained):
    """What --resume reads of a real checkpoint (numpy's RNG state included) loads through the weights-only
    reader; a plain pickle of the same objects is refused by it."""
    import numpy as np
    import torch

    from lorplan.core.errors import BadInput
    from lorplan.train.checkpoint import load_pt

    root, _ = trained
    folder = root / "run" / "checkpoint-2"
    rng = load_pt(folder / "rng.pt")
    assert rng["numpy"][0] == "MT19937" and isinstance(rng["numpy"][1], np.ndarray)
    assert isinstance(rng["torch"], torch.Tensor)
    assert load_pt(folder / "scheduler.pt")["base_lrs"] == [0.001]
    assert set(load_pt(folder / "optimizer.pt")) == {"state", "param_groups"}
    with pytest.raises(BadInput, match="holds more than tensors"):
        torch.save({"f": pickle.loads}, folder.parent / "plain.pt")  # a global outside the allowlist
        load_pt(folder.parent / "plain.pt")


def test_pickled_bin_weights_are_refused_in_one_line(tmp_path, monkeypatch, capfd):
    """A model folder whose weights are a pytorch_model.bin pickle that runs code: transformers reads it weights-
    only, and `lorplan train` says so in one line (it printed transformers' traceback)."""
    folder = tiny_llama(tmp_path / "model", hidden=16, layers=1)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "PWNED"
    _evil_torch_file(folder / "pytorch_model.bin", marker, "weights")
    plan = _plan(tmp_path, folder, _data(tmp_path))
    line = _error_line(_in_process("train", str(plan), "--max-steps", "1", "--no-progress", cwd=tmp_path,
                                   monkeypatch=monkeypatch, capfd=capfd))
    assert not marker.exists()
    assert line == (f"lorplan train: error: model {str(folder)!r}: its PyTorch .bin weights hold more than tensors, "
                    "which lorplan does not load (unpickling it could run any code); a model.safetensors copy loads")


@pytest.fixture
def remote(tmp_path):
    marker = tmp_path / "PWNED"
    return remote_code_model(tmp_path / "remote", marker), marker, _data(tmp_path)


def test_the_marker_of_remote_code_works(remote, tmp_path):
    """The test's own check: with --trust-remote-code the model's files do run (so their absence elsewhere means
    lorplan did not run them)."""
    folder, marker, _ = remote
    proc = _lorplan("plan", "--model", str(folder), "--ranks", "2", "--trust-remote-code", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "configuration_evil" in marker.read_text()


@pytest.mark.parametrize("command", [
    ["plan", "--model", "{model}", "--ranks", "2"],
    ["recommend", "--model", "{model}", "--data", "{data}", "--probes", "none"],
    ["recommend", "--model", "{model}", "--data", "{data}"],
    ["probe", "start", "--model", "{model}", "--data", "{data}", "--ranks", "2", "--steps", "2"],
])
def test_a_model_with_its_own_code_is_refused_and_the_flag_named(remote, tmp_path, command):
    folder, marker, data = remote
    args = [a.format(model=folder, data=data) for a in command]
    line = _error_line(_lorplan(*args, cwd=tmp_path))
    assert not marker.exists(), marker.read_text()
    assert line.endswith(f"config.json at {folder / 'config.json'}: the model needs its own Python code (auto_map "
                         "in config.json), which lorplan runs only when asked: --trust-remote-code on the "
                         "command line, if you trust that code"), line


def test_profile_never_asks_to_run_a_tokenizer_s_code(remote, tmp_path):
    """transformers asks "Do you wish to run the custom code? [y/N]" when trust_remote_code is left unset: a "y"
    on stdin ran the folder's configuration_evil.py. lorplan profile now says no itself. With --model the model's
    config.json is judged first, as `lorplan plan` judges it (plan's line)."""
    folder, marker, data = remote
    says = {"--model": f"config.json at {folder / 'config.json'}: the model needs its own Python code (auto_map in "
                       "config.json), which lorplan runs only when asked: --trust-remote-code on the command line, "
                       "if you trust that code",
            "--tokenizer": f"tokenizer at {folder}: cannot load (its config.json or tokenizer_config.json names "
                           "Python code of its own (auto_map), which lorplan runs only when asked: "
                           "--trust-remote-code on the command line, if you trust that code)"}
    for flag in ("--model", "--tokenizer"):
        proc = _lorplan("profile", "--data", str(data), flag, str(folder), cwd=tmp_path, stdin="y\ny\ny\n")
        line = _error_line(proc)
        assert not marker.exists(), (flag, marker.read_text())
        assert "Do you wish to run the custom code" not in proc.stdout + proc.stderr
        assert line == f"lorplan profile: error: {says[flag]}", line


def test_a_plan_that_asks_for_remote_code_needs_the_flag_from_the_user(remote, tmp_path):
    """A plan file is data and may come from someone else: model.trust_remote_code = true alone ran the model's
    modeling_evil.py, tokenization_evil.py and configuration_evil.py in `lorplan train` without a word."""
    folder, marker, data = remote
    plan = _plan(tmp_path, tiny_llama(tmp_path / "plain", hidden=16, layers=1), data,
                 **{"trust_remote_code__false": "trust_remote_code = true"})
    plan.write_text(plan.read_text().replace(json.dumps(str(tmp_path / "plain")), json.dumps(str(folder))))
    line = _error_line(_lorplan("train", str(plan), "--max-steps", "1", "--no-progress", cwd=tmp_path))
    assert not marker.exists(), marker.read_text()
    assert line == (f"lorplan train: error: {plan}: model.trust_remote_code = true asks to run the model's own "
                    f"Python code ({folder}): lorplan runs it only when you ask for it: pass --trust-remote-code "
                    "if you trust that code, or set model.trust_remote_code = false")
    assert not (tmp_path / "outputs").exists()
    # and export writes the key for the other tool without running anything
    out = tmp_path / "axolotl.yaml"
    proc = _lorplan("export", str(plan), "--to", "axolotl", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "trust_remote_code: true" in out.read_text()
    assert not marker.exists()


def test_the_user_s_flag_says_that_code_may_run(remote, tmp_path):
    from lorplan.cli.train import check_remote_code
    from lorplan.core.plan import read_plan

    folder, _, data = remote
    plan = _plan(tmp_path, tiny_llama(tmp_path / "plain", hidden=16, layers=1), data)
    trusted, note = check_remote_code(read_plan(plan), str(plan), True)
    assert trusted.model.trust_remote_code is True
    assert note == f"note: --trust-remote-code: the model's own Python code ({tmp_path / 'plain'}) may run"
    assert check_remote_code(read_plan(plan), str(plan), False) == (read_plan(plan), None)


def test_a_data_folder_s_python_files_are_never_run(tmp_path):
    """A dataset folder with a loading script (what `datasets` would import) and an Arrow folder whose state.json
    names a .py file: lorplan reads rows, never runs them."""
    marker = tmp_path / "PWNED"
    script = f"open({str(marker)!r}, 'a').write('script\\n')\n"
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "texts.py").write_text(script)
    (texts / "a.txt").write_text("hello there, a text to train on\n")
    proc = _lorplan("profile", "--data", str(texts), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split()[:2] == ["examples", "1"]  # the .txt file; the .py is no row
    arrow = tmp_path / "arrow"
    arrow.mkdir()
    (arrow / "arrow.py").write_text(script)
    (arrow / "state.json").write_text(json.dumps({"_data_files": [{"filename": "arrow.py"}]}))
    line = _error_line(_lorplan("profile", "--data", str(arrow), cwd=tmp_path))
    assert line.startswith(f"lorplan profile: error: --data {arrow / 'arrow.py'}: unreadable Arrow file"), line
    assert not marker.exists()


def test_the_planner_s_model_field_refuses_a_model_with_its_own_code(remote, tmp_path, monkeypatch):
    """The TUI's model field (Pilot: the folder pasted and submitted) goes through the same refusal: the line
    under the field says why, and the folder's Python files are not run."""
    import asyncio
    import time

    from textual.events import Paste
    from textual.widgets import Input, Static

    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp

    folder, marker, _ = remote
    for name, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("HF_HOME", "hf")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    async def until(pilot, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached in time"
            await pilot.pause(0.05)

    async def drive() -> str:
        app = LorplanApp(gpu_source=bridge.no_gpu("no NVIDIA driver (test)"), model="meta-llama/Llama-3.1-8B",
                         config_path=tmp_path / "config" / "lorplan" / "config.toml")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: bool(app.screen.query("#model-input")))
            field = app.screen.query_one("#model-input", Input)
            field.focus()
            field.value = ""
            await pilot.pause()
            # pasted, as a long path is given (a press per character took ~3 s of the test)
            field.post_message(Paste(str(folder)))
            await until(pilot, lambda: field.value == str(folder))
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.query_one("#model-picker").has_class("-error"))
            return str(app.screen.query_one("#model-status", Static).render())

    status = asyncio.run(drive())
    assert not marker.exists(), marker.read_text()
    assert status.startswith(f"config.json at {folder / 'config.json'}: the model needs its own Python code "
                             "(auto_map in config.json), which lorplan runs only when asked"), status
