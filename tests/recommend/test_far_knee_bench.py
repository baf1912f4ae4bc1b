"""benchmarks/far_knee.py and its tasks: the runs' order (whole seeds first, so a cut sweep leaves whole seed groups),
the rows read as knee_ceiling reads the seven tasks' (seeds 0-2 a sweep with a classifier's head alone as its base),
the report's share table and its wait for three complete seed groups, and the tasks' documents built from real
text on this machine (Unicode names, the Unicode database's lines, torch's C++ headers), the same on every call."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import far_knee  # noqa: E402
import knee_ceiling as kc  # noqa: E402
import rank_regret_tasks as rt  # noqa: E402

LRS = (0.001, 0.003, 0.01)
SHARE = {1: 0.5, 2: 0.8, 4: 0.97, 8: 0.99, 16: 1.0, 32: 0.98, 64: 0.97}  # knee 4


def _row(task: str, rank: int, lr: float, seed: int, loss: float) -> dict:
    return {"task": task, "kind": "far", "alpha": 32, "rank": rank, "lr": lr, "seed": seed, "steps": 32,
            "curve": [[0, 1.79], [32, loss]]}


def _cls_rows(seeds) -> list[dict]:
    rows = [_row("cls-x", r, lr, s, 1.6 - 0.5 * SHARE[r] + (0.0 if lr == 0.003 else 0.2))
            for s in seeds for lr in LRS for r in SHARE]
    return rows + [_row("cls-x", 0, lr, s, 1.6 + (0.0 if lr == 0.01 else 0.05)) for s in seeds for lr in LRS]


def test_runs_go_seed_by_seed_with_a_classifiers_head_alone_first():
    cls, lm = rt.TASK_BY_NAME["cls-codepkg-minilm"], rt.TASK_BY_NAME["lm-unicode"]
    jobs = far_knee.jobs(cls, (0, 1))
    assert len(jobs) == 2 * 3 * 8 and [j["rank"] for j in jobs[:8]] == [0, 1, 2, 4, 8, 16, 32, 64]
    assert [j["seed"] for j in jobs] == [0] * 24 + [1] * 24  # every run of seed 0 before seed 1's
    assert {j["steps"] for j in jobs} == {cls.steps}
    lm_jobs = far_knee.jobs(lm, (5,), (0.01,))
    assert [j["rank"] for j in lm_jobs] == [1, 2, 4, 8, 16, 32, 64] and {j["lr"] for j in lm_jobs} == {0.01}
    # a rerun trains what is missing: keys round the rate as the file's rows are keyed
    assert far_knee.run_key({**lm_jobs[0], "lr": 0.01 + 1e-15}) == far_knee.run_key(lm_jobs[0])


def test_seeds_0_to_2_read_as_a_sweep_with_the_head_alone_as_its_base():
    rows = _cls_rows(range(6))
    sweep, runs = far_knee.as_sweep_and_runs(rows)
    assert {r["seed"] for r in sweep} == {0, 1, 2} and {r["seed"] for r in runs} == {3, 4, 5}
    assert {r["kind"] for r in sweep if r["rank"] == 0} == {"base"}
    assert {r["kind"] for r in sweep if r["rank"] > 0} == {"sweep"} and {r["variant"] for r in sweep} == {""}
    assert kc.complete(sweep, runs, "cls-x", (0, 1, 2)) and kc.complete(sweep, runs, "cls-x", (3, 4, 5))
    knee = kc.group_knee(sweep, runs, "cls-x", (3, 4, 5))
    assert knee.rank == 4
    assert abs(knee.share(2) - 0.8) < 1e-9  # against the head alone at its best rate (1e-2), not the step-0 eval


class _Task:
    name, kind, steps, describe = "cls-x", "sequence-classification", 32, "a made-up classifier"


def test_the_report_shows_each_ranks_share_and_waits_for_three_seed_groups():
    text = far_knee.report(_cls_rows(range(6)), [_Task()], draws=50)
    assert "| cls-x | a made-up classifier | 0-2, 3-5 |" in text
    assert ("| cls-x (6 seeds) | 0.50 (0.003) | 0.80 (0.003) | 0.97 (0.003) | 0.99 (0.003) | 1.00 (0.003) | "
            "0.98 (0.003) | 0.97 (0.003) |") in text
    assert "Held-out scoring waits for three complete seed groups" in text
    assert "| cls-x | 4 | 6 measured, 3 redrawn |" in text  # the oracle's truth: the six seeds' knee


def test_the_rate_table_says_whether_the_best_rate_moves_from_rank_2_up():
    rows = _cls_rows(range(3))
    sweep, runs = far_knee.as_sweep_and_runs(rows)
    lines = far_knee.rate_lines(sweep, runs, [_Task()])
    assert "| cls-x | 3 | 0.003 | 0.003 | 0.003 | 0.003 | 0.003 | 0.003 | 0.003 | the same |" in lines
    # rank 64 now learns best at 1e-2: the rate moves
    moved = [{**r, "curve": [[0, 1.79], [32, 0.1]]} if r["rank"] == 64 and r["lr"] == 0.01 else r for r in rows]
    sweep, runs = far_knee.as_sweep_and_runs(moved)
    assert far_knee.rate_lines(sweep, runs, [_Task()])[2].endswith("| 0.01 | moves |")


def test_unicode_documents_are_names_and_database_lines_the_same_every_time():
    names = rt.lm_texts("lm-unicode")
    assert len(names) == 900 and names == rt.lm_texts("lm-unicode")
    lines = names[0].split("\n")
    assert len(lines) == 8 and all(unicodedata.lookup(n) for n in lines)
    data = rt.lm_texts("lm-unicodedata")
    assert len(data) == 900 and data == rt.lm_texts("lm-unicodedata")
    first = [ln.split(";") for ln in data[0].split("\n")]
    assert len(first) == 8 and all(unicodedata.name(chr(int(cp, 16))) == n for cp, n in first)
    points = [int(cp, 16) for cp, _ in first]
    assert points == sorted(points)  # consecutive named code points, in order


def test_cpp_documents_are_lines_of_the_installed_torchs_headers():
    import importlib.util

    docs = rt.lm_texts("lm-cpp")
    assert len(docs) == 900 and docs == rt.lm_texts("lm-cpp")
    include = Path(importlib.util.find_spec("torch").origin).parent / "include"
    sample = docs[0].split("\n")
    assert 1 <= len(sample) <= 12 and all(ln.strip() for ln in sample)
    assert any(sample[0] in f.read_text(encoding="utf-8", errors="replace")
               for f in include.rglob("*.h"))
