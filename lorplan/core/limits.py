"""Bounds beyond which a setup value is a typo, not a plan: the one place both front ends read them from.

`TrainingSetup` refuses a value beyond them (`lorplan plan`, `recommend`, a plan file), and the planner's setup
form says so as the value is typed, so a micro-batch one accepts is never refused by the other. A light module
(no imports) so the planner's form can read it at start-up without loading the memory model.
"""

from __future__ import annotations

# The fit solver searches micro-batches up to MAX_MICRO_BATCH (a table's "max mb" can reach it, so the form must
# accept what the table offers).
MAX_MICRO_BATCH = 1 << 20
MAX_SEQ_LEN = 1 << 24  # no released model's context reaches it
MAX_GPUS = 1 << 16
# Probes at once (`lorplan probe start --max-parallel`): each is a process holding a model, so a thousand is
# beyond any machine; 99999999999999 built as many device slots and hung `probe start` until memory ran out.
MAX_PARALLEL_PROBES = 1024
# A classifier head's classes (--num-labels, a plan's model.num_labels, the largest integer label + 1 of a data
# file): the largest public single-model label sets (extreme classification, e.g. Amazon-670K) stay below a
# million, while a typo such as 100000000 would price a head of billions of parameters without a word.
MAX_NUM_LABELS = 1 << 20
# A data-size count (`lorplan recommend --trained-tokens`, `--examples`): 10^15 is more than any training set
# (the largest published pretraining corpora are tens of trillions of tokens, 10^13), while 1e30 read as a count
# printed a 31-digit token count and 1e400 overflowed the recommender's float arithmetic (a traceback).
MAX_COUNT = 10**15
# A GPU memory budget (`--gpu-memory` and the planner's budget field: core.units.parse_budget): no accelerator has
# anywhere near 64 TiB, so 65TiB is a typo, not a plan.
MAX_GPU_MEMORY_BYTES = 64 * 1024**4
# The least GPU memory budget (core.units.parse_budget): every CUDA GPU has had at least 64 MiB (the first ones, GeForce 8
# series in 2006, 256 MiB in most cards), and a CUDA context alone takes 0.3-1.3 GiB (DEFAULT_CUDA_CONTEXT_BYTES), so
# a budget below it is a typo for a larger unit (1KB, 24M), not a card: it priced every rank as "does not fit".
MIN_GPU_MEMORY_BYTES = 64 * 1024**2
# A CUDA context (`lorplan plan --cuda-context`, a plan's estimate.cuda_context_bytes): NVML measures 0.3-1.3 GiB
# (core.memory.types.DEFAULT_CUDA_CONTEXT_BYTES); 64 GiB leaves room for any driver, while 1e300 read as a size
# priced a 301-digit context. 0 is a context: a setup priced without it (as torch.cuda.max_memory_allocated counts).
MAX_CUDA_CONTEXT_BYTES = 64 * 1024**3
# A training seed (a plan's training.seed): transformers.set_seed seeds numpy, whose legacy seeding takes 32 bits;
# 2**32 ended `lorplan train` in a traceback after the model had loaded.
MAX_SEED = 2**32 - 1
# Optimizer steps (a plan's training.max_steps, save_steps and logging_steps; `probe start --steps` and
# `--eval-every`, `recommend --probe-steps`): 10^9 steps is three years at ten steps a second, more than a tiny
# model manages, so more is a typo; `probe start --steps 99999999999999999999999` started a run and a plan's
# max_steps = 9.2e18 loaded and exported.
MAX_STEPS = 10**9
# Passes over the data (a plan's training.epochs, `recommend --epochs`): fine-tuning recipes train 1 to 10 epochs
# and experiments that overfit a few examples some hundreds; 10^4 leaves room for those, while epochs = 1e308
# loaded and exported.
MAX_EPOCHS = 10**4
# Micro-batches accumulated per optimizer step (a plan's training.gradient_accumulation): 2^16 reaches the largest
# batches published (65,536 sequences, You et al. 2020, LAMB) at micro-batch 1 on one GPU.
MAX_GRADIENT_ACCUMULATION = 1 << 16
# A LoRA rank (a plan's lora.r, its rank_pattern ranks and estimate.rank; the planner's custom rank): a rank is at
# most min(in, out) of an adapted module, and the widest public models' hidden sizes stay below 2^15 (Llama 3.1
# 405B: 16,384), while a plan's r = 99999999999999999999 was reported only as not the estimate's rank.
MAX_RANK = 1 << 16
# A learning rate (a plan's training.learning_rate, `probe start --lr`): LoRA with AdamW trains at about 1e-5 to
# 1e-3 (peft's and transformers' examples use 1e-4 to 3e-4), but SGD takes larger rates (3.2 at batch 8k, Goyal et
# al. 2017, arXiv 1706.02677), and under LoRA's alpha/r scaling an SGD step on the adapted weight shrinks by about
# (alpha/r)^2, so a plan with optimizer = "sgd" may want a rate above 1. 100 leaves room for those while
# learning_rate = 1e300, which was exported and trained at, is refused as the typo it is.
MAX_LEARNING_RATE = 100.0
