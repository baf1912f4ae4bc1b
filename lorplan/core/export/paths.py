"""The plan's local paths as an export writes them: where the exported tool will find them.

lorplan reads a relative model.path or data.path from the working folder, else from the plan's folder
(lorplan.train.paths.resolve_path). The tools read one from the folder they run in: axolotl `datasets[].path`
and `base_model` (axolotl utils/data: `Path(dataset_config.path)`), LLaMA-Factory `dataset_dir` and
`model_name_or_path` (dataset_dir "data" is the working folder's data/), TRL `datasets[].data_files` and
`model_name_or_path` (datasets.load_dataset, from_pretrained), the Unsloth script `load_dataset(data_files=...)` and
`FastLanguageModel.from_pretrained(model_name=...)`, peft `base_model_name_or_path` (from_pretrained). None reads a path from its config file's folder, so an export writes the path lorplan reads,
absolute. A hub id (model.id) is no path and is written as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from lorplan.core.vocab import ExportFormat

MODEL_PATH, DATA_PATH = "model.path", "data.path"

# The plan paths each format writes (accelerate's config names no file of the plan)
WRITTEN_PATHS: dict[ExportFormat, tuple[str, ...]] = {
    ExportFormat.PEFT: (MODEL_PATH,),
    ExportFormat.AXOLOTL: (MODEL_PATH, DATA_PATH),
    ExportFormat.LLAMAFACTORY: (MODEL_PATH, DATA_PATH),
    ExportFormat.ACCELERATE: (),
    ExportFormat.TRL: (MODEL_PATH, DATA_PATH),
    ExportFormat.UNSLOTH: (MODEL_PATH, DATA_PATH),
}
TOOL = {ExportFormat.PEFT: "peft", ExportFormat.AXOLOTL: "axolotl", ExportFormat.LLAMAFACTORY: "LLaMA-Factory",
        ExportFormat.TRL: "TRL", ExportFormat.UNSLOTH: "the Unsloth script"}


def typed_path(plan, key: str) -> str | None:
    """The plan's model.path or data.path as the plan has it (None: the model is a hub id)."""
    return plan.model.path if key == MODEL_PATH else plan.data.path


def found_paths(plan, resolve: Callable[[str], Path] | None = None) -> dict[str, str | None]:
    """model.path (when the model is one) and data.path -> the absolute path lorplan reads for it, or None when
    it finds nothing there: what export_paths takes. resolve: a plan path -> where lorplan looks for it (`lorplan
    export` passes lorplan.train.paths.resolve_path: the working folder, else beside the plan file); None: the
    working folder alone, the planner's, whose plan has no file yet. Absolute without resolving links: the name
    the user gave a linked file stays."""
    typed = {DATA_PATH: plan.data.path}
    if plan.model.path is not None:
        typed[MODEL_PATH] = plan.model.path
    found: dict[str, str | None] = {}
    for key, path in typed.items():
        where = resolve(path) if resolve is not None else Path(path).expanduser()
        found[key] = os.path.abspath(where) if where.exists() else None
    return found


def export_paths(plan, fmt: str, found: Mapping[str, str | None], *,
                 plan_file: str | None = None) -> tuple[object, list[str], list[str]]:
    """(plan with the paths `fmt` writes made absolute, notes, warnings).

    found: "model.path" / "data.path" -> the absolute path lorplan reads for it, or None when lorplan finds
    nothing there (found_paths); a key left out is not touched. A path found elsewhere than typed is written as
    found, with a note; one not found is written as typed, with a one-line warning (the export stays usable: the
    user may create the file, or run the tool where it is); both are named by the plan file and its key as
    lorplan train names them ("p.toml: data.path d.jsonl: not found …", "p.toml: data.path d.jsonl is written
    as /abs/d.jsonl, …"). plan_file: the plan's file, beside which a relative
    path was looked for too (None: the planner's plan, which has none), as the warning says."""
    notes: list[str] = []
    warnings: list[str] = []
    tool = TOOL.get(ExportFormat(fmt), fmt)
    looked = " in the working folder" + (" nor beside the plan" if plan_file is not None else "")
    named = f"{plan_file}: " if plan_file else ""
    for key in WRITTEN_PATHS[ExportFormat(fmt)]:
        typed = typed_path(plan, key)
        if typed is None or key not in found:
            continue
        where = found[key]
        if where is None:
            beside = "" if Path(typed).expanduser().is_absolute() else looked
            warnings.append(f"{named}{key} {typed}: not found{beside}; written as typed, so {tool} looks for it "
                            "from the folder it runs in")
        elif where != typed:
            notes.append(f"{named}{key} {typed} is written as {where}, the one lorplan reads ({tool} reads a "
                         "relative path from the folder it runs in, not from the plan's)")
            plan = (replace(plan, model=replace(plan.model, path=where)) if key == MODEL_PATH
                    else replace(plan, data=replace(plan.data, path=where)))
    return plan, notes, warnings


def with_path_lines(files: Mapping[str, str], folder: bool, notes: list[str], warnings: list[str]) -> dict[str, str]:
    """The export's files with the path notes and warnings written in: a YAML file's comment lines under its
    header line, peft's LORPLAN_WARNINGS.txt (JSON holds no comment) before the warnings already there."""
    files = dict(files)
    if not notes and not warnings:
        return files
    lines = [f"NOTE: {n}" for n in notes] + [f"WARNING: {w}" for w in warnings]
    if folder:
        name = "LORPLAN_WARNINGS.txt"
        files[name] = "".join(f"{line}\n" for line in lines) + files.get(name, "")
        return files
    ((name, text),) = files.items()
    header, _, rest = text.partition("\n")
    files[name] = header + "\n" + "".join(f"# lorplan: {line}\n" for line in lines) + rest
    return files
