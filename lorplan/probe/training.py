"""The probe's model and training loop (worker side: imports torch, transformers, peft).

Mirrors what people run (transformers Trainer defaults): base weights bf16 on CUDA (fp32 on CPU), adapters
fp32, bf16 autocast on CUDA, SDPA attention, AdamW (fused where torch supports it), linear decay after a short
warmup, gradient clipping at 1.0. bitsandbytes 4/8-bit loading and 8-bit optimizers only on CUDA.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import time
from dataclasses import dataclass, field

import torch

from lorplan.core.errors import BadInput

ATTENTION_NAMES = {"q_proj", "k_proj", "v_proj", "o_proj", "query", "key", "value", "c_attn", "qkv_proj",
                   "Wqkv", "out_proj", "q_lin", "k_lin", "v_lin", "out_lin", "query_key_value"}
MLP_NAMES = {"gate_proj", "up_proj", "down_proj", "fc1", "fc2", "c_fc", "gate_up_proj", "w1", "w2", "w3",
             "lin1", "lin2", "dense_h_to_4h", "dense_4h_to_h"}
ENCODER_TYPES = {"bert", "roberta", "distilbert", "deberta", "deberta-v2", "electra", "xlm-roberta", "mpnet",
                 "albert", "camembert", "modernbert", "nomic_bert"}


def default_lr(task: str) -> float:
    """2e-3 for small encoders learning a head + adapters; 2e-4 for causal LMs (the common QLoRA value)."""
    return 2e-3 if task == "sequence-classification" else 2e-4


@dataclass
class Progress:
    """What the loop has done so far; the worker turns it into the result whatever way the probe ends."""

    step: int = 0
    loss: float | None = None
    eval_loss: float | None = None
    eval_accuracy: float | None = None
    tokens: int = 0
    train_seconds: float = 0.0
    trainable_params: int | None = None
    total_params: int | None = None
    micro_batch: int = 0
    batch_seq_len: int = 0
    nvml_peak_bytes: int | None = None
    notes: list[str] = field(default_factory=list)


def resolve_device(requested: str) -> torch.device:
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadInput(f"--device {requested}: torch sees no CUDA device")
        return torch.device("cuda:0")  # the scheduler narrowed CUDA_VISIBLE_DEVICES to our GPU
    return torch.device("cpu")


def _target_modules(model, targets: tuple[str, ...]):
    if targets == ("all-linear",):
        return "all-linear"
    names = set()
    for t in targets:
        if t == "attention":
            names |= ATTENTION_NAMES
        elif t == "mlp":
            names |= MLP_NAMES
        else:
            names.add(t)
    present = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    chosen = sorted(names & present)
    if not chosen:
        raise BadInput(f"--targets {','.join(targets)}: matches no linear module of this model")
    return chosen


def load_model(plan, rank: int, task: str, num_labels: int, model_path: str, device: torch.device, progress: Progress):
    """(peft model, tokenizer) for one rank, on `device`, ready to train."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    common = {"local_files_only": True, "trust_remote_code": bool(plan.trust_remote_code)}
    tokenizer = AutoTokenizer.from_pretrained(model_path, **common)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    cuda = device.type == "cuda"
    kw = dict(common, attn_implementation={"flash": "flash_attention_2"}.get(plan.attention, plan.attention))
    kw["dtype"] = torch.bfloat16 if cuda else torch.float32
    quant = plan.quant
    if quant != "none" and not cuda:
        progress.notes.append(f"quantization {quant} needs CUDA; this CPU probe loads the model unquantized")
        quant = "none"
    if quant != "none":
        from transformers import BitsAndBytesConfig

        if quant == "int8":
            kw["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        else:
            kw["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type=quant, bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=plan.double_quant)
        kw["device_map"] = {"": 0}
    if task == "sequence-classification":
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=num_labels, **kw)
        task_type = TaskType.SEQ_CLS
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path, **kw)
        task_type = TaskType.CAUSAL_LM
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if quant == "none":
        model.to(device)
    gc_kwargs = {"use_reentrant": False}
    if quant != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=plan.grad_checkpointing,
                                                gradient_checkpointing_kwargs=gc_kwargs)
    elif plan.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    config = LoraConfig(r=rank, lora_alpha=plan.alpha if plan.alpha is not None else 2 * rank,
                        lora_dropout=plan.lora_dropout, target_modules=_target_modules(model, tuple(plan.targets)),
                        task_type=task_type)
    model = get_peft_model(model, config)
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()  # adapters and the trained head in fp32, as the memory model assumes
    progress.trainable_params, progress.total_params = (int(x) for x in model.get_nb_trainable_parameters())
    return model, tokenizer


def make_optimizer(name: str, params: list, lr: float, device: torch.device, progress: Progress):
    if name in ("adamw-8bit", "paged-adamw-8bit"):
        if device.type != "cuda":
            progress.notes.append(f"optimizer {name} needs CUDA; this CPU probe uses AdamW")
        else:
            import bitsandbytes as bnb

            cls = bnb.optim.AdamW8bit if name == "adamw-8bit" else bnb.optim.PagedAdamW8bit
            return cls(params, lr=lr, weight_decay=0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, fused=True)


def lr_lambda(steps: int):
    """Linear warmup over 5% of the steps (at least 1), then linear decay to zero at `steps`."""
    warmup = max(1, round(0.05 * steps))

    def f(i: int) -> float:
        if i < warmup:
            return (i + 1) / warmup
        return max(0.0, (steps - i) / max(1, steps - warmup))

    return f


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(model, batches: list[dict], device: torch.device, classification: bool) -> tuple[float, float | None]:
    """(mean eval loss per example or per trained token, accuracy or None)."""
    model.eval()
    loss_sum, weight, correct, seen = 0.0, 0, 0, 0
    with torch.inference_mode(), autocast(device):
        for b in batches:
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            out = model(**b)
            if classification:
                n = b["labels"].shape[0]
                correct += int((out.logits.argmax(-1) == b["labels"]).sum())
                seen += n
            else:
                n = int((b["labels"][:, 1:] != -100).sum())
            loss_sum += float(out.loss) * n
            weight += n
    model.train()
    return loss_sum / max(1, weight), (correct / max(1, seen) if classification else None)


def peak_memory(device: torch.device, progress: Progress) -> dict:
    """Peak bytes: torch allocated/reserved and NVML (this process) on CUDA; peak RSS of the process."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss *= 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    out = {"rss_peak_bytes": int(rss), "allocated_peak_bytes": None, "reserved_peak_bytes": None,
           "nvml_peak_bytes": progress.nvml_peak_bytes}
    if device.type == "cuda":
        sample_nvml(progress)
        out["nvml_peak_bytes"] = progress.nvml_peak_bytes
        out["allocated_peak_bytes"] = int(torch.cuda.max_memory_allocated())
        out["reserved_peak_bytes"] = int(torch.cuda.max_memory_reserved())
    return out


def sample_nvml(progress: Progress) -> None:
    """Record this process's GPU memory as NVML sees it (includes the CUDA context); keeps the maximum."""
    try:
        import pynvml

        pynvml.nvmlInit()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
        handle = (pynvml.nvmlDeviceGetHandleByUUID(visible) if visible.startswith(("GPU-", "MIG-"))
                  else pynvml.nvmlDeviceGetHandleByIndex(int(visible)))
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == os.getpid() and proc.usedGpuMemory:
                progress.nvml_peak_bytes = max(progress.nvml_peak_bytes or 0, int(proc.usedGpuMemory))
    except Exception:  # NVML missing or refusing (containers hide pids): leave the figure unknown
        pass


def train_loop(model, stream, eval_batches, plan, lr: float, device: torch.device, classification: bool,
               pad_id: int, progress: Progress, emit, inject=None, should_stop=None) -> None:
    """Run plan.steps optimizer steps, emitting "step" and "eval" events, updating `progress`."""
    from lorplan.probe.batches import collate

    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(plan.optimizer, params, lr, device, progress)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(plan.steps))
    multiple = 8 if device.type == "cuda" else 1
    model.train()
    for step in range(1, plan.steps + 1):
        feats = next(stream)
        batch = collate(feats, pad_id, multiple)
        progress.micro_batch = len(feats)
        progress.batch_seq_len = int(batch["input_ids"].shape[1])
        ntok = int(batch["attention_mask"].sum())
        if inject is not None:
            inject(step)
        t0 = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with autocast(device):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        current_lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())  # synchronises, so dt is the real step time
        dt = time.perf_counter() - t0
        progress.step, progress.loss = step, loss_value
        progress.tokens += ntok
        progress.train_seconds += dt
        emit({"type": "step", "step": step, "loss": round(loss_value, 6), "lr": current_lr, "tokens": ntok,
              "tokens_per_second": round(ntok / dt, 1), "seconds": round(dt, 4)})
        if step % plan.eval_every == 0 or step == plan.steps:
            if device.type == "cuda":
                sample_nvml(progress)
            progress.eval_loss, progress.eval_accuracy = evaluate(model, eval_batches, device, classification)
            emit({"type": "eval", "step": step, "eval_loss": round(progress.eval_loss, 6),
                  "eval_accuracy": progress.eval_accuracy})
        if should_stop is not None and should_stop():
            break
