"""Where the LLaMA-Factory export's dataset_dir is bound: the folder beside the YAML that its dataset_info.json goes
to depends on where the YAML is written, so the export's text holds a placeholder that write_export replaces with
that folder, absolute. It replaced the placeholder's word wherever it stood, and wrote the folder as a JSON string,
which YAML reads differently for a character beyond U+FFFF."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import yaml

from lorplan.core.export import DATA_FOLDER, export_plan, write_export
from lorplan.core.plan import read_plan

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"


def _plan(tmp_path: Path, **training):
    plan = read_plan(SAMPLE)
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a fox"}\n')
    return replace(plan, data=replace(plan.data, path=str(data), schema="text"),
                   training=replace(plan.training, **training))


def test_only_dataset_dir_is_bound_to_the_data_folder(tmp_path):
    """An output_dir holding the placeholder's word was rewritten too: runs/"/tmp/.../lf-data"."""
    plan = _plan(tmp_path, output_dir=f"runs/{DATA_FOLDER}")
    write_export(export_plan(plan, "llamafactory"), tmp_path / "lf.yaml")
    cfg = yaml.safe_load((tmp_path / "lf.yaml").read_text(encoding="utf-8"))
    assert cfg["output_dir"] == f"runs/{DATA_FOLDER}"
    assert cfg["dataset_dir"] == str(tmp_path / "lf-data")


def test_a_folder_beyond_the_basic_plane_is_read_back_as_written(tmp_path):
    """json.dumps wrote 😀 as "\\ud83d\\ude00", which YAML reads as two lone surrogates: a folder no one has."""
    out = tmp_path / "ü 😀 \"q\" 's' \\ #x"
    out.mkdir()
    write_export(export_plan(_plan(tmp_path), "llamafactory"), out / "lf 😀.yaml")
    cfg = yaml.safe_load((out / "lf 😀.yaml").read_text(encoding="utf-8"))
    assert cfg["dataset_dir"] == str(out / "lf 😀-data")
    info = (out / "lf 😀-data" / "dataset_info.json").read_bytes()
    assert info.isascii()  # LLaMA-Factory opens it in the locale's encoding
    assert json.loads(info)[cfg["dataset"]]["file_name"] == str(tmp_path / "d.jsonl")
