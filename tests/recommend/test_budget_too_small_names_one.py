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
    assert "buys 0 probe(s)" in words, words
    found = re.search(r"--budget-minutes (\d+) buys the smallest ladder", words)
    assert found, words
    minutes = int(found.group(1))
    each = float(re.search(r"probe\(s\) of about ([\d,.]+) s", words).group(1).replace(",", ""))
    # the named budget buys two ranks and the base probe at that estimate (rounded up, as the text rounds it)
    assert plan_ladder(minutes * 60, each + 0.5, prior_rank=1, high=64, base_probe=True).ranks, words
    assert minutes == 1 or plan_ladder((minutes - 1) * 60, each - 0.5, prior_rank=1, high=64,
                                       base_probe=True).ranks == (), words
