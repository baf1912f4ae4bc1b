"""`lorplan recommend --gpus N --sharding zero3`: the memory line says the figure is per GPU over N GPUs with
ZeRO-3; a probe, which trains on one GPU unsharded (lorplan.probe.plans.probe_plan), is priced as it runs, and
when not even a rank-1 probe fits the GPU the recommendation is the prior's, saying why, instead of a ladder whose
every probe runs out of memory; and a planned training too short to probe names fewer GPUs (a plan over N GPUs
takes N times fewer steps) when that plans enough steps and fits. In-process CLI calls: catalog models priced
with --probes none, and the tiny Llama's ladders built for real with _run_ladder replaced, so no probe runs."""

from __future__ import annotations

import json

from lorplan.cli import main
from lorplan.cli import recommend as cli_recommend

LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def _out(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["recommend", *argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _json(capsys, *argv) -> dict:
    rc, out, err = _out(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


def _probes(out: dict) -> str:
    return next(e["explanation"] for e in out["evidence"] if e["source"] == "probes")


def _started(monkeypatch) -> list:
    built = []
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: built.append(ladder) or 0)
    return built


def _memory_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.lstrip().startswith("memory "))


def test_the_memory_line_says_over_how_many_gpus_and_how(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the line whole, not wrapped
    base = ("--model", LLAMA_70B, "--trained-tokens", "2M", "--seq-len", "1024", "--gpu", "H100", "--probes", "none")
    rc, out, err = _out(capsys, *base, "--gpus", "4", "--sharding", "zero3")
    assert rc == 0, err
    line = _memory_line(out)
    assert "per GPU over 4 GPUs with ZeRO-3: fits" in line, line
    rc, out, err = _out(capsys, *base, "--gpus", "2")  # data parallel, the default over several GPUs
    assert rc == 0, err
    assert "per GPU over 2 GPUs with DDP: " in _memory_line(out), out
    rc, out, err = _out(capsys, *base)  # one GPU: nothing to add
    assert rc == 0, err
    assert " over " not in _memory_line(out) and "per GPU: " in _memory_line(out), out


def test_the_memory_verdict_says_it_in_the_same_words_wherever_it_is_shown(capsys, monkeypatch):
    """The memory evidence (text, --json's fits and evidence), the planner's Recommend panel (fit_words) and a
    ladder's printout (the driver prices with price_fit too) say the GPUs and sharding as the memory line does."""
    from lorplan.recommend.types import Fit
    from lorplan.tui.recommend_bridge import fit_words

    monkeypatch.setenv("COLUMNS", "200")
    base = ("--model", LLAMA_70B, "--trained-tokens", "2M", "--seq-len", "1024", "--gpu", "H100", "--probes", "none")
    said = "per GPU over 4 GPUs with ZeRO-3 at micro-batch 1 × 1,024 tokens"
    rec = _json(capsys, *base, "--gpus", "4", "--sharding", "zero3")
    memory = next(e["explanation"] for e in rec["evidence"] if e["source"] == "memory")
    assert said in rec["fits"]["explanation"] and said in memory, memory
    assert said in fit_words(Fit.from_json(rec["fits"]))
    # --json's fits object names them as fields too, and reads back with them
    assert (rec["fits"]["gpus"], rec["fits"]["sharding"]) == (4, "zero3")
    assert Fit.from_json(rec["fits"]).to_json() == rec["fits"]
    rc, out, err = _out(capsys, *base, "--gpus", "4", "--sharding", "zero3")
    assert rc == 0 and said in " ".join(out.split()), out
    # one GPU: as before
    one = _json(capsys, *base)["fits"]
    assert "GiB per GPU at micro-batch 1 × 1,024 tokens" in one["explanation"]
    assert (one["gpus"], one["sharding"]) == (1, "none")
    # several GPUs without --sharding: the sharding priced (data parallel), not the flag's absence
    two = _json(capsys, *base, "--gpus", "2")["fits"]
    assert (two["gpus"], two["sharding"]) == (2, "ddp") and "over 2 GPUs with DDP" in two["explanation"]
    # a fits object an older lorplan wrote (a ladder's recommendation.json) has neither: read as not recorded
    old = {k: v for k, v in rec["fits"].items() if k not in ("gpus", "sharding")}
    assert (Fit.from_json(old).gpus, Fit.from_json(old).sharding) == (None, None)


def _budget_between(capsys, tiny_llama, lm_data) -> int:
    """A budget the 4-GPU ZeRO-3 plan fits per GPU and a rank-1 probe on one GPU, unsharded, does not."""
    common = ("--model", str(tiny_llama), "--data", str(lm_data), "--probes", "none", "--epochs", "10")
    sharded = _json(capsys, *common, "--gpus", "4", "--sharding", "zero3")
    alone = _json(capsys, *common)
    assert sharded["rank"] == alone["rank"] == 1  # both priced at the rank the smallest probe trains
    low, high = sharded["fits"]["total_bytes"], alone["fits"]["total_bytes"]
    assert low < high, (low, high)
    return (low + high) // 2


def test_a_zero3_plan_whose_probe_cannot_fit_one_gpu_gets_the_prior(tiny_llama, lm_data, state_home, monkeypatch,
                                                                    capsys):
    budget = _budget_between(capsys, tiny_llama, lm_data)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # probes would train on a GPU (without NVML, as written)
    built = _started(monkeypatch)
    argv = ("--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "10", "--gpus", "4", "--sharding",
            "zero3", "--budget-minutes", "5")
    rc, out, err = _out(capsys, *argv, "--gpu-memory", str(budget), "--json")
    assert rc == 0, err
    assert built == [] and not any(state_home.glob("*/ladder.json"))  # no ladder was started
    rec = json.loads(out)
    assert rec["fits"]["fits"] is True and rec["ladder"] == []  # the planned training fits; its probe does not
    probes = _probes(rec)
    assert probes.startswith("no probes were run: a probe trains on one GPU, unsharded, not over 4 GPUs with "
                             "ZeRO-3 as the planned training: even at rank 1 it needs "), probes
    assert "more than the GPU budget" in probes and "rests on the capacity prior alone" in probes, probes
    assert "--budget-minutes 5 is not used: no probe runs, since a probe on one GPU, unsharded, does not fit" in err

    # a GPU the unsharded probe fits: the ladder is planned as before
    assert main(["recommend", *argv, "--gpu", "H100", "--json"]) == 0
    assert len(built) == 1 and built[0].spec is not None


def test_a_plan_too_short_to_probe_names_fewer_gpus_when_they_fit(tiny_llama, lm_data, state_home, monkeypatch,
                                                                 capsys):
    built = _started(monkeypatch)
    # 130 training examples × 0.02 epochs: 1 step at 4 per step (1 row on each of 4 GPUs), 2 steps on 2 GPUs
    argv = ("--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "0.02", "--gpus", "4", "--sharding",
            "zero3", "--gpu", "H100")
    probes = _probes(_json(capsys, *argv))
    assert built == [] and probes.startswith("no probes were run: the planned training is 1 step ("), probes
    assert "--gpus 2 plans 2 steps (a plan over N GPUs takes N times fewer steps; rank 1 fits H100-80GB" in probes
    # the GPUs it names give a ladder (probes run on this machine's CPU here)
    assert main(["recommend", *argv, "--gpus", "2", "--json"]) == 0
    (ladder,) = built
    assert ladder.spec is not None and ladder.spec.planned_steps == 2

    # one GPU plans enough steps (0.01 epochs: 2 steps on 1 GPU, 1 on 2 or more), spelled so that the flags added
    # to the command give it: one GPU shards nothing
    probes = _probes(_json(capsys, *argv[:4], "--epochs", "0.01", *argv[6:]))
    assert "--gpus 1 --sharding none plans 2 steps" in probes, probes


def test_fewer_gpus_are_not_named_when_they_do_not_fit_or_do_not_help(tiny_llama, lm_data, state_home, monkeypatch,
                                                                      capsys):
    budget = _budget_between(capsys, tiny_llama, lm_data)
    _started(monkeypatch)
    common = ("--model", str(tiny_llama), "--data", str(lm_data), "--gpus", "4", "--sharding", "zero3")
    # 1 GPU would plan 2 steps, but the plan unsharded on it does not fit the budget
    probes = _probes(_json(capsys, *common, "--epochs", "0.01", "--gpu-memory", str(budget)))
    assert probes.startswith("no probes were run: the planned training is 1 step (") and "--gpus" not in probes, probes
    assert "--epochs " in probes, probes
    # even 1 GPU plans a single step (130 × 0.005 examples)
    probes = _probes(_json(capsys, *common, "--epochs", "0.005", "--gpu", "H100"))
    assert "--epochs " in probes and "--gpus" not in probes, probes


def test_ranks_whose_probe_does_not_fit_one_gpu_are_not_probed(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    """Rank 1's probe fits the GPU, the ladder's top rank's does not: the ladder stops at the largest rank whose
    probe (one GPU, unsharded) fits, and its probes note says so, instead of probes that run out of memory."""
    from dataclasses import replace

    from lorplan.core.memory import rank_table
    from lorplan.core.model import load_spec
    from lorplan.core.plan import plan_to_setup
    from lorplan.core.plan.validate import plan_from_dict

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # probes would train on a GPU (without NVML, as written)
    built = _started(monkeypatch)
    argv = ("--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "10", "--gpus", "4", "--sharding",
            "zero3", "--budget-minutes", "5", "--json")
    assert main(["recommend", *argv, "--gpu", "H100"]) == 0
    whole = built[-1]
    top = whole.spec.max_rank
    assert top >= 4 and max(whole.spec.ranks) > top // 4, whole.spec
    _, setup, _ = plan_to_setup(plan_from_dict(whole.plan.base, "base plan"))
    assert (setup.gpus, str(setup.sharding)) == (4, "zero3")
    alone = replace(setup, gpus=1, sharding="none")
    need = {r.rank: r.memory.total for r in rank_table(load_spec(str(tiny_llama)), alone, (top // 4, top)).rows}
    assert need[top // 4] < need[top]

    capsys.readouterr()
    assert main(["recommend", *argv, "--gpu-memory", str(need[top // 4])]) == 0
    capped = built[-1]
    assert capped.spec.max_rank == top // 4 and max(capped.spec.ranks) <= top // 4, capped.spec
    assert all(p.rank <= top // 4 for p in capped.plan.probes)
    note = capped.spec.notes[0]["explanation"]
    assert (f"probes stop at rank {top // 4}: a probe trains on one GPU, unsharded, not over 4 GPUs with ZeRO-3 as "
            f"the planned training, and at rank {top // 2} it needs ") in note, note
    assert "more than the GPU budget" in note, note

    # on the CPU the probes are not priced against the GPU: the ladder is whole
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert main(["recommend", *argv, "--gpu-memory", str(need[top // 4])]) == 0
    assert built[-1].spec.max_rank == top


def test_a_ladder_s_older_recommendation_json_gives_fits_gpus_and_sharding_as_null(state_home, capsys):
    """A ladder's recommendation.json that an older lorplan wrote has no fits.gpus or fits.sharding: `recommend
    --run RUN --json` printed its fits object without the keys README lists, where a new one has them (None in
    Fit.from_json: not recorded). It prints them as null, in the order a new one has them; the text and the TUI's
    reading (recommend_bridge.read_recommendation) are as for any fits object."""
    from ladder_folders import ladder_run

    from lorplan.recommend import measured
    from lorplan.recommend.observe import RunObserver
    from lorplan.recommend.types import Fit
    from lorplan.tui.recommend_bridge import read_recommendation

    run, files = ladder_run(state_home, done=True)
    spec = files.spec()
    obs = RunObserver(run, spec.learning_rate).observe()
    price = lambda r: Fit(r, 10 << 30, 24 << 30, "H100", True, r, (),  # noqa: E731
                          f"rank {r} fits H100: 10 GiB of 24 GiB per GPU at micro-batch 1", gpus=2, sharding="ddp")
    new = measured.recommendation_json(spec, obs, files.state(), price, run_id=run.id)
    old = {**new, "fits": {k: v for k, v in new["fits"].items() if k not in ("gpus", "sharding")}}
    files.write_recommendation(old)
    got = _json(capsys, "--run", run.id)["fits"]
    assert list(got) == list(new["fits"]) and (got["gpus"], got["sharding"]) == (None, None), got
    assert {k: v for k, v in got.items() if k not in ("gpus", "sharding")} == old["fits"]
    fits = read_recommendation(files.recommendation_path).recommendation.fits
    assert (fits.gpus, fits.sharding, fits.explanation) == (None, None, old["fits"]["explanation"])
    rc, out, _ = _out(capsys, "--run", run.id)
    assert rc == 0 and "rank 16 fits H100: 10 GiB of 24 GiB per GPU" in " ".join(out.split()), out
    # a new one's, as written
    files.write_recommendation(new)
    assert _json(capsys, "--run", run.id)["fits"] == new["fits"]
