"""`lorplan recommend --trained-tokens N --train-on all` with neither --data nor --write took --train-on and did
nothing with it (the tokens are already a count of trained ones, and no plan was written to carry it); `lorplan
plan` refuses --train-on without --write. Refused the same way now: one line, exit 2, before anything loads."""

from __future__ import annotations

from lorplan.cli import main

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"
EXPECTED = ("lorplan recommend: error: --train-on: only with --data FILE or --write PLAN.toml (it says which tokens "
            "the data's profile counts and the written plan trains; --trained-tokens N is already a count of "
            "trained tokens)\n")


def test_train_on_with_only_the_data_size_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for probes in ([], ["--probes", "none"]):
        rc = main(["recommend", "--model", SMOL, "--trained-tokens", "250k", "--train-on", "all", *probes])
        cap = capsys.readouterr()
        assert (rc, cap.out, cap.err) == (2, "", EXPECTED)


def test_train_on_with_write_is_written_to_the_plan(capsys, monkeypatch, tmp_path):
    from lorplan.core.plan import read_plan

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    for value in ("all", "completion"):
        rc = main(["recommend", "--model", SMOL, "--trained-tokens", "250k", "--train-on", value,
                   "--write", f"{value}.toml"])
        assert rc == 0, capsys.readouterr().err
        assert read_plan(tmp_path / f"{value}.toml").data.train_on == value
    capsys.readouterr()
