#!/usr/bin/env bash
# The GPU checks in one command, on the lent GPU machine (prepared by benchmarks/gpu_prepare.sh):
#     run(command="bash benchmarks/gpu_run.sh", carry=[".gpu"], timeout_s=540)
# Installs the carried wheels into /tmp/site, then runs gpu_memory_check.py (bf16, QLoRA NF4 and NF4 without peft's
# prepare_model_for_kbit_training, with and without gradient checkpointing), gpu_probe_check.py (probes through
# the real scheduler and lorplan's engine: NF4, bf16, and what the first H200 run left unchecked, LLM.int8, FP4,
# 8-bit and paged 8-bit AdamW), its --train-kbit check (lorplan train's engine on NF4 plans written with and
# without --no-prepare-kbit: norms and embeddings bf16 without prepare_model_for_kbit_training, fp32 with it) and
# gpu_recommend_check.py (the demo ladder and a causal-LM ladder of `lorplan recommend`), printing measured peak
# memory beside the estimate. Each check has a time cap and the last gets what is left of WINDOW seconds, so the
# whole run ends inside the call's 540 s. The log is also written to $OUT/gpu.log when $OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}
if [ -d .gpu/whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
LOG=${OUT:-/tmp}/gpu.log
WINDOW=${GPU_WINDOW_S:-525}  # seconds since this script started, for every check (the call has timeout_s=540)
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    $PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'transformers', transformers.__version__, 'peft', peft.__version__)"
    $PY -c "import bitsandbytes; print('bitsandbytes', bitsandbytes.__version__)" || echo "bitsandbytes: not importable"
    echo "== lorplan gpus; lorplan plan --gpu 0 --cuda-context measure (the CLI's NVML paths, a few seconds)"
    timeout 60 $PY -m lorplan gpus
    timeout 120 $PY -m lorplan plan --model HuggingFaceTB/SmolLM2-135M-Instruct --ranks 16 --micro-batch 4 \
        --seq-len 1024 --gpu 0 --cuda-context measure
    echo "exit $?"
    echo "== benchmarks/gpu_memory_check.py"
    timeout 210 $PY benchmarks/gpu_memory_check.py
    echo "exit $?"
    echo "== benchmarks/gpu_probe_check.py"
    tok=()
    [ -d .gpu/tokenizer ] && tok=(--tokenizer .gpu/tokenizer)
    # about 25-30 s a probe on an H200 (load 10-15 s)
    timeout 250 $PY benchmarks/gpu_probe_check.py "${tok[@]}" --timeout 75 \
        --variants nf4,none,int8,fp4,nf4-dq-paged8,bf16-adamw8
    echo "exit $?"
    echo "== benchmarks/gpu_probe_check.py --train-kbit"
    # one process: two NF4 plans written by lorplan plan (the CUDA context measured once), each built by
    # build_model and trained 6 steps; expected well under a minute (a probe's load took 13-15 s on an H200).
    # Capped at 90 s, and run only when the recommend check after it still gets its 60 s minimum; it adds no
    # time to the checks before it, and the recommend check's deadline is what is left of the window, as before
    kbit_cap=90
    left=$((WINDOW - SECONDS - 20 - kbit_cap))
    if [ "$left" -lt 60 ]; then
        echo "skipped: $((WINDOW - SECONDS)) s left of the ${WINDOW} s window, left to gpu_recommend_check.py"
    else
        timeout "$kbit_cap" $PY benchmarks/gpu_probe_check.py "${tok[@]}" --train-kbit --steps 6
        echo "exit $? (${SECONDS} s into the window)"
    fi
    echo "== benchmarks/gpu_recommend_check.py"
    # both ladders whole took 263 s on an H200 with 5 demo probes at a time (results/gpu_h200_recommend.log; the
    # first run, 3 at a time with 175 s, stopped the demo after 6 of 15 probes); the memory and probe checks
    # before it took about 200 s. Its --deadline stops the ladders and prints what ended, before timeout kills it
    left=$((WINDOW - SECONDS - 20))
    deadline=$((left < 330 ? left : 330))
    if [ "$deadline" -lt 60 ]; then
        echo "skipped: ${left} s left of the ${WINDOW} s window"
    else
        # short of the 263 s both ladders took, the causal-LM ladder alone (the demo's ran whole on the first run;
        # the causal-LM one then had its ranks pass cancelled by its budget, which it now cuts to fit)
        only=()
        [ "$deadline" -lt 250 ] && only=(--only lm)
        timeout $((deadline + 20)) $PY benchmarks/gpu_recommend_check.py "${tok[@]}" --deadline "$deadline" \
            --demo-parallel 5 "${only[@]}"
        echo "exit $?"
    fi
} 2>&1 | tee "$LOG"
