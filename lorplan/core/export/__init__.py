"""Exporters: the same plan in the formats people train with.

`export_plan(plan, fmt)` returns an `ExportResult`: the files to write (name -> text) and the warnings for
anything the target tool cannot express (also written into the output as a comment, never dropped silently).
`write_export(result, out, force=...)` writes them atomically. Pure Python: no torch, peft or axolotl here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.export.files import write_files_atomic
from lorplan.core.vocab import ExportFormat

FORMATS = ExportFormat.values()
LABELS = {f.value: f.label for f in ExportFormat}
# the formats (export_<format>(plan, spec)) whose notes price a quantized base's fp32 up-cast on the model's spec
_PRICES_UPCAST = frozenset(f.value for f in (ExportFormat.AXOLOTL, ExportFormat.LLAMAFACTORY, ExportFormat.TRL))
# every format whose notes are priced on the spec (Unsloth's script takes it beside its plan file): what export_plan's
# caller reads the spec for (core.export.model_spec.read_model_spec)
PRICES_ON_SPEC = _PRICES_UPCAST | {ExportFormat.UNSLOTH.value}


@dataclass(frozen=True)
class ExportResult:
    """files: relative file name -> text. A single-file export has one entry; peft's is a folder's content."""

    format: str
    files: Mapping[str, str]
    warnings: tuple[str, ...] = ()
    folder: bool = False  # True when the output path names a folder (peft)
    notes: tuple[str, ...] = ()  # what the export did that is no problem (a plan path written absolute)
    # files written in a folder beside the output file, named after it (data_folder), whose absolute path the
    # output's text gives as DATA_FOLDER_KEY's value (placed_files): LLaMA-Factory's dataset_info.json
    data_files: Mapping[str, str] = field(default_factory=dict)


# The YAML key whose value is the folder an export's data_files go to, which depends on where the export is
# written: the export writes DATA_FOLDER there, and placed_files that line, the key's alone, with the folder
DATA_FOLDER_KEY, DATA_FOLDER = "dataset_dir", "LORPLAN_DATA_FOLDER"


def _targets_named(plan, spec) -> tuple[object, list[str]]:
    """`plan` with lora.target_modules "all-linear" written as the module names lorplan train adapts, where peft's
    "all-linear" would select others on this model (core.lora.peft_all_linear_fits: a DistilBERT classifier's
    pre_classifier, which peft adapts and then refuses to train in full), with a note; a plan written so since
    (core.plan.build.plan_target_names) or by hand is as it is."""
    if tuple(plan.lora.target_modules) != ("all-linear",):
        return plan, []
    from lorplan.core.lora import peft_all_linear_fits
    from lorplan.core.plan import plan_to_setup
    from lorplan.core.plan.build import plan_target_names, priced_spec

    priced, targets = priced_spec(plan, spec), plan_to_setup(plan)[1].targets
    if peft_all_linear_fits(priced, targets):
        return plan, []
    names = plan_target_names(priced, targets)
    note = (f"lora.target_modules all-linear is written as the modules lorplan train adapts ({', '.join(names)}): "
            f"peft's all-linear on this model selects others")
    return replace(plan, lora=replace(plan.lora, target_modules=names)), [note]


def export_plan(plan, fmt: str, *, classes: Mapping | None = None, classes_problem: str | None = None,
                found: Mapping[str, str | None] | None = None, plan_file: str | None = None,
                spec=None) -> ExportResult:
    """Render a validated Plan for one tool (an ExportFormat: "peft", "axolotl", "llamafactory", "accelerate",
    "trl", "unsloth"). BadInput for a sequence classifier's plan to a trainer that trains causal LMs only (axolotl,
    LLaMA-Factory, TRL, Unsloth), and for a masked LM's causal-LM plan to them (common.masked_lm_refusal).

    classes (a sequence classifier's class id -> the label as its data writes it, lorplan.core.data.data_classes)
    names the head's outputs in the peft export; classes_problem says why they are unknown (a warning).

    found ("model.path" / "data.path" -> the absolute path lorplan reads, None when it finds nothing:
    lorplan.core.export.paths.found_paths): the plan's paths are written as the tool will find them
    (lorplan.core.export.paths), with notes; None writes them as the plan has them.

    plan_file: the plan's file as the user named it (`lorplan export p.toml`), which a refusal of the data's
    labels names with its key, as `lorplan train` does: "p.toml: data.path d.jsonl: …", and the Unsloth script's
    header names; None for a plan with no file (the planner's), whose relative paths were looked for in the working
    folder alone.

    spec: the plan's model's ModelSpec when the caller has loaded it (`lorplan export` has, to check the plan
    against its model), for the memory figures of the notes on a quantized base's fp32 up-cast (core.export.kbit);
    None: those read it here, offline."""
    if fmt not in FORMATS:
        raise BadInput(f"--to: unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    from lorplan.core.export.common import classifier_refusal, masked_lm_refusal

    refusal = classifier_refusal(plan, fmt) or masked_lm_refusal(plan, fmt)
    if refusal is not None:
        raise BadInput(f"--to {fmt}: {refusal}")
    notes: list[str] = []
    path_warnings: list[str] = []
    if spec is not None:
        plan, notes = _targets_named(plan, spec)
    if found is not None:
        from lorplan.core.export.paths import export_paths

        plan, path_notes, path_warnings = export_paths(plan, fmt, found, plan_file=plan_file)
        notes += path_notes
    if fmt == ExportFormat.PEFT:
        from lorplan.core.export.peft import export_peft

        result = export_peft(plan, classes, classes_problem, plan_file)
    elif fmt == ExportFormat.UNSLOTH:  # its script's header names the plan file
        from lorplan.core.export.unsloth import export_unsloth

        result = export_unsloth(plan, plan_file, spec)
    else:
        # each format has its module, lorplan.core.export.<format>, with export_<format>(plan), and the spec for
        # the formats whose notes price the up-cast
        module = importlib.import_module(f"lorplan.core.export.{fmt}")
        kw = {"spec": spec} if fmt in _PRICES_UPCAST else {}
        result = getattr(module, f"export_{fmt}")(plan, **kw)
    if not notes and not path_warnings:
        return result
    from lorplan.core.export.paths import with_path_lines

    # a path holding a line break would end its comment line: in the Unsloth script the rest would be code
    lines = with_path_lines(result.files, result.folder, [_printable(n) for n in notes],
                            [_printable(w) for w in path_warnings])
    return replace(result, files=lines,
                   warnings=(*path_warnings, *result.warnings), notes=tuple(notes))


def output_name(fmt: str) -> str:
    """The file an export writes (peft: the folder), as the exporters name it: "axolotl.yaml", "peft"."""
    return ExportFormat(fmt).file_name


def default_output(plan_path: str | os.PathLike, fmt: str) -> Path:
    """Where an export goes when no -o is given: next to the plan, named after it."""
    p = Path(plan_path)
    return p.with_name(f"{p.stem}-{output_name(fmt)}")


def data_folder(out: str | os.PathLike) -> Path:
    """The folder beside an output file that its data_files go to, named after it: "x.yaml" -> "x-data"."""
    out = Path(out)
    return out.with_name(f"{out.stem}-data")


def placed_files(result: ExportResult, out: str | os.PathLike) -> dict[Path, str]:
    """The files write_export writes for this result at `out` (a file, or peft's folder) -> their text: the data
    files in data_folder(out), whose absolute path the output's text names in place of DATA_FOLDER."""
    out = Path(out)
    if result.folder:
        return {out / name: text for name, text in result.files.items()}
    ((_, text),) = result.files.items()
    if not result.data_files:
        return {out: text}
    folder = data_folder(out)
    placed = {out: _with_data_folder(text, os.path.abspath(folder))}
    return placed | {folder / name: data for name, data in result.data_files.items()}


def _with_data_folder(text: str, folder: str) -> str:
    """The export's YAML text with DATA_FOLDER_KEY's value the folder, dumped as dump_yaml dumps a value (YAML's
    own quoting: a character beyond U+FFFF, written as a JSON escape, would be read as two lone surrogates)."""
    import yaml

    placeholder = f"\n{DATA_FOLDER_KEY}: {DATA_FOLDER}\n"
    assert text.count(placeholder) == 1, "the export names its data folder once"
    line = yaml.safe_dump({DATA_FOLDER_KEY: folder}, default_flow_style=False, allow_unicode=True)
    return text.replace(placeholder, "\n" + line)


def output_paths(result: ExportResult, out: str | os.PathLike) -> list[Path]:
    """The files write_export would write for this result at `out`."""
    return list(placed_files(result, out))


def write_export(result: ExportResult, out: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write an export atomically, its data files with it; refuses (BadInput) to replace any existing file unless
    force."""
    return write_files_atomic(placed_files(result, out), force=force)


def write_exports(placed: Mapping[str, Mapping[Path, str]], *, force: bool = False,
                  names: Mapping[str, str] = LABELS) -> list[Path]:
    """Write several formats' files (format -> placed_files of its export, or any files of its own: the planner's
    plan file) as one atomic write: every file of every format, or none (files.write_files_atomic), so a failure at
    a later format (its folder a file, a full disk) leaves no earlier one written. An existing file is replaced only
    with `force`. Returns the paths in the order given. BadInput, before anything is written, for a path two formats
    would both write (one_writer_each; `names`: format -> its name in that line) or a file refused. The one way
    several formats are written: `lorplan export --to A,B` and the planner's export dialog."""
    one_writer_each(placed, names)
    return write_files_atomic({path: text for files in placed.values() for path, text in files.items()}, force=force)


def one_writer_each(placed: Mapping[str, Mapping[Path, str]], names: Mapping[str, str] = LABELS) -> None:
    """BadInput, in one line naming the path and both formats (`names`: format -> its name there), when two formats
    would write one file (the same output path, however spelled, or a file of one on another's side folder, as
    LLaMA-Factory's `<stem>-data/dataset_info.json`) or one's file is where another needs a folder (peft's): merged
    into one write, the later format's text replaced the earlier one's without a word, or half the files were
    written."""
    owners: dict[str, tuple[str, Path]] = {}  # the path as the system reads it -> (format, the path as given)
    for fmt, files in placed.items():
        for path in files:
            try:
                key = os.path.realpath(path)
            except ValueError:  # a NUL byte in the name: write_files_atomic refuses it in its own line
                key = str(path)
            if key in owners and owners[key][0] != fmt:
                raise BadInput(f"{path}: both {names[owners[key][0]]} and {names[fmt]} would write this file: give "
                               "each format its own name")
            owners.setdefault(key, (fmt, Path(path)))
    for key, (fmt, path) in owners.items():
        for folder in Path(key).parents:
            other = owners.get(str(folder))
            if other is not None and other[0] != fmt:
                raise BadInput(f"{other[1]}: {names[other[0]]} would write this file where {names[fmt]} needs a "
                               f"folder (for {path}): give each format its own name")


def _printable(text: str) -> str:
    """`text` with each character YAML cannot hold in a comment (a control character: ESC, a line break that would
    end the comment) written as its Python escape, so the file still parses."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def warning_comment(warnings: tuple[str, ...] | list[str]) -> str:
    """YAML comment block that lists what the target tool could not express."""
    if not warnings:
        return ""
    lines = ["# lorplan: notes on what this tool cannot express, or needs from you:"]
    lines += [f"# lorplan: WARNING: {_printable(w)}" for w in warnings]
    return "\n".join(lines) + "\n"


def dump_yaml(header: str, data: dict, warnings: tuple[str, ...] | list[str]) -> str:
    """YAML text with a header comment and the warnings as comments, keys in the order given."""
    import yaml

    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return f"# {header}\n" + warning_comment(warnings) + body


__all__ = ["DATA_FOLDER", "DATA_FOLDER_KEY", "FORMATS", "LABELS", "ExportResult", "data_folder", "default_output",
           "export_plan", "one_writer_each", "output_name", "output_paths", "placed_files", "write_export",
           "write_exports"]
