"""`lorplan recommend ... --write PLAN.toml` checks PLAN.toml before the ladder starts, and writes it when the
ladder ends, minutes later. When the file was made meanwhile (another terminal, an editor), or its folder went
away, the write failed with core's line, which named no flag and said "pass --force to overwrite it": the
recommendation was not printed, and the command it pointed to (the same one with --force) would start a whole
new ladder. Now one line naming --write and the ladder's own command, `lorplan recommend --run RUN --write
PLAN.toml --force` (the ladder is done: it prints at once), or `--write` to another path when --force cannot
help; the ladder's recommendation is kept for it."""

from __future__ import annotations

import json
import shlex

from lorplan.cli import main
from lorplan.cli import recommend as cli

REAL_WAIT = cli._wait

def _then(monkeypatch, action) -> None:
    """The real wait for the ladder, then `action` (what happened in another terminal meanwhile)."""
    def wait(*a, **kw):
        obj = REAL_WAIT(*a, **kw)
        action()
        return obj

    monkeypatch.setattr(cli, "_wait", wait)


def _command_in(line: str) -> list[str]:
    """The command the line quotes between backticks, as words."""
    return shlex.split(line.split("`")[1])


def test_a_plan_file_made_during_the_ladder(state_home, tiny_llama, lm_data, tmp_path, capsys, monkeypatch):
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    # sized as on a busy 2-core machine: a short ladder of a few probes (an idle one fills the whole budget)
    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 4.0))
    target = tmp_path / "plan.toml"
    _then(monkeypatch, lambda: target.write_text("mine\n"))
    rc = main(["recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--targets", "q_proj",
               "--probe-steps", "10", "--budget-minutes", "1", "--write", str(target)])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == "", cap
    line = cap.err.strip().splitlines()[-1]
    assert line.startswith(f"lorplan recommend: error: --write {target}: "), line
    assert target.read_text() == "mine\n"  # not replaced without --force
    words = _command_in(line)
    run_id = words[words.index("--run") + 1]
    assert words == ["lorplan", "recommend", "--run", run_id, "--write", str(target), "--force"], line
    assert "--force" in line and "pass --force to overwrite it" not in line
    monkeypatch.setattr(cli, "_wait", REAL_WAIT)  # the command the line gives, as typed: prints and writes at once
    rc = main([*words[1:], "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    assert out["run"] == run_id and out["state"] == "done" and out["plan_file"] == str(target)
    assert f"r = {out['rank']}\n" in target.read_text()

    # re-attached with --wait, the same: the file made while it waited
    again = tmp_path / "again.toml"
    _then(monkeypatch, lambda: again.write_text("mine\n"))
    rc = main(["recommend", "--run", run_id, "--wait", "--write", str(again)])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == "", cap
    line = cap.err.strip().splitlines()[-1]  # after the lines --wait says of the ended probes
    assert line.startswith(f"lorplan recommend: error: --write {again}: "), line
    assert _command_in(line) == ["lorplan", "recommend", "--run", run_id, "--write", str(again), "--force"]

    # its folder replaced by a file: --force would not help, another path does (a folder merely removed is made
    # again, as every write of a plan makes its folder)
    gone = tmp_path / "gone"
    gone.mkdir()
    _then(monkeypatch, lambda: (gone.rmdir(), gone.write_text("a file\n")))
    rc = main(["recommend", "--run", run_id, "--wait", "--write", str(gone / "plan.toml"), "--force"])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == "", cap
    line = cap.err.strip().splitlines()[-1]
    assert line.startswith(f"lorplan recommend: error: --write {gone / 'plan.toml'}: "), line
    assert "--force" not in line.split(":", 3)[-1].split("`")[0]
    words = _command_in(line)
    assert words[:4] == ["lorplan", "recommend", "--run", run_id] and "--write" in words and "--wait" not in words
    assert gone.read_text() == "a file\n"  # left as it was
