"""What `lorplan train` says about its measured peak memory against the plan's estimate (train.memory.report_lines):
on CUDA each measured figure beside the estimate's figure of the same kind, as benchmarks/gpu_memory_check.py
compares them (the reserved peak holds no CUDA context, NVML's figure does)."""

from __future__ import annotations

from lorplan.core.memory import TrainingSetup, estimate
from lorplan.core.model import load_spec
from lorplan.train.memory import MeasuredMemory, report_lines

GIB = 1024**3


def test_cuda_figures_are_compared_kind_for_kind_with_the_plans_estimate():
    spec = load_spec("HuggingFaceTB/SmolLM2-135M-Instruct")
    m = estimate(spec, TrainingSetup(micro_batch=4, seq_len=1024), 16)  # all-linear, bf16
    d = m.details
    # what the H200 measured for this setup (benchmarks/results/gpu_h200_run.log: bf16, rank 16, 4 x 1024)
    measured = MeasuredMemory("cuda", int(5.743 * GIB), int(7.129 * GIB), 3 * GIB, GIB, int(5.743 * GIB),
                              int(7.869 * GIB))
    lines = report_lines(measured, m.total, d)
    assert lines[0].startswith("peak memory (CUDA): allocated 5.74 GiB, reserved 7.13 GiB")
    planned = lines[1]
    assert planned.startswith("planned: allocated ") and "(with the CUDA context)" in planned
    ratios = dict(part.rsplit(" ", 1) for part in planned.split("measured/planned: ")[1].split(", "))
    assert set(ratios) == {"allocated", "reserved", "process (NVML)"}
    assert abs(float(ratios["allocated"]) - 5.743 * GIB / d["allocated"]) < 0.006
    assert abs(float(ratios["reserved"]) - 7.129 * GIB / (d["allocated"] + d["allocator_reserve"])) < 0.006
    assert abs(float(ratios["process (NVML)"]) - 7.869 * GIB / m.total) < 0.006
    # no NVML reading (a driver without per-process figures): the two torch ratios only
    no_nvml = report_lines(MeasuredMemory("cuda", GIB, 2 * GIB, 3 * GIB, GIB, GIB, None), m.total, d)[1]
    assert "process (NVML)" not in no_nvml and "reserved " in no_nvml
    # a plan written before the details carried the allocated peak: reserved against the total, as before
    old = report_lines(measured, m.total, None)[1]
    assert old == f"planned: {m.total / GIB:.2f} GiB; measured/planned = {7.129 * GIB / m.total:.2f}"


def test_cpu_compares_the_rss_growth_with_the_estimates_tensors_not_the_cuda_total():
    measured = MeasuredMemory("cpu", None, None, 3 * GIB, GIB)
    # a plan priced for CUDA: allocated 2.5 GiB of which 64 MiB cuBLAS workspaces; total 4 GiB with the context
    d = {"allocated": int(2.5 * GIB), "cublas_workspace": 64 * 1024**2, "allocator_reserve": GIB // 2}
    lines = report_lines(measured, 4 * GIB, d)
    assert lines[0].startswith("peak memory (CPU RSS): 3.00 GiB, of which 2.00 GiB since the model was loaded")
    tensors = d["allocated"] - d["cublas_workspace"]
    assert lines[1].startswith(f"planned: tensors {tensors / GIB:.2f} GiB (weights, adapter")
    assert "its total 4.00 GiB adds the CUDA context" in lines[1]
    assert lines[1].endswith(f"measured/planned = {2 * GIB / tensors:.2f}")
    # a plan priced for CPU (no workspaces, total = allocated): nothing to explain beyond the tensors
    cpu = report_lines(measured, 2 * GIB, {"allocated": 2 * GIB, "allocator_reserve": 0})[1]
    assert cpu.startswith("planned: tensors 2.00 GiB (") and "CUDA" not in cpu and cpu.endswith("= 1.00")
    # a plan written before the details carried the allocated peak: the total, as before
    assert report_lines(measured, 4 * GIB, None)[1] == "planned: 4.00 GiB; measured/planned = 0.50"
    assert report_lines(measured, None)[1] == "planned: the plan has no [estimate] to compare with"


def test_a_real_cuda_plan_prices_its_tensors_below_its_total():
    spec = load_spec("HuggingFaceTB/SmolLM2-135M-Instruct")
    m = estimate(spec, TrainingSetup(micro_batch=4, seq_len=1024), 16)
    line = report_lines(MeasuredMemory("cpu", None, None, 3 * GIB, GIB), m.total, m.details)[1]
    tensors = m.details["allocated"] - m.details["cublas_workspace"]
    assert 0 < tensors < m.total - 700 * 1024**2  # the 750 MiB context at least is not a CPU run's
    assert line.startswith(f"planned: tensors {tensors / GIB:.2f} GiB") and "adds the CUDA context" in line
