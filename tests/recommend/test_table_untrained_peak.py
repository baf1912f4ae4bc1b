"""The ladder table's peak memory is a rank's: a probe cancelled while it loaded (step 0) peaked at what loading
took, not at what training the rank takes, so its figure is not the rank's (`lorplan probe cancel` during a
ladder left rank 64 at 293 MiB, under the base's 469 MiB). A probe that trained keeps its peak."""

from __future__ import annotations

from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.measured import recommendation_json
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.table import ladder_table

LR = 1e-3
MiB = 2**20


def _ladder(obs: list[ProbeObs]) -> dict:
    spec = LadderSpec(kind="data", model="sentence-transformers/all-MiniLM-L6-v2", spec_source="/x",
                      task="sequence-classification", target_modules=("query", "key", "value", "dense"),
                      data={"task": "sequence-classification", "examples": 200, "num_labels": 2,
                            "label_entropy_bits": 1.0, "entropy_counted": True},
                      adapter={"model": "m", "targets": "all-linear", "per_rank": 42_240, "fixed": 770,
                               "min_dim": 384},
                      learning_rate=LR, learning_rate_why="test", planned_steps=12, probe_steps=12, seeds=(0,),
                      ranks=(1, 4, 16, 64), refine=False, extra_learning_rates=False, halving=False)
    return recommendation_json(spec, obs, LadderState(done=True, cancelled=12.0), run_id="cancelled-run")


def _finished(rank: int, loss: float, peak_mib: int) -> ProbeObs:
    return ProbeObs(id=f"r{rank}" if rank else "base", rank=rank, lr=LR, seed=0, state="finished", step=12,
                    curve=((6, loss + 0.1), (12, loss)), eval_accuracy=0.9, train_seconds=1.0, wall_seconds=3.0,
                    trainable_params=42_240 * rank + 770, peak_memory_bytes=peak_mib * MiB)


def _row(lines: list[str], label: str) -> str:
    return next(ln for ln in lines if ln.split() and ln.split()[0] == label)


def test_a_probe_cancelled_before_its_first_step_gives_its_rank_no_peak_memory():
    obs = [_finished(0, 0.68, 469), _finished(1, 0.32, 497), _finished(4, 0.41, 499),
           # cancelled while loading: no step, no eval, the resident set of a half-loaded model
           ProbeObs(id="r64", rank=64, lr=LR, seed=0, state="cancelled", step=0, train_seconds=0.0,
                    peak_memory_bytes=293 * MiB),
           # cancelled after 6 of 12 steps: it trained the rank, so its peak is that rank's
           ProbeObs(id="r16", rank=16, lr=LR, seed=0, state="cancelled", step=6, curve=((6, 0.5),),
                    train_seconds=0.6, trainable_params=42_240 * 16 + 770, peak_memory_bytes=508 * MiB)]
    lines = ladder_table(_ladder(obs))
    row64 = _row(lines, "64")
    assert "293 MiB" not in row64 and row64.split()[-3:] == ["-", "0/1", "(cancelled)"], row64
    assert "508 MiB" in _row(lines, "16") and "469 MiB" in _row(lines, "base")
