"""Write the same rows in every format lorplan reads (used by several test modules)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "arrow")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _cell(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def write(rows: list[dict], folder: Path, fmt: str) -> Path:
    """Write rows as `fmt` under folder and return the path to give `--data`."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path = folder / "data.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path = folder / "data.json"
        path.write_text(json.dumps(rows, indent=2))
    elif fmt in ("csv", "tsv"):
        path = folder / f"data.{fmt}"
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t" if fmt == "tsv" else ",")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / "data.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)
    elif fmt == "arrow":
        import datasets

        path = folder / "saved"
        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    else:
        raise ValueError(fmt)
    return path


def copy_tokenizer(src: Path, dest: Path, chat_template: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, dest / name)
    if chat_template is not None:
        config = json.loads((dest / "tokenizer_config.json").read_text())
        config["chat_template"] = chat_template
        (dest / "tokenizer_config.json").write_text(json.dumps(config))
    return dest
