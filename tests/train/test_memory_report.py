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
    assert lines[1].startswith("planned: allocated ") and lines[1].endswith("(with the CUDA context)")
    # the ratios on a line of their own, each named by the kind it compares, as the CPU's ratio is
    assert lines[2].startswith("measured/planned: allocated ")
    ratios = dict(part.rsplit(" ", 1) for part in lines[2].split("measured/planned: ")[1].split(", "))
    assert set(ratios) == {"allocated", "reserved", "process (NVML)"}
    assert abs(float(ratios["allocated"]) - 5.743 * GIB / d["allocated"]) < 0.006
    assert abs(float(ratios["reserved"]) - 7.129 * GIB / (d["allocated"] + d["allocator_reserve"])) < 0.006
    assert abs(float(ratios["process (NVML)"]) - 7.869 * GIB / m.total) < 0.006
    # no NVML reading (a driver without per-process figures): the two torch ratios only
    no_nvml = report_lines(MeasuredMemory("cuda", GIB, 2 * GIB, 3 * GIB, GIB, GIB, None), m.total, d)[2]
    assert "process (NVML)" not in no_nvml and "reserved " in no_nvml
    # a plan written before the details carried the allocated peak: reserved against the total, as before
    old = report_lines(measured, m.total, None)
    assert old[1] == f"planned: {m.total / GIB:.2f} GiB in all (the plan's [estimate] gives no finer figure)"
    assert old[2] == (f"measured/planned: 7.13 GiB reserved peak / {m.total / GIB:.2f} GiB planned in all = "
                      f"{7.129 * GIB / m.total:.2f}")


def test_cpu_compares_the_rss_growth_with_the_estimates_tensors_not_the_cuda_total():
    measured = MeasuredMemory("cpu", None, None, 3 * GIB, GIB)
    # a plan priced for CUDA: allocated 2.5 GiB of which 64 MiB cuBLAS workspaces; total 4 GiB with the context
    d = {"allocated": int(2.5 * GIB), "cublas_workspace": 64 * 1024**2, "allocator_reserve": GIB // 2}
    lines = report_lines(measured, 4 * GIB, d)
    # the growth counts from before the model was loaded: its weights are in it, as they are in the estimate
    assert lines[0].startswith("peak memory (CPU RSS): 3.00 GiB, of which 2.00 GiB since before the model was "
                               "loaded")
    tensors = d["allocated"] - d["cublas_workspace"]
    assert lines[1].startswith(f"planned: tensors {tensors / GIB:.2f} GiB (weights, adapter")
    assert "its total 4.00 GiB adds the CUDA context" in lines[1] and "measured/planned" not in lines[1]
    # the ratio names what was measured and what was planned, with both figures
    assert lines[2] == (f"measured/planned: 2.00 GiB RSS growth since before the model was loaded / "
                        f"{tensors / GIB:.2f} GiB of tensors planned = {2 * GIB / tensors:.2f} (CPU: RSS counts "
                        "the allocator's, Python's and the libraries' memory too)")
    # a plan priced for CPU (no workspaces, total = allocated): nothing to explain beyond the tensors
    cpu = report_lines(measured, 2 * GIB, {"allocated": 2 * GIB, "allocator_reserve": 0})
    assert cpu[1].startswith("planned: tensors 2.00 GiB (") and "CUDA" not in cpu[1]
    assert " / 2.00 GiB of tensors planned = 1.00 (" in cpu[2]
    # a plan written before the details carried the allocated peak: the total
    old = report_lines(measured, 4 * GIB, None)
    assert old[2] == ("measured/planned: 2.00 GiB RSS growth since before the model was loaded / 4.00 GiB planned "
                      "in all = 0.50 (CPU: RSS counts the allocator's, Python's and the libraries' memory too)")
    assert report_lines(measured, None)[1:] == ["planned: the plan has no [estimate] to compare with"]
    assert report_lines(measured, None)[1] == "planned: the plan has no [estimate] to compare with"


def test_a_real_cuda_plan_prices_its_tensors_below_its_total():
    spec = load_spec("HuggingFaceTB/SmolLM2-135M-Instruct")
    m = estimate(spec, TrainingSetup(micro_batch=4, seq_len=1024), 16)
    lines = report_lines(MeasuredMemory("cpu", None, None, 3 * GIB, GIB), m.total, m.details)
    tensors = m.details["allocated"] - m.details["cublas_workspace"]
    assert 0 < tensors < m.total - 700 * 1024**2  # the 750 MiB context at least is not a CPU run's
    assert lines[1].startswith(f"planned: tensors {tensors / GIB:.2f} GiB") and "adds the CUDA context" in lines[1]
    assert f" / {tensors / GIB:.2f} GiB of tensors planned = " in lines[2]
