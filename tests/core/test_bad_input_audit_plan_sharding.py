"""A plan file whose [hardware] sharding and gpus disagree. lorplan export (and every reader of a plan against its
model, core.plan.context) refused gpus = 1 with fsdp as '--sharding fsdp needs --gpus ≥ 2', flags a plan file does
not have, naming no file; and it refused gpus = 2 with sharding "none" ('--gpus > 1 needs --sharding ...'), a plan
lorplan train runs as one process per GPU and whose accelerate export is written as data parallel, with a warning,
by code the refusal made unreachable."""

import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import load_spec
from lorplan.core.plan import loads_plan
from lorplan.core.plan.build import plan_to_setup
from lorplan.core.plan.context import check_plan_targets

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "qwen2.5-7b-lora-80gb.toml"
ONE_GPU = 'gpus = 1\nsharding = "none"'


def _with(hardware: str) -> str:
    text = SAMPLE.read_text()
    assert ONE_GPU in text
    return text.replace(ONE_GPU, hardware)


@pytest.mark.parametrize("sharding", ["fsdp", "zero2", "zero3"])
def test_a_sharded_plan_on_one_gpu_is_named_by_the_plans_keys(sharding):
    plan = loads_plan(_with(f'gpus = 1\nsharding = "{sharding}"'), "p.toml")
    with pytest.raises(BadInput) as caught:
        check_plan_targets(plan, load_spec(plan.model.source), "p.toml")
    assert str(caught.value) == (f"p.toml: hardware.sharding: {sharding} shards over several GPUs, but "
                                 'hardware.gpus is 1 (give gpus of 2 or more, or sharding = "none")')


def test_several_gpus_without_sharding_are_priced_as_data_parallel():
    plan = loads_plan(_with('gpus = 2\nsharding = "none"'), "p.toml")
    assert plan_to_setup(plan)[1].sharding == "ddp"
    check_plan_targets(plan, load_spec(plan.model.source), "p.toml")  # no refusal


def _export(plan: Path, to: str):
    return subprocess.run([sys.executable, "-m", "lorplan", "export", "--to", to, str(plan)],
                          capture_output=True, text=True, timeout=60)


def test_lorplan_export_names_the_plan_and_its_key_and_writes_nothing(tmp_path):
    plan = tmp_path / "p.toml"
    plan.write_text(_with('gpus = 1\nsharding = "fsdp"'))
    done = _export(plan, "accelerate")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"lorplan export: error: {plan}: hardware.sharding: fsdp shards over several GPUs, but hardware.gpus is 1 "
        '(give gpus of 2 or more, or sharding = "none")']
    assert list(tmp_path.iterdir()) == [plan]


def test_lorplan_export_writes_two_gpus_without_sharding_as_data_parallel(tmp_path):
    plan = tmp_path / "p.toml"
    plan.write_text(_with('gpus = 2\nsharding = "none"'))
    done = _export(plan, "accelerate")
    assert done.returncode == 0, done.stderr
    assert "hardware.sharding is none with 2 GPUs: written as data parallel (MULTI_GPU)" in done.stderr
    written = Path(done.stdout.strip().splitlines()[-1])
    assert "distributed_type: MULTI_GPU" in written.read_text()
