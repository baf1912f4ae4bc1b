"""A budget too small for the smallest ladder (two ranks and the base probe) left the prior alone with "give more
--budget-minutes to probe", and no figure: the user had to guess and try again. The probes evidence now names the
--budget-minutes that buys that ladder by the same estimate, and that budget does buy it."""

from __future__ import annotations

import json
import re

from conftest import write_jsonl

from lorplan.cli import main
from lorplan.recommend.ladder import plan_ladder


def test_a_budget_that_buys_no_ladder_names_the_one_that_does(tiny_llama, tmp_path, capsys):
    data = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": f"{i} plus {i} is", "completion": f" {2 * i}"}
                                               for i in range(200)])
    rc = main(["recommend", "--model", str(tiny_llama), "--data", str(data), "--budget-minutes", "0.01", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    obj = json.loads(out.out)
    assert obj["ladder"] == [] and "run" not in obj  # no ladder started
    words = next(e["explanation"] for e in obj["evidence"] if e["source"] == "probes")
    assert "buys 0 probes" in words, words
    found = re.search(r"--budget-minutes (\d+) buys the smallest ladder", words)
    assert found, words
    minutes = int(found.group(1))
    each = float(re.search(r"probes? of about ([\d,.]+) s", words).group(1).replace(",", ""))
    # the named budget buys two ranks and the base probe at that estimate (rounded up, as the text rounds it)
    assert plan_ladder(minutes * 60, each + 0.5, prior_rank=1, high=64, base_probe=True).ranks, words
    assert minutes == 1 or plan_ladder((minutes - 1) * 60, each - 0.5, prior_rank=1, high=64,
                                       base_probe=True).ranks == (), words


def test_a_ladder_beyond_the_budget_limit_names_no_budget_the_flag_refuses(tmp_path, capsys):
    """A model near lorplan's 1B CPU limit, long rows and 5 seeds: the smallest ladder takes weeks by the estimate.
    It named '--budget-minutes 66744 buys the smallest ladder', which --budget-minutes refuses (at most a week)."""
    import torch
    from model_builders import copy_tokenizer
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    from lorplan.recommend.launch import MAX_BUDGET_MINUTES

    folder = copy_tokenizer(tmp_path / "llama-0.9b")
    LlamaConfig(vocab_size=30522, hidden_size=2048, intermediate_size=8192, num_hidden_layers=12,
                num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=4096, pad_token_id=0,
                bos_token_id=101, eos_token_id=102).save_pretrained(folder)
    save_file({"x": torch.zeros(1)}, folder / "model.safetensors")  # never read: no probe runs
    words = " ".join(f"word{j}" for j in range(700))
    data = write_jsonl(tmp_path / "long.jsonl", [{"prompt": f"{i} {words}", "completion": f" {i} {words}"}
                                                 for i in range(200)])
    rc = main(["recommend", "--model", str(folder), "--data", str(data), "--seq-len", "4096", "--epochs", "40", "--probe-steps", "300",
               "--seeds", "5", "--budget-minutes", "1", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    obj = json.loads(out.out)
    assert obj["ladder"] == [] and "run" not in obj
    words = " ".join(next(e["explanation"] for e in obj["evidence"] if e["source"] == "probes").split())
    named = re.search(r"--budget-minutes (\d+) buys", words)
    assert named is None or int(named.group(1)) <= MAX_BUDGET_MINUTES, words
    found = re.search(r"needs about ([\d,]+) minutes by that estimate, more than --budget-minutes takes \(at most "
                      r"([\d,]+), a week\)", words)
    assert found and int(found.group(1).replace(",", "")) > MAX_BUDGET_MINUTES, words
    assert int(found.group(2).replace(",", "")) == MAX_BUDGET_MINUTES
