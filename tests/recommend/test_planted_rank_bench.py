"""The pure parts of benchmarks/planted_rank.py: the planted change really has rank k, the report's arithmetic
on a hand-made results file (knee, prior, ladder replay, hit rates), and the sweep's resumability."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import planted_rank as pr  # noqa: E402
import planted_rank_tasks as tasks  # noqa: E402

PER_RANK = 4352  # LoRA parameters per rank unit of the hand-made case (the tiny Llama's all-linear count)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.mark.parametrize("k", [1, 3, 8])
def test_planted_change_has_rank_k_on_the_planted_modules_only(k):
    import torch

    base = tasks.tiny_llama()
    teacher = copy.deepcopy(base)
    case = tasks.Case("t", "llama", k, ("v_proj",), layers=(1,))
    deltas = tasks.plant(teacher, case)
    assert list(deltas) == ["model.layers.1.self_attn.v_proj"]
    b, t = dict(base.named_parameters()), dict(teacher.named_parameters())
    for name, p in b.items():
        dw = (t[name] - p).detach()
        if name == "model.layers.1.self_attn.v_proj.weight":
            assert torch.linalg.matrix_rank(dw).item() == k
            s = torch.linalg.svdvals(dw)[:k]
            assert torch.allclose(s, s[0].expand(k), rtol=1e-3)  # every planted direction equally strong
        else:
            assert dw.abs().max().item() == 0.0, name


def test_noise_makes_the_change_full_rank():
    import torch

    teacher = tasks.tiny_llama()
    base = tasks.tiny_llama()
    tasks.plant(teacher, tasks.Case("t", "llama", 2, ("v_proj",), layers=(0,), noise=0.3))
    dw = (teacher.model.layers[0].self_attn.v_proj.weight - base.model.layers[0].self_attn.v_proj.weight).detach()
    assert torch.linalg.matrix_rank(dw).item() == 128
    s = torch.linalg.svdvals(dw)
    assert s[1] > 3 * s[2]  # still two planted directions above the noise


def _curve(final: float, base: float, steps: int = 96) -> list[list[float]]:
    """A curve that reaches `final` by a quarter of the run and stays there."""
    out = []
    for t in tasks.eval_steps(steps):
        frac = min(1.0, t / (steps / 4))
        out.append([t, base - (base - final) * frac])
    return out


def _handmade(path: Path, case: str = "llama-v-k4", knee: int = 4) -> None:
    """A complete sweep of `case`: base loss 1.0; at the middle rate, rank r reaches 1 - 0.5·min(1, r/knee)
    (so the knee is `knee`); the other rates are worse by 0.05 and 0.1; seeds differ by ±0.001."""
    c = pr.BY_NAME[case]
    rows = [{"case": case, "kind": "base", "base_loss": 1.0, "build_seconds": 1.0,
             "settings": {**pr.asdict(c), "modules": list(c.modules), "targets": list(c.targets)},
             "planted": ["model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj"],
             "modules": {f"model.layers.{i}.self_attn.{m}": [128, 128]
                         for i in range(2) for m in ("q_proj", "v_proj")}, "trained_tokens": 256 * 32}]
    lrs = pr.LRS[c.model]
    for r in pr.RANKS:
        for j, lr in enumerate(lrs):
            for s in pr.SEEDS:
                final = 1 - 0.5 * min(1.0, r / knee) + (0.05, 0.0, 0.1)[j] + (0.001 if s else -0.001)
                rows.append({"case": case, "kind": "run", "rank": r, "lr": lr, "seed": s,
                             "curve": _curve(final, 1.0), "eval_loss": final, "train_seconds": 10.0,
                             "trainable_params": r * PER_RANK, "adapter": None})
    path.write_text("".join(json.dumps(x) + "\n" for x in rows))


def test_report_arithmetic_on_a_handmade_results_file(tmp_path):
    path = tmp_path / "r.jsonl"
    _handmade(path)
    rows = pr.read_rows(path)
    (s,) = pr.analyse(rows)
    assert s["knee"] == 4 and s["k"] == 4 and s["knee_is_k"]
    assert s["knee_lr"] == pr.LRS["llama"][1]
    # token rule: 8192 trained tokens / 4352 parameters per rank = 1.88 -> rank 2, below the knee
    assert s["prior"] == 2 and not s["prior_hit"]
    # ladder around the prior: 2, 8, 32; rank 8 (the middle) at three rates first, the middle rate wins; ranks
    # 2 and 32 at it; knee 8, refined to 4 and 16; rank 4 wins. Replayed once per seed, one seed per probe.
    assert s["ladder_probed"] == [2, 4, 8, 16, 32]
    assert s["ladder"] == [4, 4] and s["ladder_hits"] == 2
    assert s["ladder_lr"] == [pr.LRS["llama"][1]] * 2
    # probes are half as long as the sweep's runs: 3 rates at rank 8 + ranks 2 and 32 + 2 refinements = 7
    # probes, then the other seed at ranks 4, 8, 16 and 32 (the band's low end, 4, and up) = 11 probes of 5 s,
    # against 7 x 3 x 2 = 42 runs of 10 s
    assert s["ladder_seconds"] == pytest.approx(11 * 5.0)
    assert s["sweep_seconds"] == pytest.approx(42 * 10.0)
    # without the rate pass: 5 ranks x 2 seeds at the middle rate + 2 rates x 2 seeds at rank 4 = 14 probes
    assert s["ladder_old"] == 4 and s["ladder_old_hit"]
    assert s["ladder_old_seconds"] == pytest.approx(14 * 5.0)
    # given a budget of 10% of the sweep (42 s): the same seven probes (35 s), then what is left (7 s) buys one
    # second-seed probe of the four, the one at the knee: 8 probes, 40 s, the same rank
    assert s["budgeted"] == [4, 4] and s["budgeted_hits"] == 2 and s["budgeted_seconds"] == pytest.approx([40.0] * 2)
    assert s["pattern_share"] == s["signal_share"] == "not run"  # the hand-made rows have no adapters
    text = pr.render([s], rows)
    assert "| llama-v-k4 | llama | v_proj | 4 | 4 (" in text
    assert "prior alone in [knee, 2×knee]: 0/1 = 0% (target ≥ 80%: NOT met)" in text
    assert "prior + ladder (replay, one seed per probe, each seed once) in [knee, 2×knee]: 2/2 = 100% (target ≥ " \
           "80%: met)" in text
    assert "ladder cost: 13% of the sweeps' training seconds (mean over the seeded replays; largest 13%)" in text
    assert all(lo <= 4 <= hi for lo, hi in s["ladder_bands"]) and s["ladder_band_held"] == 2
    assert "holds the knee in 2/2" in text
    assert ("prior + ladder given a budget of 10% of the sweep's training seconds (`--budget-minutes`: the driver's "
            "cuts, timed by the replayed probes' recorded seconds): 2/2 = 100% in [knee, 2×knee], cost 9.5%") in text
    assert text.count("ranks that changed against the ladder without a budget: none") == 1
    assert "without the rate pass (ranks compared at the middle rate, two seeds per probe): 1/1 = 100%" in text


def test_incomplete_sweeps_are_left_out_and_torn_lines_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    _handmade(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # the last run torn, as by a kill
    rows = pr.read_rows(path)
    assert len(rows) == len(lines) - 1
    assert pr.analyse(rows) == []
    assert len(pr.todo(pr.BY_NAME["llama-v-k4"], {pr.run_key(r) for r in rows})) == 1
    pr.append_row(path, {"case": "x", "kind": "run", "rank": 1})  # the torn line costs only itself
    assert pr.read_rows(path)[-1] == {"case": "x", "kind": "run", "rank": 1}
    assert len(pr.read_rows(path)) == len(lines)


def test_hit_and_share_arithmetic():
    assert pr.hit(4, 4) and pr.hit(8, 4) and not pr.hit(2, 4) and not pr.hit(16, 4)
    mods = {"a.v_proj": [10, 10], "a.q_proj": [10, 30]}
    assert pr.share_planted(mods, ["a.v_proj"], {}, 4) == pytest.approx(20 / 60)
    assert pr.share_planted(mods, ["a.v_proj"], {"q_proj": 1}, 4) == pytest.approx(80 / 120)
    # by rank: v_proj (smaller dimension 10, so full rank is 8) against q_proj
    assert pr.planted_order(mods, ["a.v_proj"], {"q_proj": 1}, 4) == ("above", False)
    assert pr.planted_order(mods, ["a.v_proj"], {}, 4) == ("tied", False)
    assert pr.planted_order(mods, ["a.v_proj"], {"v_proj": 2}, 4) == ("below", False)
    assert pr.planted_order(mods, ["a.v_proj"], {"v_proj": 8}, 4) == ("above", True)


def test_sweep_resumes_without_redoing_finished_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(pr, "RANKS", (1, 2))
    monkeypatch.setattr(pr, "SEEDS", (0,))
    monkeypatch.setattr(pr, "LRS", {"llama": (1e-3, 3e-3, 9e-3)})
    monkeypatch.setattr(pr, "ADAPTERS", tmp_path / "adapters")
    path = tmp_path / "r.jsonl"
    case = tasks.Case("tiny", "llama", 1, ("v_proj",), train_rows=8, eval_rows=4, steps=2, batch=2)
    assert pr.sweep([case], until=None, path=path) == 6
    rows = pr.read_rows(path)
    assert [r["kind"] for r in rows].count("base") == 1 and len(rows) == 7
    assert all(len(r["curve"]) == 2 for r in rows if r["kind"] == "run")
    assert (tmp_path / "adapters" / "tiny" / "r2-s0" / "adapter_config.json").is_file()  # middle rate saved
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:-2]))  # as if killed two runs early
    assert pr.sweep([case], until=None, path=path) == 2
    again = pr.read_rows(path)
    assert len(again) == 7 and {pr.run_key(r) for r in again} == {pr.run_key(r) for r in rows}
    assert pr.sweep([case], until=None, path=path) == 0


def test_a_run_recorded_twice_counts_once(tmp_path):
    path = tmp_path / "r.jsonl"
    _handmade(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + lines[1:5]) + "\n")  # two sweeps at once recorded four runs twice
    assert len(pr.read_rows(path)) == len(lines)
    (s,) = pr.analyse(pr.read_rows(path))
    assert s["sweep_seconds"] == pytest.approx(42 * 10.0)


def test_pattern_rows_are_compared_with_uniform_at_the_same_rank(tmp_path):
    import planted_rank_pattern as prp

    path = tmp_path / "r.jsonl"
    _handmade(path)  # the ladder's rank is 4; uniform at rank 4, middle rate: 0.499 and 0.501
    planted = ["model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj"]
    for variant, loss, pattern in (("cap4", 0.4, {"v_proj": 8}), ("cap8x2", 0.55, {})):
        for seed in pr.SEEDS:
            pr.append_row(path, {"case": "llama-v-k4", "kind": "pattern", "variant": variant, "rank": 4,
                                 "lr": pr.LRS["llama"][1], "seed": seed, "pattern": pattern,
                                 "share": pr.share_planted({f"model.layers.{i}.self_attn.{m}": [128, 128]
                                                            for i in range(2) for m in ("q_proj", "v_proj")},
                                                           planted, pattern, 4),
                                 "eval_loss": loss, "trainable_params": 4 * PER_RANK, "curve": []})
    rows = pr.read_rows(path)
    # a pattern row is its own run: the sweep's row at the same rank, rate and seed is still there
    assert len({pr.run_key(r) for r in rows}) == len(rows)
    (item,) = prp.compare(rows, pr.analyse(rows))
    assert item["rank"] == 4 and item["uniform"] == pytest.approx(0.5)
    assert item["variants"]["cap4"]["share"] == pytest.approx(2 / 3) and item["variants"]["cap8x2"]["empty"]
    assert item["variants"]["cap4"]["order"] == "above" and item["variants"]["cap8x2"]["order"] == "tied"
    # 4 modules of 256 parameters per rank unit, 2 planted: at most rank 4 for them and 1 for the rest
    assert item["max_share"] == pytest.approx(4 * 512 / (4 * 512 + 512))
    text = pr.render(pr.analyse(rows), rows)
    assert "| llama-v-k4 | 4 | 0.5 (50%) | 80% | 0.4, -20.0%, 67% | 0.55, +10.0%, 50% (empty) |" in text
    assert "cap4 (" in text and "beats uniform in 1/1 cases, mean loss change -20.0%" in text
    assert "the planted modules' ranks above every other module's in 1/1 (equal to the largest other in 0)" in text
    assert "beats uniform in 0/1 cases, mean loss change +10.0%" in text


def test_a_rank_pattern_reaches_peft_with_alpha_over_each_modules_own_rank(tmp_path):
    from lorplan.recommend.pattern import load_adapter

    case = tasks.Case("tiny", "llama", 1, ("v_proj",), train_rows=8, eval_rows=4, steps=2, batch=2)
    data = tasks.build(case)
    out = tasks.train(case, data, 2, 3e-3, 0, save_to=tmp_path / "a",
                      rank_pattern={r"layers\.\d+\.self_attn\.v_proj": 8})
    # 2 layers × (q, k, v, o: 256 per rank unit; gate, up, down: 384) at rank 2, and v_proj 6 units more
    assert out["trainable_params"] == 2 * (4 * 256 + 3 * 384) * 2 + 2 * 6 * 256
    ad = load_adapter(tmp_path / "a")
    scale = {name.rsplit(".", 1)[-1]: s for name, (s, _, _) in ad.modules.items()}
    assert scale["v_proj"] == pytest.approx(32 / 8) and scale["q_proj"] == pytest.approx(32 / 2)


def test_oracle_patterns_give_the_planted_modules_most_of_the_budget():
    """The allocations the share target describes (benchmarks/planted_rank_pattern.py "oracle" and
    "oracle-most"): within uniform rank's budget, the planted modules at the largest power of two, the rest at
    rank 1 or at the largest rank that keeps the planted share above half; keys that peft matches by name."""
    import planted_rank_pattern as prp

    from lorplan.core.lora import pattern_value

    # the tiny Llama's two layers: v_proj 128×128 (256 per rank unit), the other six 1,920 per layer together
    modules = {f"model.layers.{i}.{m}": d for i in range(2) for m, d in (
        ("self_attn.q_proj", [128, 128]), ("self_attn.k_proj", [128, 128]), ("self_attn.v_proj", [128, 128]),
        ("self_attn.o_proj", [128, 128]), ("mlp.gate_proj", [128, 256]), ("mlp.up_proj", [128, 256]),
        ("mlp.down_proj", [256, 128]))}
    planted = ["model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj"]
    cost = {n: sum(d) for n, d in modules.items()}

    def params(pat, rank):
        return sum(cost[n] * (pattern_value(pat, n) or rank) for n in modules)

    for rank in (2, 8, 64):
        budget = rank * sum(cost.values())
        for most in (False, True):
            pat = prp.oracle_pattern(modules, planted, rank, most=most)
            assert params(pat, rank) <= budget
            assert pr.share_planted(modules, planted, pat, rank) > 0.5
            assert {pattern_value(pat, n) for n in planted} == {prp._oracle_rank(modules, planted, rank)[0]}
        low = prp.oracle_pattern(modules, planted, rank)
        assert {pattern_value(low, n) for n in modules if n not in planted} == {1}
        assert pr.share_planted(modules, planted, low, rank) == pytest.approx(prp.max_share(modules, planted, rank))
    # at rank 64 v_proj is already at its full rank (128 is its smaller dimension): the rest gets rank 17, the
    # largest that keeps 2·256·128 = 65,536 planted parameters above 12 modules' 3,840·17 = 65,280
    most = prp.oracle_pattern(modules, planted, 64, most=True)
    assert pattern_value(most, "model.layers.1.self_attn.v_proj") == 128
    assert pattern_value(most, "model.layers.0.mlp.up_proj") == 17
    # the target line's clause counts the cases where an oracle's loss is above lorplan's pattern's (ties left out)
    items = [{"variants": {"oracle": {"loss": 0.6}, "top-shared": {"loss": 0.5}}},
             {"variants": {"oracle": {"loss": 0.4}, "top-shared": {"loss": 0.5}}},
             {"variants": {"oracle": {"loss": 0.5}, "top-shared": {"loss": 0.5}}}]
    assert "lorplan's pattern in oracle 1/2 of the cases" in prp.oracle_words(items)
    assert prp.oracle_words([]) == ""
