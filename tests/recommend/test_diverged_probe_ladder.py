"""A probe whose loss became nan or inf (its training diverged, or its model overflows its dtype) against the files
lorplan writes and reads back. recommendation.json is read strictly (recommend.types: a number must be finite), so
nothing lorplan writes there may hold a nan or inf, and the ladder's driver must outlive such a probe.

Before: the worker's event line refused the nan (json's allow_nan=False), so the probe failed with "ValueError: Out
of range float values are not JSON compliant: nan", and its result.json was written with `"eval_loss": NaN` (the
result's json.dumps allows it): not JSON to a strict reader (`jq`, JavaScript). The ladder's observer made that nan
the curve of a probe that had no eval before it (a rank probe, or the base probe, which a causal LM evaluates once
at step 0), and the driver's step raised BadInput ("ladder row rank 4: eval loss nan is not a finite number", or
"base eval loss nan ..." in the knee): the driver died and recommendation.json was never written again. Now the
worker ends such a probe failed, saying the loss and the step, with no nan in its files; the observer drops a loss
that is no finite number (an older worker's result, a damaged event line), so the probe reads as failed without an
eval loss. The boundary is the training (run_probe stands in, calling the worker's own step and eval callbacks); the
worker's result writing, the driver, the CLI and the planner's reader are the real ones."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from ladder_folders import CountingBackend, ladder_spec

from lorplan.cli import main
from lorplan.probe import backend as probe_backend
from lorplan.probe import runner, worker
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.recommend.decide import first_pass
from lorplan.recommend.driver import Driver
from lorplan.recommend.ladder_spec import LadderFiles, LadderState
from lorplan.recommend.types import Recommendation
from lorplan.tui.recommend_bridge import read_recommendation


def _strict(text: str):
    """The JSON in text, refusing NaN, Infinity and -Infinity as a strict reader (jq, JavaScript) does."""
    def refuse(word):
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _ladder(state_home, monkeypatch):
    """A ladder of ranks 2 and 4, its first pass (the base and both ranks) added by its driver, nothing launched."""
    backend = CountingBackend()
    monkeypatch.setattr(probe_backend, "get_backend", lambda *args, **kwargs: backend)
    run = create_run(runner.make_plan((2, 4), steps=10, device="cpu", model="/models/not-here"), state_home)
    spec = ladder_spec(data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
                       adapter={"model": "tiny", "targets": "q_proj", "per_rank": 1000, "fixed": 0, "min_dim": 64})
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(first_pass(spec),)))
    assert Driver(run).step() is False
    ids = {p.rank: p.id for p in run.plan().probes}
    assert sorted(ids) == [0, 2, 4], ids
    return run, files, ids


def _trained(run, ids, curves, monkeypatch):
    """Each probe run through the worker (run_worker: its events and result.json), its training standing in:
    curves[rank] is its (step, train loss, eval loss or None) in order; step 0 is an eval before training."""
    def run_probe(run, probe_id, emit, state, device_name="cpu", inject=None, **kwargs):
        rank = next(r for r, i in ids.items() if i == probe_id)
        for step, loss, eval_loss in curves[rank]:
            if step:
                state.on_step(SimpleNamespace(step=step, loss=loss, tokens=64, seconds=0.05, lr=1e-3), emit)
            if eval_loss is not None:
                state.on_eval(step, SimpleNamespace(loss=eval_loss, accuracy=None, items=50), emit)
        return {}

    monkeypatch.setattr(worker, "run_probe", run_probe)
    return {rank: worker.run_worker(run.path, pid) for rank, pid in ids.items()}


def _good(rank: int) -> list:
    return [(s, 3.0 - 0.01 * s * rank, 3.0 - 0.01 * s * rank if s % 2 == 0 else None) for s in range(1, 11)]


BASE = [(0, None, 3.0)]

CASES = {
    # rank 4's first eval is nan: its training diverged between steps 1 and 2
    "rank first eval nan": ({0: BASE, 2: _good(2), 4: [(1, 2.9, None), (2, 2.8, math.nan)]}, 4, "eval loss", "nan"),
    "rank first eval inf": ({0: BASE, 2: _good(2), 4: [(1, 2.9, None), (2, 2.8, math.inf)]}, 4, "eval loss", "inf"),
    # the training loss of step 3 is nan after an eval at step 2 (the usual divergence)
    "rank step nan": ({0: BASE, 2: _good(2), 4: [(1, 2.9, None), (2, 2.8, 2.7), (3, math.nan, None)]}, 4, "loss",
                      "nan"),
    # a causal LM's base is one eval at step 0: a model that overflows its dtype gives nan there
    "base eval nan": ({0: [(0, None, math.nan)], 2: _good(2), 4: _good(4)}, 0, "eval loss", "nan"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_diverged_probe_fails_in_one_line_and_the_ladder_reads_on(state_home, monkeypatch, capsys, case):
    curves, rank, what, value = CASES[case]
    run, files, ids = _ladder(state_home, monkeypatch)
    results = _trained(run, ids, curves, monkeypatch)

    got = _strict(run.result_path(ids[rank]).read_text())  # no NaN in the file
    assert got["state"] == "failed" and results[rank]["state"] == "failed"
    step = next(s for s, loss, ev in curves[rank] if not math.isfinite((ev if what == "eval loss" else loss) or 0))
    assert got["message"].startswith(f"Diverged: the {what} is {value} at step {step}: the training diverged"), got
    assert "\n" not in got["message"]
    assert got["step"] == step and all(v is None or math.isfinite(v) for v in (got["loss"], got["eval_loss"]))
    for pid in ids.values():  # every event line is JSON
        for line in run.events_path(pid).read_text().splitlines():
            _strict(line)

    Driver(run).step()  # was BadInput: "ladder row rank 4: eval loss nan is not a finite number"
    assert files.state().done  # every probe has ended, and this ladder adds no pass
    assert Driver(run).step() is True
    obj = _strict(files.recommendation_path.read_text())  # recommendation.json holds no NaN or Infinity
    rec = Recommendation.from_json(obj)  # and reads back strictly
    if rank:
        (row,) = [r for r in rec.ladder if r.rank == rank]
        assert row.state == "failed" and row.knee_loss is None
        assert row.eval_loss == (2.7 if case == "rank step nan" else None)
        assert any("(rank 4 failed)" in e.explanation for e in rec.evidence), rec.evidence
    else:
        assert obj["base_loss"] is None
        assert any("the base probe failed" in e.explanation for e in rec.evidence), rec.evidence
    assert read_recommendation(files.recommendation_path).recommendation == rec
    capsys.readouterr()
    assert main(["recommend", "--run", run.id, "--json"]) == 0
    assert Recommendation.from_json(_strict(capsys.readouterr().out)) == rec


def test_an_older_workers_nan_result_and_a_null_eval_line_read_as_no_eval_loss(state_home, monkeypatch):
    """A result.json an older worker wrote for a diverged probe ("eval_loss": NaN) and an eval line whose loss is
    null (a damaged or edited log): the probe has no eval loss; the driver read the nan as its curve and died."""
    run, files, ids = _ladder(state_home, monkeypatch)
    _trained(run, {0: ids[0], 2: ids[2]}, {0: BASE, 2: _good(2)}, monkeypatch)
    atomic_write_json(run.proc_path(ids[4]), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path(ids[4]), {"type": "step", "step": 1, "loss": 2.9})
    append_event(run.events_path(ids[4]), {"type": "eval", "step": 1, "eval_loss": None})
    atomic_write_json(run.result_path(ids[4]), {  # as the worker wrote it before: json.dumps allows nan
        "state": "failed", "step": 2, "loss": 2.8, "eval_loss": math.nan,
        "message": "ValueError: Out of range float values are not JSON compliant: nan"})
    assert "NaN" in run.result_path(ids[4]).read_text()

    files.write_state(LadderState(passes=files.state().passes, done=True))
    assert Driver(run).step() is True  # was BadInput: eval loss nan
    rec = Recommendation.from_json(_strict(files.recommendation_path.read_text()))
    (row,) = [r for r in rec.ladder if r.rank == 4]
    assert (row.state, row.eval_loss, row.predicted_loss) == ("failed", None, None)
