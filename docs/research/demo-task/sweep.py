"""Run a grid of cells; append each result to OUT (JSONL), skipping cells done.
usage: python sweep.py OUT SPEC_JSON
SPEC_JSON: {"task": name, "task_kw": {...}, "n_train": 800, "n_eval": 300, "steps": 60,
            "ranks": [...], "lrs": [...], "seeds": [...], "alpha_modes": ["2r"], "head_lr": null}"""
import json
import sys

import harness
import tasks


def main():
    out, spec = sys.argv[1], json.loads(sys.argv[2])
    task, kw = spec["task"], spec.get("task_kw", {})
    n_train, n_eval, steps = spec.get("n_train", 800), spec.get("n_eval", 300), spec.get("steps", 60)
    tag = spec.get("tag") or (task + json.dumps(kw, sort_keys=True))
    data, ncls = tasks.make(task, n_train + n_eval, spec.get("data_seed", 0), **kw)
    feats = harness.encode(data)
    train_f, eval_f = feats[:n_train], feats[n_train:]
    key = lambda r: (r["tag"], r["rank"], r["lr"], r["seed"], r["steps"], r["alpha_mode"], r["n_train"])
    done = harness.done_keys(out, key)
    for seed in spec["seeds"]:
        for lr in spec["lrs"]:
            for am in spec.get("alpha_modes", ["2r"]):
                for rank in spec["ranks"]:
                    if rank == 0 and am != spec.get("alpha_modes", ["2r"])[0]:
                        continue
                    k = (tag, rank, lr, seed, steps, am if rank else "head", n_train)
                    if k in done:
                        continue
                    r = harness.train_one(train_f, eval_f, ncls, rank, lr, seed, steps, am)
                    r.update(tag=tag, task=task, task_kw=kw, n_train=n_train, n_eval=n_eval,
                             alpha_mode=am if rank else "head")
                    harness.append(out, r)
                    print(json.dumps({k2: r[k2] for k2 in ("tag", "rank", "lr", "seed", "alpha_mode", "eval_loss",
                                                           "acc", "train_s")}), flush=True)


if __name__ == "__main__":
    main()
