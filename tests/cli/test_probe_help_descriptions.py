"""`lorplan probe SUBCOMMAND --help` said only usage and options: each subcommand now has a one-sentence
description, in the README's words (Probe trainings)."""

from __future__ import annotations

import pytest

from lorplan.cli import main

# each subcommand, and words its description must say (what the README says it does)
WORDS = {
    "start": ("one probe per rank", "prints the run id and returns at once"),
    "status": ("one row per probe",),
    "wait": ("until every probe of the run has ended", "exits 0"),
    "cancel": ("queued probes never start", "--rank"),
    "list": ("every probe run", "oldest first"),
}


@pytest.mark.parametrize("command", sorted(WORDS))
def test_each_probe_subcommand_describes_itself(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["probe", command, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    head = text.split("\n\n")
    assert head[0].startswith(f"usage: lorplan probe {command}")
    description = " ".join(head[1].split())  # argparse wraps it
    assert not description.startswith(("positional arguments", "options")), text
    assert description.endswith("."), description
    for words in WORDS[command]:
        assert words in description, description
