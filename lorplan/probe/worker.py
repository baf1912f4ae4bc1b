"""The probe process: python -m lorplan.probe.worker RUN_DIR PROBE_ID (started by the scheduler).

It loads the run's plan, its share of the data (the same seeded sample and held-out split as every other
probe of the run), the model with a LoRA adapter at its rank, trains, and writes events as it goes. However it
ends, it writes result.json (atomically) and a final event: finished, failed (with the traceback tail),
oom ("does not fit at micro-batch N"), or cancelled (SIGTERM after a cancel was asked).

Fault injection for tests (inside the real loop, before the step): LORPLAN_PROBE_INJECT="oom@3",
"raise@2:r8" or "hang@3:r16" (kind@step, optionally only for one probe id; several separated by commas).
"hang" keeps the probe mid-run until it is killed or cancelled, so fault tests do not race a fast machine.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path

from lorplan.probe.events import append_event
from lorplan.probe.runs import RunDir, atomic_write_json

TRACEBACK_LINES = 20


class Cancelled(BaseException):
    """SIGTERM arrived (a cancel, or the machine shutting down)."""


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def injector(probe_id: str, spec: str | None):
    """A per-step hook raising what LORPLAN_PROBE_INJECT asks for, or None."""
    if not spec:
        return None
    rules = []
    for item in spec.split(","):
        kind, _, rest = item.strip().partition("@")
        step_text, _, only = rest.partition(":")
        if only and only != probe_id:
            continue
        rules.append((kind, int(step_text)))
    if not rules:
        return None

    def hook(step: int) -> None:
        import torch

        for kind, at in rules:
            if step == at and kind == "oom":
                raise torch.OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate 2.00 GiB (injected at step {step} by LORPLAN_PROBE_INJECT)")
            if step == at and kind == "raise":
                raise RuntimeError(f"injected failure at step {step} (LORPLAN_PROBE_INJECT)")
            while step == at and kind == "hang":  # stay mid-run until killed or cancelled
                time.sleep(0.5)

    return hook


def detect_task(model_path: str, examples: list) -> str:
    """sequence-classification when the examples carry labels or the model is an encoder; else causal-lm."""
    import json

    from lorplan.probe.training import ENCODER_TYPES

    if any(e.label is not None for e in examples[:50]):
        return "sequence-classification"
    try:
        with open(Path(model_path) / "config.json", encoding="utf-8") as fh:
            model_type = json.load(fh).get("model_type")
    except (OSError, ValueError):
        model_type = None
    if model_type in ENCODER_TYPES:
        from lorplan.core.errors import BadInput

        raise BadInput(f"--data: the encoder model {model_path} needs labelled examples (a 'label' field)")
    return "causal-lm"


def resolve_model_path(model: str | None) -> str:
    """A local folder, or a hub id found in the local Hugging Face cache (never downloaded)."""
    from lorplan.probe.demo import demo_model_path

    if model is None:
        return demo_model_path()
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    if Path(model).name == "config.json" and Path(model).is_file():
        return str(Path(model).parent)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True)
    except Exception:
        from lorplan.core.errors import BadInput

        raise BadInput(f"--model {model}: not a local folder and not in the local Hugging Face cache") from None


def run_probe(run: RunDir, probe_id: str, emit, progress, device_name: str = "cpu", inject=None,
              should_stop=None) -> dict:
    """Train one probe; return the facts of the result (state and memory are added by the caller)."""
    import torch

    from lorplan.core.data import load_examples
    from lorplan.probe import batches as B
    from lorplan.probe import training as T
    from lorplan.probe.demo import demo_examples

    plan = run.plan()
    spec = plan.probe(probe_id)
    device = T.resolve_device(device_name)
    # the scheduler shares the cores among CPU probes; an explicit OMP_NUM_THREADS from the user wins
    if device.type == "cpu" and os.environ.get("LORPLAN_PROBE_THREADS") and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["LORPLAN_PROBE_THREADS"]))
    torch.manual_seed(plan.seed)
    model_path = resolve_model_path(plan.model)
    # one pass over the sample at most; packing fills blocks from many short examples, so it reads more
    sample = 20000 if plan.grouping == "packing" else min(20000, plan.steps * plan.micro_batch + plan.eval_examples)
    if plan.data is None:
        examples = demo_examples(seed=plan.seed)
    else:
        examples = load_examples(plan.data, limit=sample, seed=plan.seed)
    train_ex, eval_ex, digest = B.split(examples, plan.eval_examples, plan.seed)
    task = detect_task(model_path, examples)
    classification = task == "sequence-classification"
    labels = B.label_ids(examples) if classification else {}
    lr = spec.lr if spec.lr is not None else T.default_lr(task)
    model, tok = T.load_model(plan, spec.rank, task, max(2, len(labels)), model_path, device, progress)
    seq_len = min(plan.seq_len, getattr(model.config, "max_position_embeddings", None) or plan.seq_len)
    if classification:
        train_f = B.classification_features(train_ex, tok, seq_len, labels)
        eval_f = B.classification_features(eval_ex, tok, seq_len, labels)
    else:
        mask_prompt = plan.train_on != "all"
        train_f = B.causal_features(train_ex, tok, seq_len, mask_prompt)
        eval_f = B.causal_features(eval_ex, tok, seq_len, mask_prompt)
        if plan.grouping == "packing":
            train_f = B.pack(train_f, seq_len)
    multiple = 8 if device.type == "cuda" else 1
    eval_batches = [B.collate(eval_f[i : i + plan.micro_batch], tok.pad_token_id, multiple)
                    for i in range(0, len(eval_f), plan.micro_batch)]
    stream = B.batch_stream(train_f, plan.micro_batch, "length" if plan.grouping == "length" else "random", plan.seed)
    emit({"type": "started", "probe": probe_id, "rank": spec.rank, "lr": lr, "task": task, "model": model_path,
          "device": str(device), "trainable_params": progress.trainable_params, "total_params": progress.total_params,
          "train_examples": len(train_f), "eval_examples": len(eval_f), "eval_digest": digest,
          "micro_batch": plan.micro_batch, "seq_len": seq_len, "steps": plan.steps, "notes": progress.notes})
    T.train_loop(model, stream, eval_batches, plan, lr, device, classification, tok.pad_token_id, progress, emit,
                 inject=inject, should_stop=should_stop)
    return {"lr": lr, "task": task, "model": model_path, "device": str(device), "eval_digest": digest,
            "seq_len": seq_len, "train_examples": len(train_f), "eval_examples": len(eval_f)}


def run_worker(run_dir: str | Path, probe_id: str, device_name: str | None = None) -> dict:
    """Run one probe to its end and write its result file; returns the result. Never raises for a training
    problem: that is the result."""
    from lorplan.probe.training import Progress, peak_memory

    run = RunDir(Path(run_dir))
    events = run.events_path(probe_id)
    events.parent.mkdir(parents=True, exist_ok=True)
    device_name = device_name or os.environ.get("LORPLAN_PROBE_DEVICE", "cpu")

    def emit(ev: dict) -> None:
        append_event(events, ev)

    t0 = time.time()
    emit({"type": "loading", "probe": probe_id, "pid": os.getpid(), "t": round(t0, 3)})
    progress = Progress()
    facts: dict = {}
    state, message, tb = "finished", None, None
    try:
        facts = run_probe(run, probe_id, emit, progress, device_name,
                          inject=injector(probe_id, os.environ.get("LORPLAN_PROBE_INJECT")))
    except Cancelled:
        cancelled = run.cancel_marker(probe_id).exists()
        state = "cancelled" if cancelled else "failed"
        message = "cancelled by the user" if cancelled else "terminated by SIGTERM"
    except BaseException as exc:  # the result must say what happened, whatever it was
        if _is_oom(exc):
            state = "oom"
            message = (f"does not fit at micro-batch {progress.micro_batch} (sequence length {progress.batch_seq_len})"
                       if progress.micro_batch else "does not fit: out of memory while loading the model")
        else:
            state = "failed"
            message = f"{type(exc).__name__}: {exc}".strip()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()[-TRACEBACK_LINES:]
        tb = "\n".join(tb)
        if state == "failed":
            print(tb, file=sys.stderr, flush=True)
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the result is written; let nothing cut it short
    try:
        import torch

        cuda = device_name.startswith("cuda") and torch.cuda.is_available()
        memory = peak_memory(torch.device("cuda:0" if cuda else "cpu"), progress)
    except BaseException:
        memory = {}
    try:
        plan = run.plan()
        spec, steps = plan.probe(probe_id), plan.steps
        rank, lr = spec.rank, spec.lr
    except BaseException:
        rank = lr = steps = None
    result = {
        "probe": probe_id, "rank": rank, "lr": lr, "state": state, "step": progress.step, "steps": steps,
        "loss": progress.loss, "eval_loss": progress.eval_loss, "eval_accuracy": progress.eval_accuracy,
        "tokens": progress.tokens,
        "tokens_per_second": round(progress.tokens / progress.train_seconds, 1) if progress.train_seconds else None,
        "peak_memory_bytes": memory.get("reserved_peak_bytes") or memory.get("rss_peak_bytes"), "memory": memory,
        "wall_seconds": round(time.time() - t0, 2), "train_seconds": round(progress.train_seconds, 3),
        "trainable_params": progress.trainable_params, "total_params": progress.total_params,
        "micro_batch": progress.micro_batch, "notes": progress.notes,
        "message": message, "traceback": tb, **facts,
    }
    atomic_write_json(run.result_path(probe_id), result)
    emit({"type": state, "step": progress.step, "message": message})
    return result


def _on_sigterm(signum, frame):
    raise Cancelled()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped terminal is not a reason to stop
    result = run_worker(argv[0], argv[1])
    return 0 if result["state"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
