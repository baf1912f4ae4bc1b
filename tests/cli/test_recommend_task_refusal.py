"""`lorplan recommend --task T` for a model lorplan plans as the other task: the refusal named --task without
the value asked for, gave one reason whichever way round it was ("lorplan plans sequence classification for
BERT-style encoders", untrue as the reason to refuse `--task causal-lm` for an encoder) and said nothing of what
to do. Now: the value asked, the task the model is planned as, the reason for that direction, and the fix."""

from __future__ import annotations

from lorplan.cli import main
from lorplan.core.vocab import Task

CAUSAL = "Qwen/Qwen2.5-0.5B-Instruct"  # a catalog causal LM: no weights needed
ENCODER = "all-MiniLM-L6-v2"  # the shipped encoder, a sequence classifier


def _refusal(capsys, model: str, task: str, *size: str) -> str:
    rc = main(["recommend", "--model", model, "--task", task, *size])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == "", cap
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    return lines[0]


def test_classification_asked_of_a_causal_lm(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = _refusal(capsys, CAUSAL, Task.SEQUENCE_CLASSIFICATION.value, "--examples", "1000")
    assert line.startswith(f"lorplan recommend: error: --task {Task.SEQUENCE_CLASSIFICATION.value}: {CAUSAL} is planned as "
                           f"{Task.CAUSAL_LM.value}"), line
    assert "only for encoders (BERT's kin) and for models whose config.json names their sequence classifier" in line
    assert "drop --task" in line


def test_causal_lm_asked_of_an_encoder(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = _refusal(capsys, ENCODER, Task.CAUSAL_LM.value, "--trained-tokens", "10k")
    assert f"--task {Task.CAUSAL_LM.value}: " in line and f"is planned as {Task.SEQUENCE_CLASSIFICATION.value}" in line, line
    # the reason is this direction's: an encoder is not planned as a language model
    assert "BERT" not in line  # a decoder whose config.json names its classifier (a reward model) is refused so too
    assert "not as a causal LM" in line
    assert "drop --task" in line and "give a causal LM" in line
