"""The one training engine: `lorplan train` runs a plan to its end with it, a probe runs a plan briefly.

    engine = build_engine(plan)                 # data, model + LoRA, optimizer, schedule, accelerate
    run_steps(engine, on_step=..., on_eval=...) # optimizer steps with gradient accumulation and clipping
    evaluate(engine)                            # held-out loss (per trained token), accuracy
    engine.meter.measure()                      # peak memory (lorplan.train.memory)

Gradient accumulation, autocast and clipping (max norm 1.0, Trainer's default) go through accelerate, so the
same code runs on CPU, one GPU, or several under `accelerate launch` (each process takes its own slice of
every global batch).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lorplan.core.data.encode import IGNORE_INDEX
from lorplan.core.errors import BadInput
from lorplan.train import data as D
from lorplan.train.memory import MemoryMeter
from lorplan.train.model import build_model, load_config, load_tokenizer, model_folder
from lorplan.train.optim import build_optimizer, build_scheduler
from lorplan.train.paths import resolve_path

MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class StepStats:
    """One optimizer step: mean loss over its micro-batches, the learning rate it used, the 0-based pass over the
    data its last micro-batch came from (epoch), this process's input tokens of the step (padding excluded),
    wall seconds (loss read back, so the step really ended), and its largest micro-batch shape. `lorplan train`
    logs the run's counts instead: Engine.epochs_done and Engine.step_tokens."""

    step: int
    loss: float
    lr: float
    epoch: int
    tokens: int
    seconds: float
    micro_batch: int
    seq_len: int


@dataclass(frozen=True)
class EvalStats:
    loss: float  # mean per trained token (causal LM) or per example (classification)
    accuracy: float | None  # classification only
    items: int


@dataclass
class Engine:
    """Everything a run needs, built from a plan by build_engine."""

    plan: object
    device: str  # "cuda" or "cpu"
    accelerator: object
    model: object
    tokenizer: object
    optimizer: object
    scheduler: object
    spec: object  # lorplan.core.model.ModelSpec of the model folder
    folder: Path
    train_items: list
    eval_items: list
    pad_id: int
    total_steps: int
    seq_len: int
    meter: MemoryMeter
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    batch_shape: tuple[int, int] = (0, 0)  # (rows, width) of the micro-batch going forward now
    classes: dict = field(default_factory=dict)  # classification: class id -> the label as the data writes it

    @property
    def classification(self) -> bool:
        return self.plan.model.task == "sequence-classification"

    @property
    def trained_tokens(self) -> int | None:
        """Causal LM: labels that carry the loss in one pass over the training split."""
        return None if self.classification else sum(x.trained for x in self.train_items)

    def epochs_done(self, step: int) -> Fraction:
        """Passes over the training split that steps 1..step made, exactly (transformers' Trainer logs the same
        float `epoch`: micro-batches done / micro-batches per epoch): 1 after an epoch's last step."""
        t, world = self.plan.training, self.accelerator.num_processes
        per_epoch = D.micro_batches_per_epoch(len(self.train_items), t.micro_batch, world)
        return Fraction(step * t.gradient_accumulation, per_epoch)

    def step_tokens(self) -> Iterator[int]:
        """Endless input tokens (padding left out) of every optimizer step from step 1 on, all processes' together:
        a pure function of the data order, which every process knows, so no process waits on another to count."""
        t = self.plan.training
        micro = D.global_tokens(self.train_items, t.micro_batch, t.seed, self.accelerator.num_processes)
        while True:
            yield sum(next(micro) for _ in range(t.gradient_accumulation))

    def micro_batches(self, start_step: int = 0) -> Iterator[tuple[int, list]]:
        """This process's micro-batches from optimizer step start_step on."""
        t, acc = self.plan.training, self.accelerator
        return D.micro_batches(self.train_items, t.micro_batch, t.seed, start_step * t.gradient_accumulation,
                               acc.num_processes, acc.process_index)


def run_device(plan) -> str:
    """Where `plan` trains: "cuda" when torch sees a GPU and the plan asks for one (hardware.gpus > 0), else
    "cpu" (lorplan train's CPU settings decide by it too: threads, bitsandbytes)."""
    import torch

    return "cuda" if torch.cuda.is_available() and plan.hardware.gpus > 0 else "cpu"


def _accelerator(plan, device: str):
    from accelerate import Accelerator

    from lorplan.core.vocab import ACCELERATE_MIXED_PRECISION, DType

    precision = DType(plan.training.precision) if device == "cuda" else DType.FP32
    mixed = ACCELERATE_MIXED_PRECISION[precision]
    return Accelerator(cpu=device != "cuda", mixed_precision=mixed)


def _items(plan, tok, spec, examples, plan_path, max_eval, notes, split_seed=None) -> tuple[list, list, int, dict]:
    from lorplan.core.data import load_examples
    from lorplan.core.memory.bounds import context_tokens
    from lorplan.core.memory.types import TrainingSetup

    t = plan.training
    seq_len = t.seq_len
    # the positions the model reaches: its context, times the plan's linear RoPE scaling (lorplan plan
    # --rope-scaling), which exists to train rows longer than the context
    reach = context_tokens(spec, TrainingSetup(seq_len=seq_len, rope_scaling=plan.model.rope_scaling))
    if reach is not None and seq_len > reach:
        seq_len = reach
        notes.append(f"seq_len {t.seq_len} cut to the model's {seq_len} positions")
    # named by the plan's key under `lorplan train`, as its other problems are (probes give the examples)
    where = f"{plan_path}: data.path {plan.data.path}" if plan_path else f"data {plan.data.path}"
    if examples is None:
        path = resolve_path(plan.data.path, plan_path)
        examples = load_examples(path, schema=None if plan.data.schema == "auto" else plan.data.schema)
    items = D.tokenize(examples, tok, task=plan.model.task, seq_len=seq_len, packing=t.packing,
                       mask_prompt=plan.data.train_on != "all", where=where)
    classes = {}
    if plan.model.task == "sequence-classification":
        from lorplan.core.data.labels import by_id, check_classes, check_head

        classes = by_id(D.class_ids(examples))
        check_classes(classes.values(), where)  # every row read: the start checks read the first 20,000
        check_head((x.label for x in items), plan.model.num_labels or 2, where)
    train, held = D.split(items, plan.data.eval_split, t.seed if split_seed is None else split_seed, max_eval)
    if not train:
        raise BadInput(f"{where}: no usable training examples")
    return train, held, seq_len, classes


def _freeze_adapters(model) -> None:
    """Freeze every LoRA weight (peft names them lora_*); BadInput when nothing else is left to train."""
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        raise BadInput("with the adapters frozen nothing is left to train (no classifier head or modules_to_save)")


def total_steps(plan, n_train_items: int, world: int = 1, max_steps: int | None = None) -> int:
    """Optimizer steps of the run: max_steps (argument, then plan), else epochs over the training split."""
    t = plan.training
    if max_steps or t.max_steps:
        return int(max_steps or t.max_steps)
    per_epoch = D.micro_batches_per_epoch(n_train_items, t.micro_batch, world)
    return max(1, math.ceil((t.epochs or 1.0) * per_epoch / t.gradient_accumulation))


def build_engine(plan, *, plan_path: str | None = None, examples: list | None = None,
                 max_steps: int | None = None, max_eval: int | None = None, split_seed: int | None = None,
                 train_adapters: bool = True, load_bar: bool = False) -> Engine:
    """Build the run of `plan`: device (CUDA when available and hardware.gpus > 0), data (`examples` instead
    of reading data.path when given; at most max_eval held out), model + LoRA, optimizer and schedule over
    max_steps (else the plan's length), all prepared by accelerate. Seeds with training.seed first, so two
    engines of one plan start identical. BadInput for anything the user can fix.

    split_seed: the seed of the held-out split (default training.seed), so runs that differ only in their
    training seed can be evaluated on the same examples. train_adapters=False freezes the LoRA weights at
    their start (B = 0, so they add nothing): only the rest trains, e.g. a classifier head alone, the base a
    rank is compared with. load_bar: show transformers' "Loading weights" bar (`lorplan train` on a terminal)."""
    import transformers

    from lorplan.core.model import load_spec

    t0 = time.monotonic()
    notes: list[str] = []
    device = run_device(plan)
    accelerator = _accelerator(plan, device)
    meter = MemoryMeter(device, accelerator.local_process_index)
    meter.start()
    transformers.set_seed(plan.training.seed)
    folder = model_folder(plan.model, plan_path)
    spec = load_spec(str(folder), trust_remote_code=plan.model.trust_remote_code)
    config = load_config(plan, folder)  # read once: the tokenizer and build_model's checks take it
    tok = load_tokenizer(plan, folder, config)
    train, held, seq_len, classes = _items(plan, tok, spec, examples, plan_path, max_eval, notes, split_seed)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    model = build_model(plan, folder, spec, device, pad_id, notes, load_bar, config=config)
    if not train_adapters:
        _freeze_adapters(model)
    optimizer = build_optimizer(plan, model, device, notes)
    total = total_steps(plan, len(train), accelerator.num_processes, max_steps)
    scheduler = build_scheduler(plan, optimizer, total)
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is not None:  # no DataLoader goes through prepare(), so DeepSpeed is told the batch size
        plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = plan.training.micro_batch
    model, optimizer = accelerator.prepare(model, optimizer)
    return Engine(plan, device, accelerator, model, tok, optimizer, scheduler, spec, folder, train, held, pad_id,
                  total, seq_len, meter, time.monotonic() - t0, notes, classes=classes)


def train_step(engine: Engine, batches: Iterator[tuple[int, list]], step: int) -> StepStats:
    """One optimizer step over gradient_accumulation micro-batches from `batches`."""
    acc, model, ga = engine.accelerator, engine.model, engine.plan.training.gradient_accumulation
    t0 = time.perf_counter()
    total, tokens, rows, width, epoch = 0.0, 0, 0, 0, 0
    for micro in range(ga):
        epoch, chunk = next(batches)
        batch = D.collate(chunk, engine.pad_id)
        engine.batch_shape = (len(chunk), int(batch["input_ids"].shape[1]))
        rows, width = max(rows, engine.batch_shape[0]), max(width, engine.batch_shape[1])
        tokens += int(batch["attention_mask"].sum())
        batch = {k: v.to(acc.device) for k, v in batch.items()}
        last = micro == ga - 1
        sync = acc.no_sync(model) if (not last and acc.num_processes > 1) else contextlib.nullcontext()
        with sync, acc.autocast():
            loss = model(**batch).loss / ga
            acc.backward(loss)
        total += float(loss.detach())
    acc.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], MAX_GRAD_NORM)
    lr = engine.scheduler.get_last_lr()[0]
    engine.optimizer.step()
    engine.scheduler.step()
    engine.optimizer.zero_grad(set_to_none=True)
    return StepStats(step, total, lr, epoch, tokens, time.perf_counter() - t0, rows, width)


def evaluate(engine: Engine) -> EvalStats:
    """Loss on the held-out split, weighted by trained tokens after the causal shift (causal LM) or by
    examples (classification, with accuracy). The model is back in train mode afterwards."""
    import torch

    acc, model, items, mb = engine.accelerator, engine.model, engine.eval_items, engine.plan.training.micro_batch
    model.eval()
    loss_sum, weight, correct = 0.0, 0, 0
    with torch.no_grad():
        for k in range(0, len(items), mb):
            batch = {key: v.to(acc.device) for key, v in D.collate(items[k : k + mb], engine.pad_id).items()}
            with acc.autocast():
                out = model(**batch)
            labels = batch["labels"]
            if engine.classification:
                n = int(labels.shape[0])
                correct += int((out.logits.argmax(-1) == labels).sum())
            else:
                n = int((labels[:, 1:] != IGNORE_INDEX).sum())
            loss_sum += float(out.loss) * n
            weight += n
    model.train()
    accuracy = correct / max(1, len(items)) if engine.classification else None
    return EvalStats(loss_sum / max(1, weight), accuracy, len(items))


def run_steps(engine: Engine, *, start: int = 0, on_step: Callable[[StepStats], None] | None = None,
              eval_every: int | None = None, on_eval: Callable[[int, EvalStats], None] | None = None,
              before_step: Callable[[int], None] | None = None,
              should_stop: Callable[[int], bool] | None = None) -> int:
    """Train from step start + 1 to engine.total_steps; returns the last step done.

    Evaluates (when there is a held-out split) every eval_every steps and after the last one. before_step(n)
    runs before step n (fault injection); should_stop(n), asked after each step but the last, ends the run
    early when it returns True.
    """
    batches = engine.micro_batches(start)
    engine.model.train()
    step = start
    for step in range(start + 1, engine.total_steps + 1):
        if before_step is not None:
            before_step(step)
        stats = train_step(engine, batches, step)
        if on_step is not None:
            on_step(stats)
        last = step == engine.total_steps
        if engine.eval_items and (last or (eval_every and step % eval_every == 0)):
            engine.meter.sample()
            result = evaluate(engine)
            if on_eval is not None:
                on_eval(step, result)
        if not last and should_stop is not None and should_stop(step):
            break
    return step
