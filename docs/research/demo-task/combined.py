"""Knee with best lr per rank over every alpha=2r cell of the count task (ladder + extra lrs + Q2's 2r rows)."""
import analyze
rows = []
for f in ("count_ladder.jsonl", "count_ladder2.jsonl", "count_lr.jsonl"):
    try:
        rows += analyze.load(f, "count{}")
    except FileNotFoundError:
        pass
seen, uniq = set(), []
for r in rows:
    k = (r["rank"], r["lr"], r["seed"], r["alpha_mode"], r["steps"])
    if k not in seen:
        seen.add(k); uniq.append(r)
rows = uniq
analyze.knee_table(rows, "2r")
print()
print("all alpha=2r cells (rank x lr):")
analyze.lr_table([r for r in rows if r["alpha_mode"] == "2r"])
