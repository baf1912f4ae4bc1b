#!/usr/bin/env bash
# Both GPU checks in one command, on the lent GPU machine (prepared by benchmarks/gpu_prepare.sh):
#     run(command="bash benchmarks/gpu_run.sh", carry=[".gpu"], timeout_s=540)
# Installs the carried wheels into /tmp/site, then runs gpu_memory_check.py (bf16 and QLoRA NF4, with and
# without gradient checkpointing) and gpu_probe_check.py (an NF4 and a bf16 probe through the real scheduler),
# printing measured peak memory beside the estimate. The log is also written to $OUT/gpu.log when $OUT is set.
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
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    $PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'transformers', transformers.__version__, 'peft', peft.__version__)"
    $PY -c "import bitsandbytes; print('bitsandbytes', bitsandbytes.__version__)" || echo "bitsandbytes: not importable"
    echo "== benchmarks/gpu_memory_check.py"
    timeout 300 $PY benchmarks/gpu_memory_check.py
    echo "exit $?"
    echo "== benchmarks/gpu_probe_check.py"
    tok=()
    [ -d .gpu/tokenizer ] && tok=(--tokenizer .gpu/tokenizer)
    timeout 220 $PY benchmarks/gpu_probe_check.py "${tok[@]}" --timeout 90
    echo "exit $?"
} 2>&1 | tee "$LOG"
