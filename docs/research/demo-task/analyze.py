"""Tables from JSONL results. usage: python analyze.py FILE [TAG] [--lr-table]"""
import json
import math
import sys
from collections import defaultdict


def ms(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    v = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(v / len(xs))


def load(path, tag=None):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return [r for r in rows if tag is None or r["tag"] == tag]


def knee_table(rows, alpha_mode="2r", steps=None):
    cells = defaultdict(list)
    for r in rows:
        if r["alpha_mode"] not in (alpha_mode, "head") or (steps and r["steps"] != steps):
            continue
        cells[(r["rank"], r["lr"])].append(r)
    best = {}
    for (rank, lr), rs in cells.items():
        m, _ = ms([r["eval_loss"] for r in rs])
        if rank not in best or m < best[rank][0]:
            best[rank] = (m, lr, rs)
    print(f"alpha_mode={alpha_mode}  (best lr per rank; mean ± se over seeds)")
    print(f"{'rank':>4} {'lr':>7} {'params':>8} {'acc':>15} {'eval loss':>17} {'train s':>8} seeds")
    for rank in sorted(best):
        m, lr, rs = best[rank]
        a = ms([r["acc"] for r in rs])
        l = ms([r["eval_loss"] for r in rs])
        t = ms([r["train_s"] for r in rs])
        print(f"{rank:>4} {lr:>7g} {rs[0]['trainable']:>8} {a[0]:.3f} ± {a[1]:.3f} {l[0]:.4f} ± {l[1]:.4f} "
              f"{t[0]:>8.1f} {len(rs)}")
    if 0 in best and len(best) > 1:
        base = best[0][0]
        lstar = min(v[0] for k, v in best.items() if k > 0)
        imp = base - lstar
        knee = min(k for k, v in best.items() if k > 0 and base - v[0] >= 0.95 * imp)
        fr = {k: round((base - v[0]) / imp, 3) for k, v in sorted(best.items()) if k > 0}
        print(f"base {base:.4f}  L* {lstar:.4f}  fraction of best improvement per rank {fr}  KNEE = r{knee}")
    return best


def lr_table(rows):
    cells = defaultdict(list)
    for r in rows:
        if r["rank"] == 0:
            continue
        cells[(r["alpha_mode"], r["rank"], r["lr"])].append(r["eval_loss"])
    modes = sorted({k[0] for k in cells})
    ranks = sorted({k[1] for k in cells})
    lrs = sorted({k[2] for k in cells})
    for mode in modes:
        print(f"\n{mode}: eval loss mean ± se (n seeds); * = best lr for the rank")
        print(f"{'rank':>4} " + " ".join(f"{lr:>20g}" for lr in lrs))
        for rank in ranks:
            vals = {lr: cells.get((mode, rank, lr)) for lr in lrs}
            have = {lr: ms(v)[0] for lr, v in vals.items() if v}
            bl = min(have, key=have.get) if have else None
            s = []
            for lr in lrs:
                v = vals[lr]
                if not v:
                    s.append(f"{'-':>20}")
                else:
                    m, se = ms(v)
                    s.append(f"{m:>9.4f}±{se:.4f}({len(v)}){'*' if lr == bl else ' '}")
            print(f"{rank:>4} " + " ".join(s))


if __name__ == "__main__":
    path = sys.argv[1]
    tag = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else None
    rows = load(path, tag)
    if "--lr-table" in sys.argv:
        lr_table(rows)
    else:
        tags = sorted({r["tag"] for r in rows})
        for t in tags:
            print("==", t)
            for am in sorted({r["alpha_mode"] for r in rows if r["tag"] == t and r["alpha_mode"] != "head"}):
                knee_table([r for r in rows if r["tag"] == t], am)
