"""`lorplan profile --help` lists the formats it reads: it named a folder of .txt files but not a single .txt
file (one example per line), which profile reads as well (format "txt") and the README documents."""

from __future__ import annotations

import json

from lorplan.cli import main


def test_help_names_a_single_txt_file_which_profile_reads(tmp_path, capsys):
    data = tmp_path / "lines.txt"
    data.write_text("first example\nsecond example\nthird example\n")
    assert main(["profile", "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "txt" and out["examples"] == 3  # a single .txt file: one example per line

    try:
        main(["profile", "--help"])
    except SystemExit as stop:
        assert stop.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the description
    assert "a folder of .txt files" in text
    assert "a .txt file (one example per line)" in text
