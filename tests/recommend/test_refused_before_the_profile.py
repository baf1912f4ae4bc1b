"""`lorplan recommend` refuses a flag's value before it profiles --data when the value alone is wrong: the profile
tokenizes the whole file with the model's tokenizer (seconds to minutes on a large one), and a refusal after it
wasted that wait. `--probe-steps 1` was refused only by data_ladder, after the profile; every plan recommend builds
warms up (core.plan.defaults.task_defaults: a linear schedule with warmup for every task), so a 1-step probe trains
nothing whatever the data says, and it is now refused with the flags (recommend.launch.check_default_probe_steps).
The other flags' refusals were checked for the same order and came first already; they are pinned here.

Everything is real (the tiny Llama and BERT with MiniLM's tokenizer, real data files); the profile is watched by
wrapping lorplan.core.data.profile_dataset, which recommend calls to profile --data, and counting its calls."""

from __future__ import annotations

import pytest

import lorplan.core.data as core_data
from lorplan.cli import main
from lorplan.core.plan import read_plan
from lorplan.recommend.launch import check_default_probe_steps, shortest_training_probe


@pytest.fixture
def profiles(monkeypatch) -> list:
    """The files profile_dataset is asked to profile, in order; the real function does the work."""
    seen = []
    real = core_data.profile_dataset

    def watched(path, *args, **kwargs):
        seen.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(core_data, "profile_dataset", watched)
    return seen


def refusal(capsys, argv) -> str:
    capsys.readouterr()  # what building a fixture's model printed
    try:
        rc = main(["recommend", *argv])
    except SystemExit as exc:  # argparse's own refusal of a value its type reads (a number, a bound)
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_bert"])
def test_one_step_probes_are_refused_before_the_data_is_profiled(model, lm_data, cls_data, state_home, profiles,
                                                                 capsys, request):
    folder = request.getfixturevalue(model)
    data = lm_data if model == "tiny_llama" else cls_data
    err = refusal(capsys, ["--model", str(folder), "--data", str(data), "--probe-steps", "1"])
    assert err.startswith("lorplan recommend: error: --probe-steps: a probe of 1 step trains nothing: "), err
    assert err.endswith("give 2 or more"), err
    assert profiles == [], "profiled before the refusal"
    assert not any(state_home.glob("*/ladder.json"))


def test_a_file_the_profile_refuses_is_not_read_for_a_refused_probe_length(tiny_llama, tmp_path, state_home,
                                                                           profiles, capsys):
    """The order, seen from the outside: a data file whose profile fails (no row lorplan can read) named --data
    while --probe-steps 1 waited behind it; the probe length is now refused first."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"neither": "prompt nor text"}\n' * 20, encoding="utf-8")
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(bad), "--probes", "none"]) == 2
    assert "--data" in capsys.readouterr().err  # the profile's own refusal, when nothing comes before it
    profiles.clear()
    err = refusal(capsys, ["--model", str(tiny_llama), "--data", str(bad), "--probe-steps", "1"])
    assert "--probe-steps: a probe of 1 step trains nothing" in err and profiles == [], err


@pytest.mark.parametrize(("flags", "said"), [
    (["--budget-minutes", "1e9"], "--budget-minutes: 1e+09 minutes is not between 0 and"),
    (["--seeds", "9"], "--seeds: 9 is more than 5"),
    (["--epochs", "1e9"], "--epochs: 1e9 must be at most"),
    (["--epochs", "0"], "--epochs: '0' must be a positive number"),
    (["--gpu-memory", "0"], "--gpu-memory: '0' must be a positive size"),
    (["--gpu-memory", "1K"], "--gpu-memory: '1K' is 1.00 KiB, less than any GPU has"),
    (["--gpu", "NO-SUCH-GPU"], "--gpu: unknown GPU 'NO-SUCH-GPU'"),
    (["--seq-len", "0"], "--seq-len: 0 must be at least 1"),
    (["--seq-len", "100000"], "--seq-len 100000 is beyond"),
    (["--micro-batch", "0"], "--micro-batch: 0 must be at least 1"),
    (["--targets", "nope"], "--targets: 'nope' matches no module"),
    (["--quant", "bad"], "--quant: 'bad' is not one of"),
    (["--optimizer", "bad"], "--optimizer: 'bad' is not one of"),
    (["--rope-scaling", "0.5"], "--rope-scaling must be a factor above 1"),
    (["--double-quant"], "--double-quant needs --quant"),
    (["--num-labels", "3"], "--num-labels: only with --task sequence-classification"),
    (["--task", "sequence-classification"], "--task sequence-classification: "),
    (["--write", "/no/such/folder/plan.toml"], "--write /no/such/folder/plan.toml: folder /no/such/folder does not"),
])
def test_the_other_flags_are_refused_before_the_data_is_profiled(flags, said, tiny_llama, lm_data, state_home,
                                                                 profiles, capsys):
    err = refusal(capsys, ["--model", str(tiny_llama), "--data", str(lm_data), *flags])
    assert said in err and profiles == [], err


def test_two_step_probes_pass_the_early_check_and_it_is_the_plans_own(tiny_llama, lm_data, tmp_path, state_home,
                                                                      profiles, capsys):
    """The early check refuses no more than data_ladder's check of the plan recommend builds: the plan --write
    writes (the one the probes are short runs of) needs 2 steps per probe, the length the early check takes."""
    assert check_default_probe_steps(2, "--probe-steps") == 2 and check_default_probe_steps(None, "x") is None
    target = tmp_path / "plan.toml"
    assert main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--probes", "none",
                 "--write", str(target), "--json"]) == 0
    capsys.readouterr()
    assert profiles == [str(lm_data)]
    assert shortest_training_probe(read_plan(target)) == 2


def test_the_demo_and_run_refusals_of_probe_steps_still_say_why(capsys):
    """Where --probe-steps has no use at all (the demo, --run), that is said, not its length."""
    assert "--probe-steps: the demo trains its own length" in refusal(capsys, ["--probe-steps", "1"])
    assert "--probe-steps: --run RUN re-attaches" in refusal(capsys, ["--run", "x", "--probe-steps", "1"])
    assert "--probe-steps: it is for the probe ladder" in refusal(
        capsys, ["--model", "Qwen/Qwen2.5-0.5B-Instruct", "--trained-tokens", "5000", "--probe-steps", "1"])
