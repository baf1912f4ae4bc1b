"""A ladder's probes are priced on one GPU, unsharded, once: recommend.launch priced rank 1 for the refusal that no
probe fits (its "even at rank 1" words) and again, with the ranks above it, for where the probes stop (its "probes
stop at rank N" words), whose own "none fits" branch the first pricing had already made unreachable. The words of
both are tests/recommend/test_sharded_recommend.py's."""

from __future__ import annotations

from lorplan.cli import main


def test_the_probes_are_priced_in_one_table(tiny_llama, lm_data, state_home, monkeypatch, capsys):
    import lorplan.core.memory as memory
    from lorplan.cli import recommend as cli_recommend

    real, priced = memory.rank_table, []

    def counted(spec, setup, ranks, *args, **kwargs):
        if setup.gpus == 1 and str(setup.sharding) == "none":  # a probe's setup (launch._alone), not the plan's
            priced.append(tuple(ranks))
        return real(spec, setup, ranks, *args, **kwargs)

    monkeypatch.setattr(memory, "rank_table", counted)
    built = []
    monkeypatch.setattr(cli_recommend, "_run_ladder", lambda args, ladder, **kw: built.append(ladder) or 0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # probes would train on a GPU (without NVML, as written)
    argv = ("--model", str(tiny_llama), "--data", str(lm_data), "--epochs", "10", "--gpus", "4", "--sharding",
            "zero3", "--budget-minutes", "5", "--gpu", "H100", "--json")
    assert main(["recommend", *argv]) == 0, capsys.readouterr().err
    assert len(built) == 1 and built[0].spec is not None
    top = built[0].spec.max_rank
    assert top >= 4
    # one table: rank 1 (whether any probe fits) and the powers of two up to the ladder's top (where they stop)
    assert priced == [tuple(1 << k for k in range(top.bit_length()))], priced
