"""Planted-rank benchmark: does lorplan recommend the knee rank on tasks whose rank is known by construction?

A teacher is a base model plus a planted change of rank k on known modules (benchmarks/planted_rank_tasks.py
builds it and its per-token data). Per case, a sweep trains the student (base + LoRA on all its linear
layers, the planted ones among them) at ranks 1, 2, 4 … 64 × three learning rates × two seeds and records
the eval loss at eight points of each run. From the recorded rows:
- the knee: the smallest rank whose improvement over the base model's eval loss is at least 95% of the best
  rank's improvement (best learning rate per rank, mean over seeds), lorplan.recommend.knee.find_knee;
- the prior: lorplan.recommend.capacity_prior on the case's data size (trained tokens) and adapter size;
- prior + ladder: a REPLAY of lorplan's probe ladder from the recorded curves with lorplan's own code
  (ladder.coarse_ladder around the prior; decide.next_pass for the refine and learning-rate passes;
  measured.recommendation for the rank). Probes are half as long as the sweep's runs: their curves are cut
  at half the steps and extrapolated to the full length by lorplan. No successive halving (every probe of a
  pass runs to its end). Its cost is the training seconds of the replayed probes;
- the pattern (when lorplan.recommend.pattern exists): pattern_from_adapters on the two seeds' adapters at
  the recommended rank and the middle learning rate; reported as the share of the pattern's LoRA parameters
  that sit in the planted modules;
- the pattern trained (benchmarks/planted_rank_pattern.py): the student at the ladder's rank with the pattern
  of each allocation variant, middle rate, both seeds, against the sweep's uniform runs there.
Target (issue 11): recommended rank in [knee, 2×knee] in ≥ 80% of cases; the pattern gives most of its rank
to the planted modules.

    python benchmarks/planted_rank.py run [--cases NAME,...] [--until HH:MM]   # resumable sweep
    python benchmarks/planted_rank.py pattern [--variants cap4,...]            # the pattern trained (resumable)
    python benchmarks/planted_rank.py adapters [--cases NAME,...]            # retrain the saved adapters the
                                                                              # report needs, if not on this machine
    python benchmarks/planted_rank.py report [--write]                         # table (and .md file)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planted_rank_pattern  # noqa: E402
from ladder_replay import BUDGET_SHARE, replay_passes  # noqa: E402
from planted_rank_tasks import SEQ, Case  # noqa: E402
from results_file import append_row, hit, read_unique  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "planted_rank.jsonl"
REPORT = HERE / "results" / "planted_rank.md"
ADAPTERS = Path(os.environ.get("LORPLAN_BENCH_CACHE", Path.home() / ".cache" / "lorplan-bench")) / "planted_rank"
RANKS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1)
# Three rates a factor 3 apart (the ladder's LR_FACTOR); the middle one is the ladder's. The lowest is lorplan's
# policy rate (1e-3, lorplan.core.plan.defaults): in 96 steps both students learn their planted change too
# slowly at 1e-3 (measured before the sweep: MiniLM r=4 reached 0.00062 at 1e-3 and 0.00043 at 3e-3 from a
# base of 0.0022), so the ladder's rate here is 3e-3.
LRS = {"minilm": (1e-3, 3e-3, 9e-3), "llama": (1e-3, 3e-3, 9e-3)}
V, QV, MLP = ("v_proj",), ("q_proj", "v_proj"), ("up_proj", "down_proj")
MV, MQV, MMLP = ("value",), ("query", "value"), ("intermediate.dense",)

# In priority order: the sweep runs them in this order, so what the time allows is the head of the list.
CASES = (
    Case("llama-v-k1", "llama", 1, V),
    Case("llama-v-k4", "llama", 4, V),
    Case("llama-v-k16", "llama", 16, V),
    Case("minilm-v-k4", "minilm", 4, MV),
    Case("llama-v-k8", "llama", 8, V),
    Case("llama-v-k8-noisy", "llama", 8, V, noise=0.3),
    Case("llama-v-k2", "llama", 2, V),
    Case("llama-v-k32", "llama", 32, V),
    Case("llama-qv-k4", "llama", 4, QV),
    Case("llama-mlp-k8", "llama", 8, MLP),
    Case("minilm-v-k1-noisy", "minilm", 1, MV, noise=0.3),
    Case("llama-v@1-k8", "llama", 8, V, layers=(1,)),
    Case("llama-v-k32-noisy", "llama", 32, V, noise=0.3),
    Case("minilm-qv-k16", "minilm", 16, MQV),
    Case("llama-qv-k16-noisy", "llama", 16, QV, noise=0.3),
    Case("minilm-mlp-k8", "minilm", 8, MMLP),
)
BY_NAME = {c.name: c for c in CASES}


# ---------------------------------------------------------------- results file
def read_rows(path: Path = RESULTS) -> list[dict]:
    """Every complete JSON row of the results file, the first of each run key only (a torn line, from a killed
    run, is skipped; two sweeps that ran at once recorded some runs twice, with the same figures: the runs are
    deterministic in their seed)."""
    return read_unique(path, run_key)


def run_key(row: dict) -> tuple:
    kind = row.get("kind", "run") + (f":{row['variant']}" if row.get("variant") else "")  # pattern:<variant>
    return (row["case"], kind, row.get("rank"), row.get("lr"), row.get("seed"))


def todo(case: Case, done: set[tuple]) -> list[tuple[int, float, int]]:
    """The (rank, lr, seed) runs of a case not yet in the results, seed-major within each rank."""
    cap = 128 if case.model == "llama" else 384
    return [(r, lr, s) for r in RANKS if r <= cap for lr in LRS[case.model] for s in SEEDS
            if (case.name, "run", r, lr, s) not in done]


def adapter_dir(case: str, rank: int, seed: int) -> Path:
    return ADAPTERS / case / f"r{rank}-s{seed}"


def sweep(cases: list[Case], until: float | None, path: Path = RESULTS) -> int:
    """Run what is missing, case by case; returns the number of runs done. Stops before a run would start
    after `until` (epoch seconds)."""
    import planted_rank_tasks as tasks
    import torch

    torch.set_num_threads(1)
    done = {run_key(r) for r in read_rows(path)}
    n = 0
    for case in cases:
        left = todo(case, done)
        if not left:
            continue
        if until is not None and time.time() >= until:
            break
        data = tasks.build(case)
        if (case.name, "base", None, None, None) not in done:
            append_row(path, base_row(case, data))
        mid = LRS[case.model][1]
        for rank, lr, seed in left:
            if until is not None and time.time() >= until:
                return n
            save = adapter_dir(case.name, rank, seed) if math.isclose(lr, mid) else None
            t0 = time.perf_counter()
            out = tasks.train(case, data, rank, lr, seed, save_to=save)
            append_row(path, {"case": case.name, "kind": "run", "rank": rank, "lr": lr, "seed": seed,
                              "wall_seconds": round(time.perf_counter() - t0, 3),
                              "adapter": str(save) if save else None, **out})
            n += 1
            print(f"{case.name} r{rank} lr{lr:g} s{seed}: {out['eval_loss']:.5g} ({out['train_seconds']:.1f} s)",
                  flush=True)
    return n


def retrain_adapters(cases: list[Case], until: float | None, path: Path = RESULTS) -> list[str]:
    """Retrain the middle-rate runs whose saved adapters the pattern columns read (seeds 0 and 1 at the seed-0
    ladder's rank and at the ladder's first-pass largest rank) when those adapters are not on this machine
    (they live in a cache, not in the repository), saving them where the results file says. The runs are
    deterministic in their seed: each retrained run's eval loss is compared with the recorded one and a
    mismatch is reported (its adapter is then not the one the sweep measured). Returns one line per run."""
    import planted_rank_tasks as tasks
    import torch

    torch.set_num_threads(1)
    rows = read_rows(path)
    out = []
    for case in cases:
        if (swept := complete_sweep(rows, case)) is None:
            continue
        base, runs = swept
        ranks = {planted_rank_pattern.ladder_rank(base, runs), planted_rank_pattern.first_pass_top(base, runs)}
        mid = LRS[case.model][1]
        need = [r for r in runs if r["rank"] in ranks and r["seed"] in SEEDS and math.isclose(r["lr"], mid)
                and r.get("adapter") and not Path(r["adapter"]).is_dir()]
        if not need:
            continue
        data = tasks.build(case)
        for r in sorted(need, key=lambda r: (r["rank"], r["seed"])):
            if until is not None and time.time() >= until:
                return out
            got = tasks.train(case, data, r["rank"], r["lr"], r["seed"], save_to=Path(r["adapter"]))
            same = math.isclose(got["eval_loss"], r["eval_loss"], rel_tol=1e-4, abs_tol=1e-9)
            line = (f"{case.name} r{r['rank']} s{r['seed']}: eval loss {got['eval_loss']:.6g} vs the sweep's "
                    f"{r['eval_loss']:.6g} ({'same' if same else 'DIFFERENT: not the adapter the sweep measured'})")
            print(line, flush=True)
            out.append(line)
    return out


def base_row(case: Case, data) -> dict:
    """The case's settings, its base eval loss and the student's target modules with their shapes."""
    import planted_rank_tasks as tasks
    import torch

    mods = {name: [m.in_features, m.out_features] for name, m in data.base_model.named_modules()
            if isinstance(m, torch.nn.Linear) and any(name.endswith(t) for t in case.student_targets)
            and (case.layers is None or case.model != "llama" or tasks._layer_of(name) in case.layers)}
    return {"case": case.name, "kind": "base", "base_loss": tasks.base_loss(case, data),
            "build_seconds": round(data.seconds, 3), "settings": asdict(case),
            "planted": tasks.planted_names(data.base_model, case), "modules": mods,
            "trained_tokens": case.train_rows * SEQ}


# ---------------------------------------------------------------- analysis (pure Python)
def ladder_rows(runs: list[dict]) -> list:
    from lorplan.recommend.types import LadderRow

    return [LadderRow(rank=r["rank"], learning_rate=r["lr"], eval_loss=r["eval_loss"], seed=r["seed"],
                      train_seconds=r["train_seconds"], trainable_params=r["trainable_params"],
                      steps=r["curve"][-1][0] if r["curve"] else None)
            for r in runs if r["eval_loss"] is not None and math.isfinite(r["eval_loss"])]


def sizes(base: dict, runs: list[dict]):
    """DataSize and AdapterSize of a case: trained tokens (every token of every training window has a target),
    LoRA parameters per rank unit from the runs' trainable parameters (exactly r·C: nothing trained in full)."""
    from lorplan.recommend.capacity import AdapterSize
    from lorplan.recommend.datasize import DataSize

    r = runs[0]
    per_rank = r["trainable_params"] // r["rank"]
    min_dim = min(min(d) for d in base["modules"].values())
    s = base["settings"]
    data = DataSize(task="causal-lm", trained_tokens=base["trained_tokens"], examples=s["train_rows"],
                    source="planted-rank teacher data")
    return data, AdapterSize(model=s["model"], targets=", ".join(s["targets"] or ["all linear"]),
                             per_rank=per_rank, fixed=0, min_dim=min_dim)


def replay(base: dict, runs: list[dict], prior_rank: int, data, adapter, lr: float | None = None,
           seeds: tuple[int, ...] = SEEDS, rate_first: bool = True, second: bool = True,
           budget: float | None = None) -> dict:
    """lorplan's ladder replayed from the recorded curves (see the module docstring): rate_first (lorplan's
    ladder) tries three rates at the reference rank and compares ranks at the best; without it, ranks are
    compared at `lr` (default: the sweep's middle rate) and other rates tried at the leading rank last.
    `seeds`: the training seeds each probe averages; with one and `second` (lorplan's ladder), the "second seed"
    pass replays the other recorded seed. `budget`: the ladder's budget as a share of the sweep's training
    seconds (None: none), spent on the replayed probes' recorded seconds as the driver spends wall time (the
    probe running when it runs out is cancelled there).
    Returns its rank, learning rate, the ranks it probed, its training seconds and the probes it asked for
    that the sweep did not record (a rate outside the sweep's)."""
    from lorplan.recommend.decide import first_pass
    from lorplan.recommend.ladder import coarse_ladder
    from lorplan.recommend.ladder_spec import LadderSpec, LadderState
    from lorplan.recommend.observe import ProbeObs

    s = base["settings"]
    lrs = LRS[s["model"]]
    cap = max(r["rank"] for r in runs)
    ranks = coarse_ladder(prior_rank, low=1, high=cap)
    steps = s["steps"]
    spec = LadderSpec(kind="data", model=s["model"], spec_source="", task="causal-lm",
                      target_modules=tuple(base["modules"]), data=asdict(data), adapter=asdict(adapter),
                      learning_rate=lr or lrs[1], learning_rate_why="the sweep's rate: benchmark setting",
                      planned_steps=steps, probe_steps=steps // 2, seeds=tuple(seeds), ranks=ranks,
                      max_rank=cap, halving=False, started=0.0, rate_first=rate_first,
                      budget_seconds=None if budget is None else budget * sum(r["train_seconds"] for r in runs),
                      second_seed=(next(x for x in SEEDS if x != seeds[0]) if second and rate_first
                                   and len(seeds) == 1 else None))
    recorded = {(r["rank"], r["seed"], r["lr"]): r for r in runs}

    def obs_for(d: dict) -> ProbeObs | None:
        seed = d["seed"] if d["seed"] is not None else spec.seeds[0]  # one seed: the probe has none of its own
        hit = next((r for (rk, sd, lr), r in recorded.items()
                    if rk == d["rank"] and sd == seed and math.isclose(lr, d["lr"], rel_tol=1e-6)), None)
        if hit is None:
            return None
        curve = tuple((int(t), float(v)) for t, v in hit["curve"] if t <= spec.probe_steps)
        frac = spec.probe_steps / steps
        return ProbeObs(id=d["id"], rank=d["rank"], lr=d["lr"], seed=seed, state="finished",
                        step=spec.probe_steps, curve=((0, base["base_loss"]),) + curve,
                        train_seconds=hit["train_seconds"] * frac, wall_seconds=hit["train_seconds"] * frac,
                        trainable_params=hit["trainable_params"])

    first = first_pass(spec, base=False)
    probes = {"base": ProbeObs(id="base", rank=0, lr=spec.learning_rate, seed=0, state="finished", step=0,
                               curve=((0, base["base_loss"]),))}
    missing = []
    for d in first.specs:
        o = obs_for(d)
        (probes.__setitem__(d["id"], o) if o else missing.append(d["id"]))
    rec, _, probes, more = replay_passes(spec, LadderState(passes=(first,)), probes, obs_for,
                                         clock=lambda ps: sum(o.train_seconds or 0.0 for o in ps.values()))
    obs = list(probes.values())
    return {"rank": rec.rank, "lr": rec.learning_rate, "band": list(rec.confidence),
            "probed": sorted({o.rank for o in obs if o.rank >= 1}), "probes": len(obs) - 1,
            "second": sorted({o.rank for o in obs if o.rank >= 1 and o.seed == spec.second_seed}),
            "seconds": sum(o.train_seconds or 0.0 for o in obs), "missing": missing + more}


def pattern_share(base: dict, runs: list[dict], rank: int) -> tuple[float | None, dict | None, str, float | None,
                                                                    str]:
    """From pattern_from_adapters on the two seeds' adapters at `rank` (middle learning rate): the share of the
    pattern's LoRA parameters in the planted modules (0-1; an empty pattern keeps every module at `rank`), the pattern, and the share of the signal the two runs share (⟨ΔW₁, ΔW₂⟩_F, negatives as 0,
    pattern.module_signals) that sits in the planted modules, and the mean number of directions the runs share
    (above the split-half noise floor) per planted module, and the module outside the planted ones with the
    largest share of that signal ("L1.o_proj 6%"). None and "not run" when lorplan.recommend.pattern is missing
    or the adapters are not on this machine."""
    try:
        from lorplan.recommend.pattern import load_adapter, module_signals, pattern_from_signals
    except ImportError:
        return None, None, "not run", None, "not run"
    paths = [r["adapter"] for r in runs if r["rank"] == rank and r.get("adapter")]
    if len(paths) < 2 or not all(Path(p).is_dir() for p in paths):
        return None, None, "not run", None, "not run"
    import torch

    torch.set_num_threads(1)  # on a shared CPU, more threads made the SVDs 100× slower here
    # pattern_from_adapters(paths, rank) is load_adapter + module_signals + pattern_from_signals; the signals
    # are measured once here because the report uses them too
    signals = module_signals([load_adapter(p) for p in paths])
    pat = dict(pattern_from_signals(signals, rank, runs=len(paths)).pattern)
    share = share_planted(base["modules"], base["planted"], pat, rank)
    planted = set(base["planted"])
    shared = {s.name: max(0.0, s.shared) for s in signals}
    total = sum(shared.values())
    sig = sum(v for n, v in shared.items() if n in planted) / total if total > 0 else 0.0
    dirs = [s.directions for s in signals if s.name in planted]
    others = [(v, n) for n, v in shared.items() if n not in planted]
    if others and total > 0:
        v, n = max(others)
        layer = next((f"L{p} " for p in n.split(".") if p.isdigit()), "")
        other = f"{layer}{n.split('.')[-1] if 'layers.' in n else n.split('layer.', 1)[-1].split('.', 1)[-1]} {v / total:.0%}"
    else:
        other = "none"
    return share, pat, f"{sig:.0%}", sum(dirs) / len(dirs) if dirs else None, other


def rank_in(pattern: dict, name: str, default: int) -> int:
    """The rank of module `name` under a rank_pattern as peft gives it (lorplan.core.lora.pattern_value), else
    `default`."""
    from lorplan.core.lora import pattern_value

    r = pattern_value(pattern, name)
    return default if r is None else int(r)


def share_planted(modules: dict, planted: list[str], pattern: dict, default: int) -> float:
    """Σ rank·(d_in+d_out) over the planted modules / the same over every target module (ranks: rank_in)."""
    total = sum(rank_in(pattern, n, default) * sum(d) for n, d in modules.items())
    mine = sum(rank_in(pattern, n, default) * sum(d) for n, d in modules.items() if n in set(planted))
    return mine / total if total else 0.0


def planted_order(modules: dict, planted: list[str], pattern: dict, default: int) -> tuple[str, bool]:
    """Where the pattern puts the planted modules by rank: "above" (their smallest rank is above every other
    module's), "tied" (equal to the largest other) or "below"; and whether every planted module is at its full
    rank (the largest power of two ≤ its smaller dimension), where more parameters cannot go."""
    mine = [rank_in(pattern, n, default) for n in planted]
    rest = [rank_in(pattern, n, default) for n in modules if n not in set(planted)]
    order = "above" if not rest or min(mine) > max(rest) else ("tied" if min(mine) == max(rest) else "below")
    full = all(rank_in(pattern, n, default) >= 1 << (min(modules[n]).bit_length() - 1) for n in planted)
    return order, full


def s_model(base: dict) -> str:
    return base["settings"]["model"]


def analyse(rows: list[dict]) -> list[dict]:
    """One summary per case with a base row and a complete sweep (every rank × rate × seed)."""
    from lorplan.recommend.capacity import capacity_prior
    from lorplan.recommend.knee import find_knee

    return [summarize_case(*swept, find_knee, capacity_prior) for case in CASES
            if (swept := complete_sweep(rows, case)) is not None]


def complete_sweep(rows: list[dict], case: Case) -> tuple[dict, list[dict]] | None:
    """The case's base row and sweep runs when its sweep is complete (every rank × rate × seed), else None."""
    base = next((r for r in rows if r["case"] == case.name and r.get("kind") == "base"), None)
    runs = [r for r in rows if r["case"] == case.name and r.get("kind", "run") == "run"]
    if base is None or todo(case, {run_key(r) for r in runs}):
        return None
    return base, runs


def summarize_case(base: dict, runs: list[dict], find_knee, capacity_prior) -> dict:
    knee = find_knee(ladder_rows(runs), base["base_loss"])
    data, adapter = sizes(base, runs)
    prior = capacity_prior(data, adapter)
    # lorplan's ladder trains one seed per probe: replayed once with each recorded seed
    lads = [replay(base, runs, prior.rank, data, adapter, seeds=(seed,)) for seed in SEEDS]
    # the same ladders given a budget of BUDGET_SHARE of the sweep's training seconds (`--budget-minutes`)
    capped = [replay(base, runs, prior.rank, data, adapter, seeds=(seed,), budget=BUDGET_SHARE) for seed in SEEDS]
    lad = lads[0]
    share, pat, signal, dirs, other = pattern_share(base, runs, lad["rank"])
    order = planted_order(base["modules"], base["planted"], pat, lad["rank"]) if pat is not None else None
    # the ablation: the same code without the rate pass (ranks compared at the middle rate, both seeds per
    # probe, other rates at the knee last), as the ladder ran before the rate pass
    old = replay(base, runs, prior.rank, data, adapter, rate_first=False)
    s = base["settings"]
    sweep_s = sum(r["train_seconds"] for r in runs)
    return {"case": base["case"], "model": s["model"], "modules": "+".join(s["modules"]),
            "layers": s["layers"], "noise": s["noise"], "k": s["k"], "knee": knee.rank,
            "knee_band": [knee.low, knee.high], "best_rank": knee.best_rank, "improved": knee.improved,
            "gain": base["base_loss"] - knee.best_loss, "base_loss": base["base_loss"],
            "knee_lr": next(x.learning_rate for x in knee.ranks if x.rank == knee.rank),
            "prior": prior.rank, "prior_hit": hit(prior.rank, knee.rank),
            "ladder": [x["rank"] for x in lads], "ladder_lr": [x["lr"] for x in lads],
            "ladder_hits": sum(hit(x["rank"], knee.rank) for x in lads), "ladder_probed": lad["probed"],
            "ladder_second": lad.get("second", []),
            "ladder_bands": [list(x["band"]) for x in lads],
            "ladder_band_held": sum(x["band"][0] <= knee.rank <= x["band"][1] for x in lads),
            "ladder_seconds": sum(x["seconds"] for x in lads) / len(lads), "ladder_old": old["rank"],
            "budgeted": [x["rank"] for x in capped], "budgeted_hits": sum(hit(x["rank"], knee.rank) for x in capped),
            "budgeted_seconds": [x["seconds"] for x in capped],
            "ladder_old_hit": hit(old["rank"], knee.rank), "ladder_old_seconds": old["seconds"],
            "sweep_seconds": sweep_s, "planted_share": share, "pattern": pat, "pattern_order": order,
            "pattern_share": "not run" if share is None else f"{share:.0%}" + ("" if pat else " (empty pattern)"),
            "signal_share": signal, "planted_directions": dirs, "signal_elsewhere": other,
            "uniform_share": share_planted(base["modules"], base["planted"], {}, 1),
            "knee_is_k": knee.rank == s["k"]}


def budgeted_lines(summaries: list[dict]) -> list[str]:
    """The report's line on the ladders given a budget of BUDGET_SHARE of the sweep (none in summaries saved
    before they were replayed)."""
    withb = [s for s in summaries if "budgeted" in s]
    if not withb:
        return []
    hits, n = sum(s["budgeted_hits"] for s in withb), sum(len(s["budgeted"]) for s in withb)
    costs = [x / s["sweep_seconds"] for s in withb for x in s["budgeted_seconds"]]
    changed = [f"{s['case']} {a}→{b}" for s in withb for a, b in zip(s["ladder"], s["budgeted"], strict=True) if a != b]
    return [f"prior + ladder given a budget of {BUDGET_SHARE:.0%} of the sweep's training seconds (`--budget-minutes`: "
            f"the driver's cuts, timed by the replayed probes' recorded seconds): {hits}/{n} = {hits / n:.0%} in "
            f"[knee, 2×knee], cost {sum(costs) / len(costs):.1%} (largest {max(costs):.1%}: a pass is cut by the mean "
            "time of the probes that finished, and the probe still running when the budget runs out is cancelled "
            "there, as the driver does; ladder_replay.replay_passes); ranks that changed against the ladder "
            f"without a budget: {', '.join(changed) or 'none'}"]


def render(summaries: list[dict], rows: list[dict]) -> str:
    """The printed report: one line per case, then the hit rates against the targets."""
    head = ("| case | model | planted | k | knee (band) | lr at knee | prior | hit | prior+ladder (seed 0, 1) | hits "
            "| ladder's lr | ladder ranks (seed 0) | ladder cost | without rate pass | pattern → planted | signal "
            "in planted | shared directions |")
    lines = [head, "|" + "---|" * 17]
    for s in summaries:
        where = s["modules"] + (f" L{','.join(map(str, s['layers']))}" if s["layers"] else "")
        where += f" +noise {s['noise']:g}" if s["noise"] else ""
        lines.append(
            f"| {s['case']} | {s['model']} | {where} | {s['k']} | {s['knee']} ({s['knee_band'][0]}-"
            f"{s['knee_band'][1]}) | {s['knee_lr']:.2g} | {s['prior']} | {'yes' if s['prior_hit'] else 'no'} | "
            f"{', '.join(map(str, s['ladder']))} | {s['ladder_hits']}/{len(s['ladder'])} | "
            f"{', '.join(f'{x:g}' for x in s['ladder_lr'])} | {','.join(map(str, s['ladder_probed']))} | "
            f"{s['ladder_seconds'] / s['sweep_seconds']:.0%} | {s['ladder_old']}{'' if s['ladder_old_hit'] else ' (miss)'} | "
            f"{s['pattern_share']}; uniform {s['uniform_share']:.0%} | {s['signal_share']} | "
            f"{'-' if s['planted_directions'] is None else format(s['planted_directions'], '.1f')} |")
    n = len(summaries)
    if not n:
        return "\n".join(lines + ["", "no case has a complete sweep yet"])

    def rate(key: str) -> str:
        k = sum(s[key] for s in summaries)
        return f"{k}/{n} = {k / n:.0%}"
    sweep_s = sum(r.get("train_seconds", 0.0) for r in rows if r.get("kind", "run") == "run")
    lad_hits, lad_n = sum(s["ladder_hits"] for s in summaries), sum(len(s["ladder"]) for s in summaries)
    shares = [s["pattern_share"] for s in summaries if s["pattern_share"] != "not run"]
    signals = [s["signal_share"] for s in summaries if s["signal_share"] != "not run"]
    lines += [
        "",
        f"cases with a complete sweep: {n} of {len(CASES)} planned; sweep training time {sweep_s / 60:.1f} min "
        "(each run single-threaded, on a 2-core machine shared with other work)",
        f"knee equals the planted k: {rate('knee_is_k')}",
        f"prior alone in [knee, 2×knee]: {rate('prior_hit')} (target ≥ 80%: "
        f"{'met' if sum(s['prior_hit'] for s in summaries) >= 0.8 * n else 'NOT met'})",
        "a fixed rank in [knee, 2×knee] (the defaults people copy; a property of the rank, as the prior's hit): "
        + ", ".join(f"r={r} {sum(s['knee'] <= r <= 2 * s['knee'] for s in summaries)}/{n}" for r in (8, 16, 64)),
        f"prior + ladder (replay, one seed per probe, each seed once) in [knee, 2×knee]: {lad_hits}/{lad_n} = "
        f"{lad_hits / lad_n:.0%} (target ≥ 80%: {'met' if lad_hits >= 0.8 * lad_n else 'NOT met'})",
        f"the ladder's band (the ranks it cannot tell apart; noise from its second-seed pass, or estimated from how "
        f"far its losses rise "
        f"with rank) holds the knee in {sum(s['ladder_band_held'] for s in summaries)}/{lad_n}, "
        f"{sum(math.log2(b[1] / b[0]) for s in summaries for b in s['ladder_bands']) / lad_n:.2f} doublings wide "
        "on average",
        f"ablation, the ladder without the rate pass (ranks compared at the middle rate, two seeds per probe): "
        f"{rate('ladder_old_hit')} in [knee, 2×knee], cost "
        f"{sum(s['ladder_old_seconds'] for s in summaries) / sum(s['sweep_seconds'] for s in summaries):.0%}",
        f"ladder cost: {sum(s['ladder_seconds'] for s in summaries) / sum(s['sweep_seconds'] for s in summaries):.0%}"
        " of the sweeps' training seconds (mean over the seeded replays; largest "
        f"{max(s['ladder_seconds'] / s['sweep_seconds'] for s in summaries):.0%})",
        *budgeted_lines(summaries),
        "pattern share to the planted modules: " + (", ".join(shares) if shares else
                                                    "not run (the sweep's saved adapters are not on this machine: "
                                                    f"{ADAPTERS})"),
        "share of the two seeds' shared signal in the planted modules: " + (", ".join(signals) or "not run"),
        "the module outside the planted ones with the most of that signal: "
        + (", ".join(f"{s['case']} {s['signal_elsewhere']}" for s in summaries
                     if s.get("signal_elsewhere", "not run") != "not run") or "not run"),
    ]
    orders = [s["pattern_order"] for s in summaries if s.get("pattern_order")]
    if orders:
        count = {k: sum(o[0] == k for o in orders) for k in ("above", "tied", "below")}
        full = sum(o[1] for o in orders)
        lines.append(f"pattern by rank: the planted modules' smallest rank is above every other module's in "
                     f"{count['above']}/{len(orders)}, equal to the largest other in {count['tied']}/{len(orders)}, "
                     f"below it in {count['below']}/{len(orders)}; every planted module at its full rank (its smaller "
                     f"dimension: more parameters cannot go there, so the budget's rest goes elsewhere) in "
                     f"{full}/{len(orders)}")
    items = planted_rank_pattern.compare(rows, summaries)
    planted = [s["planted_share"] for s in summaries if s.get("planted_share") is not None]
    if planted:
        most = sum(x > 0.5 for x in planted)
        lines.append(f"the pattern gives most of its LoRA parameters (> 50%) to the planted modules in {most}/{len(planted)} "
                     f"(target: {'met' if most > len(planted) / 2 else 'NOT met'}){planted_rank_pattern.oracle_words(items)}")
    return "\n".join(lines + planted_rank_pattern.render(items))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("run", "pattern", "adapters", "report"))
    ap.add_argument("--variants", default=",".join(planted_rank_pattern.VARIANTS),
                    help="pattern: comma-separated allocation variants (planted_rank_pattern.VARIANTS)")
    ap.add_argument("--cases", help="comma-separated case names (default: all, in priority order)")
    ap.add_argument("--until", help="UTC HH:MM: start no run after it")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--write", action="store_true", help="report: also write benchmarks/results/planted_rank.md")
    a = ap.parse_args(argv)
    path = Path(a.results)
    if a.command in ("run", "pattern", "adapters"):
        cases = [BY_NAME[n] for n in a.cases.split(",")] if a.cases else list(CASES)
        until = None
        if a.until:
            import datetime as dt

            h, m = map(int, a.until.split(":"))
            now = dt.datetime.now(dt.timezone.utc)
            until = now.replace(hour=h, minute=m, second=0, microsecond=0).timestamp()
        if a.command == "pattern":
            planted_rank_pattern.run_patterns(cases, a.variants.split(","), until, path)
        elif a.command == "adapters":
            retrain_adapters(cases, until, path)
        else:
            sweep(cases, until, path)
        return 0
    rows = read_rows(path)
    text = render(analyse(rows), rows)
    print(text)
    if a.write:
        import subprocess

        rev = subprocess.run(["git", "log", "-1", "--format=%h %cI", "--", "lorplan/recommend/pattern.py",
                              "lorplan/recommend/allocate.py"], capture_output=True, text=True,
                             cwd=HERE.parent).stdout.strip()
        REPORT.write_text(PREAMBLE + text + f"\n\npattern code at report time: {rev or 'unknown'} (the pattern "
                          "columns are recomputed from the saved adapters each time the report runs)\n")
    return 0


PREAMBLE = """# Planted-rank benchmark (benchmarks/planted_rank.py), as measured

Each case: a teacher = base model + a planted change of rank k on the named modules (equal singular values,
each σ_max of the weight; "noise": a full-rank Gaussian perturbation with that share of the change's norm);
per-token targets generated by the teacher on Python standard-library docstrings. Student: base + LoRA on all
linear layers (MiniLM: its last layer, where the change is planted), AdamW, alpha 32 with alpha/r scaling
(lorplan.recommend.policy), linear decay; sweep ranks 1-64 × 3 learning rates × 2 seeds. A plain peft loop,
not lorplan's engine. knee: the smallest rank whose improvement over the base eval loss is ≥ 95% of the best
rank's (best lr per rank, mean over seeds). prior: lorplan.recommend.capacity_prior. prior+ladder: a replay of
lorplan's ladder on the recorded curves (the reference rank at three rates, the other first-pass ranks ×4
around the prior at the best rate, refine ×2; the knee on the losses measured at the probes' length), probes
half as long as the sweep's runs, one training seed per probe, replayed once with each recorded seed; no
successive halving. ladder cost: its probes' training seconds / the sweep's (mean over the seeded replays). pattern → planted: share of the LoRA parameters of
lorplan.recommend.pattern.pattern_from_adapters (2 seeds' adapters at the ladder's rank, middle learning rate,
same parameter budget as uniform rank) in the planted modules, beside the share uniform ranks give them; "(empty pattern)":
the pattern kept every module at that rank. signal in planted: share of the two seeds' shared update energy (⟨ΔW₁, ΔW₂⟩_F, per module, from
pattern.module_signals) in the planted modules; shared directions: per planted module, the directions the two
seeds share above their split-half noise floor (pattern.module_signals; at most the ladder's rank). without rate
pass: the ablation, the same replay with the rate pass off (ranks compared at the middle rate with both seeds per
probe, the other rates tried at the knee last: the ladder before the rate pass, with the knee on measured losses).
The trained-pattern table (benchmarks/planted_rank_pattern.py): the student trained with each allocation variant's
pattern (lorplan.recommend.allocate settings named in the summary lines; every module keeps lora_alpha 32, so
its scale is 32 / its own rank, as lorplan writes a pattern into a plan) at the ladder's rank (seed-0 replay),
middle rate, seeds 0 and 1, the sweep's steps; uniform is the sweep's runs at that rank, rate and seeds.

"""


if __name__ == "__main__":
    sys.exit(main())
