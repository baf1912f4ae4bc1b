"""The scheduler's refusal on a probe ladder that has ended (status.ended_ladder_refusal, in scheduler.log) named
the first queued probe alone ("probe r2 of run R: ... so the probe is not launched") when every queued probe was
left unlaunched for that one reason. It now names each of them, or past NAMED_PROBES their count with the first
few; a retry's refusal of one probe reads as before. The real scheduler's line: tests/probe/
test_scheduler_ended_ladder.py."""

from __future__ import annotations

from lorplan.probe.status import NAMED_PROBES, ended_ladder_refusal

TAIL = ("its probe ladder has ended (done) and its recommendation takes no new result, so the {} not launched; to "
        "measure again start a new ladder (`lorplan recommend ...`) or probe run (`lorplan probe start ...`)")


def _ids(n: int) -> list[str]:
    return [f"r{2 ** (i + 1)}" for i in range(n)]


def test_one_probe_reads_as_before():
    assert ended_ladder_refusal("R", "r2", "done", "not launched") == f"probe r2 of run R: {TAIL.format('probe is')}"
    assert ended_ladder_refusal("R", ["r2"], "done", "not launched") == f"probe r2 of run R: {TAIL.format('probe is')}"
    assert ended_ladder_refusal("R", "r2", "cancelled").endswith(
        "so the probe is not queued again; to measure again start a new ladder (`lorplan recommend ...`) or probe "
        "run (`lorplan probe start ...`)")


def test_a_few_probes_are_each_named():
    line = ended_ladder_refusal("R", _ids(3), "done", "not launched")
    assert line == f"probes r2, r4 and r8 of run R: {TAIL.format('probes are')}"
    ids = _ids(NAMED_PROBES)
    line = ended_ladder_refusal("R", ids, "done", "not launched")
    assert line.startswith(f"probes {', '.join(ids[:-1])} and {ids[-1]} of run R: ")


def test_many_probes_are_counted_with_the_first_named():
    ids = _ids(NAMED_PROBES + 3)
    line = ended_ladder_refusal("R", ids, "done", "not launched")
    shown = ", ".join(ids[:NAMED_PROBES - 1])
    assert line == (f"{len(ids)} probes ({shown} and {len(ids) - NAMED_PROBES + 1} more) of run R: "
                    f"{TAIL.format('probes are')}")
    assert ids[NAMED_PROBES - 1] not in line.split(" of run ")[0]
