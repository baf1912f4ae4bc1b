"""The training loop of `lorplan train`: model + LoRA from the plan, AdamW-family optimizer, LR schedule,
gradient accumulation, atomic checkpoints, resume, the final adapter in peft's format, and measured memory.

Data order is a pure function of (seed, epoch), so a resumed run sees exactly the micro-batches the killed run
would have seen next. Several GPUs: run under `accelerate launch` (see lorplan.train.launch); each process
takes its own slice of every global batch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lorplan.core.data.encode import IGNORE_INDEX
from lorplan.core.errors import BadInput
from lorplan.train import checkpoint as ckpt
from lorplan.train.data import collate, resolve_path, split, tokenize
from lorplan.train.memory import MeasuredMemory, measure, report_lines, reset_cuda_peak, rss_now_bytes
from lorplan.train.stop import StopRequest, TrainingInterrupted

_TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_ATTN = {"sdpa": "sdpa", "eager": "eager", "flash": "flash_attention_2"}


@dataclass(frozen=True)
class TrainResult:
    output_dir: str
    adapter_dir: str
    steps: int
    resumed_from: int | None
    final_loss: float | None
    eval_loss: float | None
    memory: MeasuredMemory
    estimate_total_bytes: int | None
    notes: tuple[str, ...]
    train_examples: int = 0  # sequences (packed blocks with packing) in the training split
    trained_tokens: int | None = None  # causal LM: labels that carry the loss in one pass (data.train_on decides)


def _log(out: Path, record: dict, main: bool) -> None:
    if main:
        with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def _source(plan, plan_path: str | None) -> str:
    """What from_pretrained loads: a hub id, or the local folder (found beside the plan when relative)."""
    if plan.model.path is None:
        return plan.model.source
    return str(resolve_path(plan.model.path, plan_path))


def _load_model(plan, source: str, device: str, notes: list[str]):
    import torch
    import transformers

    t, q = plan.training, plan.quantization
    kwargs: dict = {
        "revision": plan.model.revision,
        "trust_remote_code": plan.model.trust_remote_code,
        "attn_implementation": _ATTN[t.attention],
    }
    if device == "cuda":
        kwargs["dtype"] = getattr(torch, _TORCH_DTYPES[t.precision])
        if q.load_in_4bit or q.load_in_8bit:
            storage = q.bnb_4bit_compute_dtype if plan.hardware.sharding in ("fsdp", "zero3") else "uint8"
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
                load_in_4bit=q.load_in_4bit,
                load_in_8bit=q.load_in_8bit,
                bnb_4bit_quant_type=q.bnb_4bit_quant_type,
                bnb_4bit_use_double_quant=q.bnb_4bit_use_double_quant,
                bnb_4bit_compute_dtype=getattr(torch, q.bnb_4bit_compute_dtype),
                bnb_4bit_quant_storage=getattr(torch, storage),
            )
        if plan.hardware.sharding not in ("fsdp", "zero3"):  # sharded runs load on CPU, then shard
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    else:
        kwargs["dtype"] = torch.float32
        notes.append("CPU run: weights and compute in fp32 (bf16 autocast is a GPU setting)")
        if q.load_in_4bit or q.load_in_8bit:
            notes.append("CPU run: bitsandbytes quantization skipped (it needs CUDA here)")
    if t.attention == "flash" and device != "cuda":
        kwargs["attn_implementation"] = "sdpa"
    if plan.model.task == "sequence-classification":
        kwargs["num_labels"] = plan.model.num_labels or 2
        cls = transformers.AutoModelForSequenceClassification
    else:
        cls = transformers.AutoModelForCausalLM
    try:
        model = cls.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise BadInput(f"model {source!r}: cannot load it ({str(exc).splitlines()[0]})") from None
    return model, kwargs.get("quantization_config") is not None


def _optimizer(plan, params, device: str, notes: list[str]):
    import torch

    t = plan.training
    if t.optimizer in ("adamw-8bit", "paged-adamw-8bit") and device != "cuda":
        notes.append(f"CPU run: {t.optimizer} (bitsandbytes) replaced by torch AdamW")
        return torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    if t.optimizer in ("adamw-8bit", "paged-adamw-8bit"):
        import bitsandbytes as bnb

        cls = bnb.optim.PagedAdamW8bit if t.optimizer.startswith("paged") else bnb.optim.AdamW8bit
        return cls(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    momentum = 0.9 if t.optimizer == "sgd-momentum" else 0.0
    return torch.optim.SGD(params, lr=t.learning_rate, momentum=momentum, weight_decay=t.weight_decay)


def _batches(items, micro_batch: int, world: int, rank: int, seed: int, start: int):
    """Endless micro-batches from index `start` on: epoch e uses permutation(seed + e)."""
    import torch

    per_epoch = max(1, math.ceil(len(items) / (micro_batch * world)))
    k = start
    perm_epoch, perm = -1, []
    while True:
        epoch, j = divmod(k, per_epoch)
        if epoch != perm_epoch:
            g = torch.Generator().manual_seed(seed + epoch)
            perm = torch.randperm(len(items), generator=g).tolist()
            perm_epoch = epoch
        lo = (j * world + rank) * micro_batch
        chunk = [items[i] for i in perm[lo : lo + micro_batch]] or [items[perm[lo % len(perm)]]]
        yield epoch, chunk
        k += 1


def run_training(plan, *, plan_path: str | None = None, output_dir: str | None = None,
                 max_steps: int | None = None, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train the plan; see the module docstring. Raises BadInput for anything the user can fix."""
    t = plan.training
    out = Path(output_dir or t.output_dir).expanduser()
    latest = ckpt.latest_checkpoint(out)
    adapter_dir = out / "adapter"
    if adapter_dir.exists():  # --resume too: a finished run's adapter is never trained over
        raise BadInput(f"{out} holds a finished run (its adapter is in {adapter_dir}): choose another --output")
    if not resume and latest is not None:
        raise BadInput(f"{out} holds checkpoint-{latest[0]} of an earlier run: pass --resume to continue it, "
                       "or --output to start elsewhere")
    import torch
    import transformers
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from tqdm.auto import tqdm

    from lorplan.core.data import load_examples
    from lorplan.core.export.peft import lora_config_kwargs

    notes: list[str] = []
    use_cuda = torch.cuda.is_available() and plan.hardware.gpus > 0
    device = "cuda" if use_cuda else "cpu"
    mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[t.precision] if use_cuda else "no"
    accelerator = Accelerator(cpu=not use_cuda, mixed_precision=mixed)
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        ckpt.clean_partial(out)
    transformers.set_seed(t.seed)
    rss_before = rss_now_bytes()
    reset_cuda_peak()

    data_path = resolve_path(plan.data.path, plan_path)
    examples = load_examples(data_path, schema=None if plan.data.schema == "auto" else plan.data.schema)
    source = _source(plan, plan_path)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(
            source, revision=plan.model.revision, trust_remote_code=plan.model.trust_remote_code)
    except OSError as exc:
        raise BadInput(f"model {source!r}: no tokenizer ({str(exc).splitlines()[0]})") from None
    items = tokenize(examples, tok, task=plan.model.task, seq_len=t.seq_len, packing=t.packing,
                     mask_prompt=plan.data.train_on != "all")
    train_items, eval_items = split(items, plan.data.eval_split, t.seed)
    if not train_items:
        raise BadInput(f"{data_path}: no usable training examples")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    model, quantized = _load_model(plan, source, device, notes)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = pad_id
    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t.gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    elif t.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # gradient_checkpointing_enable is deprecated
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    kwargs = lora_config_kwargs(plan)
    kwargs["base_model_name_or_path"] = plan.model.source
    model = get_peft_model(model, LoraConfig(**kwargs))
    optimizer = _optimizer(plan, [p for p in model.parameters() if p.requires_grad], device, notes)

    world, rank = accelerator.num_processes, accelerator.process_index
    per_epoch = max(1, math.ceil(len(train_items) / (t.micro_batch * world)))
    total = max_steps or t.max_steps or max(1, math.ceil((t.epochs or 1.0) * per_epoch / t.gradient_accumulation))
    scheduler = transformers.get_scheduler(t.lr_scheduler, optimizer,
                                           num_warmup_steps=int(t.warmup_ratio * total), num_training_steps=total)
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is not None:  # no DataLoader goes through prepare(), so DeepSpeed is told the batch size
        plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = t.micro_batch
    model, optimizer = accelerator.prepare(model, optimizer)

    start, resumed_from = 0, None
    if resume and latest is not None:
        state = ckpt.load_checkpoint(latest[1], model, optimizer, scheduler, accelerator)
        start = resumed_from = int(state["step"])
        if main:
            print(f"resumed from checkpoint-{start} (step {start} of {total})", flush=True)
    elif resume and main:
        print(f"no checkpoint in {out}: starting from step 0", flush=True)

    batches = _batches(train_items, t.micro_batch, world, rank, t.seed, start * t.gradient_accumulation)
    bar = tqdm(total=total, initial=start, desc="training", unit="step", disable=not (progress and main),
               dynamic_ncols=True)
    model.train()
    loss_value = None
    t0 = time.monotonic()
    stop, interrupted = StopRequest(), None
    with stop:
        for step in range(start + 1, total + 1):
            accum = 0.0
            for micro in range(t.gradient_accumulation):
                epoch, chunk = next(batches)
                batch = {k: v.to(accelerator.device) for k, v in collate(chunk, pad_id).items()}
                sync = micro == t.gradient_accumulation - 1
                ctx = accelerator.no_sync(model) if (not sync and world > 1) else _null()
                with ctx, accelerator.autocast():
                    loss = model(**batch).loss / t.gradient_accumulation
                    accelerator.backward(loss)
                accum += float(loss.detach())
            accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = accum
            bar.update(1)
            bar.set_postfix(loss=f"{accum:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}", epoch=epoch)
            if step % t.logging_steps == 0 or step == total:
                _log(out, {"step": step, "loss": accum, "lr": scheduler.get_last_lr()[0], "epoch": epoch,
                           "seconds": round(time.monotonic() - t0, 3)}, main)
            saved = step % t.save_steps == 0 and step < total
            if saved:
                ckpt.save_checkpoint(out, step, model, optimizer, scheduler, {"total": total}, accelerator)
            if step < total and _stop_asked(stop, accelerator):
                if not saved:
                    ckpt.save_checkpoint(out, step, model, optimizer, scheduler, {"total": total}, accelerator)
                interrupted = step
                break
    bar.close()
    if interrupted is not None:
        name = signal.Signals(stop.signum).name if stop.signum else "a signal"
        raise TrainingInterrupted(f"stopped by {name} after step {interrupted} of {total}: checkpoint-{interrupted} "
                                  f"saved in {out}; continue with --resume", stop.signum or signal.SIGTERM)

    eval_loss = _evaluate(model, eval_items, t.micro_batch, pad_id, accelerator) if eval_items else None
    measured = measure(device, rss_before)
    # every process takes part in gathering a sharded (FSDP / ZeRO-3) state dict; only the main one writes
    state = accelerator.get_state_dict(model)
    if main:
        _save_adapter(accelerator.unwrap_model(model), tok, adapter_dir, state)
    est = plan.estimate.total_bytes if plan.estimate is not None else None
    trained = None if plan.model.task == "sequence-classification" else sum(
        sum(1 for label in item.labels or () if label != IGNORE_INDEX) for item in train_items)
    result = TrainResult(str(out), str(adapter_dir), total, resumed_from, loss_value, eval_loss, measured, est,
                         tuple(notes), len(train_items), trained)
    if main:
        (out / "result.json").write_text(json.dumps(asdict(result), indent=2))
        for line in notes:
            print(f"note: {line}")
        if trained is not None:
            print(f"trained on {len(train_items):,} sequences, {trained:,} tokens with loss per epoch "
                  f"(data.train_on = {plan.data.train_on!r})")
        if eval_loss is not None:
            print(f"eval loss: {eval_loss:.4f}")
        for line in report_lines(measured, est):
            print(line)
        print(f"adapter saved to {adapter_dir}")
    return result


def _stop_asked(stop: StopRequest, accelerator) -> bool:
    """Whether any process was asked to stop (all processes agree, so they stop at the same step)."""
    if accelerator.num_processes == 1:
        return stop.signum is not None
    import torch

    flag = torch.tensor([1 if stop.signum is not None else 0], device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="max").item())


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _evaluate(model, items, micro_batch: int, pad_id: int, accelerator) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(items), micro_batch):
            batch = {key: v.to(accelerator.device) for key, v in collate(items[k : k + micro_batch], pad_id).items()}
            with accelerator.autocast():
                total += float(model(**batch).loss) * len(batch["input_ids"])
            count += len(batch["input_ids"])
    model.train()
    return total / max(1, count)


def _save_adapter(model, tok, adapter_dir: Path, state_dict) -> None:
    """save_pretrained into a temporary folder, then rename: the adapter folder is whole or absent."""
    tmp = adapter_dir.with_name(f".{adapter_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), state_dict=state_dict)
    tok.save_pretrained(str(tmp))
    os.replace(tmp, adapter_dir)
