"""The pure parts of benchmarks/knee_length.py: resume keying (a run already in the file is never retrained) and
the knee-vs-length report on hand-made rows (a knee that moves from 4 to 16 is reported as moving)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import knee_length as kl  # noqa: E402
from results_file import append_row  # noqa: E402

BASE = 6.0
# share of the best improvement (1.0) per rank: a knee at 4 (short runs) and at 16 (long runs)
SHARE_4 = {1: 0.2, 2: 0.6, 4: 0.97, 8: 0.99, 16: 1.0, 32: 1.0, 64: 1.0}
SHARE_16 = {1: 0.1, 2: 0.3, 4: 0.5, 8: 0.8, 16: 0.97, 32: 0.99, 64: 1.0}


def _row(task: str, rank: int, seed: int, steps: int, share: float, kind: str = "length", lr: float = 0.01):
    final = BASE - share * (0.4 + 0.001 * steps) + 0.002 * seed
    return {"task": task, "kind": kind, "variant": "", "alpha": 32, "rank": rank, "lr": lr, "seed": seed,
            "steps": steps, "curve": [[0, BASE], [steps, final]], "train_items": 702, "eval_items": 32}


def _rows(task: str, steps: int, shares: dict, kind: str = "length") -> list[dict]:
    return [_row(task, r, s, steps, shares[r], kind) for r in shares for s in kl.SEEDS]


def test_resume_trains_only_missing_runs(tmp_path):
    path = tmp_path / "knee_length.jsonl"
    todo = kl.jobs(["lm-license"], (20, 80))
    assert len(todo) == 2 * 7 * 3 and todo[0]["steps"] == 20 and todo[-1]["steps"] == 80
    for job in todo[:5]:
        # a float that is 0.01 only to 12 digits still keys the same run
        append_row(path, {**job, "lr": 0.1 * 0.1, "curve": [[0, BASE], [20, 5.0]]})
    append_row(path, {**todo[0], "curve": [[0, BASE], [20, 4.0]]})  # a duplicate counts once
    with open(path, "a") as f:
        f.write('{"task": "lm-license", "rank": 64')  # torn by a kill
    rows = kl.read_runs(path)
    assert len(rows) == 5 and rows[0]["curve"][-1][1] == 5.0
    left = kl.missing(todo, rows)
    assert left == todo[5:]


def test_report_says_the_knee_moves_from_4_to_16():
    runs = _rows("lm-license", 20, SHARE_4) + _rows("lm-license", 80, SHARE_16) + _rows("lm-license", 160, SHARE_16)
    sweep = _rows("lm-license", 40, SHARE_4, kind="sweep")
    sweep += [{**r, "lr": 0.003, "curve": [[0, BASE], [40, BASE - 0.1]]} for r in sweep]  # a worse lr
    runs.append(dict(sweep[0], kind="length"))  # a sweep run retrained: checked, not counted twice
    table = kl.knee_table(runs, sweep, "lm-license")
    assert [table[n]["knee"].rank for n in kl.LENGTHS] == [4, 4, 16, 16]
    assert table[40]["all_lr_knee"].rank == 4 and table[20]["runs"] == 21
    assert {s: k.rank for s, k in table[80]["seed_knees"].items()} == {0: 16, 1: 16, 2: 16}
    assert kl.movement(table) == "20→40→80→160: 4→4→16→16 (grows 4x from 20 to 160 steps)"
    text = kl.report(runs, sweep, ["lm-license"])
    assert "- lm-license: 20→40→80→160: 4→4→16→16 (grows 4x" in text
    assert "same held-out split and base at every length: yes" in text
    assert "sweep runs retrained here (40 steps): r1 s0 lr 0.01: 5.912000 vs the sweep's 5.912000" in text
    assert "80 steps 0.91" in text  # 80 x 8 rows of 702
    assert "| 4 | 0.97 | 0.97 | 0.50 | 0.50 |" in text  # rank 4's share of the best improvement by length


def test_a_knee_that_stays_is_not_reported_as_moving():
    runs = _rows("lm-source", 20, SHARE_16) + _rows("lm-source", 160, SHARE_16)
    assert kl.movement(kl.knee_table(runs, [], "lm-source")).endswith("(stays from 20 to 160 steps)")
    runs += _rows("lm-source", 80, SHARE_4)
    assert kl.movement(kl.knee_table(runs, [], "lm-source")) == \
        "20→80→160: 16→4→16 (up and down; stays from 20 to 160 steps)"


def test_independent_halves_score_short_probes_against_the_other_seeds_knee():
    def half(steps, shares, seeds, kind="length"):
        return [_row("lm-license", r, s, steps, shares[r], kind) for r in shares for s in seeds]

    # seeds 0-2 see a knee at 4 at every length; seeds 3-5 at 16 when short (20, 80), at 4 when long (40, 160)
    runs, sweep = [], half(40, SHARE_4, (0, 1, 2), "sweep")
    for n in (20, 80, 160):
        runs += half(n, SHARE_4, (0, 1, 2))
    runs += half(40, SHARE_4, (3, 4, 5)) + half(160, SHARE_4, (3, 4, 5))
    assert kl.split_halves(runs, sweep, ["lm-license"]) == []  # seeds 3-5 not at every length yet
    runs += half(20, SHARE_16, (3, 4, 5)) + half(80, SHARE_16, (3, 4, 5))
    lines = kl.split_halves(runs, sweep, ["lm-license"])
    assert "| lm-license | 4 / 16 | 4 / 4 | 4 / 16 | 4 / 4 |" in lines
    # the truth is 4 for both halves at 40 steps: probes saying 16 miss ([4, 8]), so at 20 steps only the
    # 0-2 half's probes hit (3 of 6 single seeds, 3 of 6 pairs, 1 of 2 triples); at 160 every probe hits
    assert "| 20 steps | 3/6 (50%) | 3/6 (50%) | 1/2 (50%) |" in lines
    assert "| 40 steps (the planned length) | 6/6 (100%) | 6/6 (100%) | 2/2 (100%) |" in lines
    assert "| 160 steps | 6/6 (100%) | 6/6 (100%) | 2/2 (100%) |" in lines
    assert "## Independent halves: can a short run find the planned run's knee?" in kl.report(runs, sweep,
                                                                                               ["lm-license"])


def test_a_classifier_knee_at_its_sweep_length_and_at_a_longer_run(monkeypatch):
    import rank_regret_replay as rp

    monkeypatch.setattr(rp, "adapter_of", lambda task: {"model": "toy", "targets": "query", "per_rank": 1000,
                                                        "fixed": 0, "min_dim": 64})
    monkeypatch.setattr(rp, "data_size", lambda rows, task: {"task": "sequence-classification", "examples": 800,
                                                             "num_labels": 6, "label_entropy_bits": 2.5,
                                                             "entropy_counted": True})

    def cls(steps, shares, kind, head):
        rows = [{**_row("cls-license", r, s, steps, shares[r], kind, lr=0.003)} for r in shares for s in kl.SEEDS]
        rows += [{**_row("cls-license", 0, s, steps, 0.0, head, lr=0.003)} for s in kl.SEEDS]  # the head alone
        return rows

    sweep = cls(32, SHARE_16, "sweep", "base")
    runs = cls(160, SHARE_4, "length", "length")
    # a second rate at 160 steps: worse for every rank but 4, and for the head alone; each takes its best rate
    runs += [{**r, "lr": 0.001, "curve": [[0, BASE], [160, r["curve"][-1][1] + (-0.01 if r["rank"] == 4 else 0.2)]]}
             for r in cls(160, SHARE_4, "length", "length")]
    rows, base = kl.classifier_rows(runs, sweep, "cls-license", 160)
    assert len(rows) == 42 and len(base) == 6 and all(r["rank"] == 0 for r in base)
    assert len(kl.classifier_rows(runs, sweep, "cls-license", 160, lr=0.003)[0]) == 21
    text = "\n".join(kl.classifier_lines(runs, sweep, "cls-license"))
    assert "The capacity prior says rank 1: token rule 800 parameters against 1,000 per rank unit" in text
    # the sweep's 32 steps, then the longer run at two rates; its head alone at its best rate (3e-3)
    assert "| 32 | 21 | 0.003 | 16 |" in text and "| 160 | 42 | 0.001, 0.003 | 4 |" in text
    assert "| 4 | 0.50 @ 0.003 | 0.99 @ 0.001 |" in text  # rank 4's share and best rate at 32 and 160 steps
