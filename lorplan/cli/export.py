"""`lorplan export PLAN.toml --to peft|axolotl|llamafactory|accelerate|trl|unsloth[,...] [-o PATH] [--force]`.

Several formats (a comma list, or --to repeated) are written as the planner's export dialog writes them: one atomic
write of them all (core.export.write_exports), each in its own place (beside the plan, named after it, or in -o's
folder under its own name)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lorplan.cli.paths import check_plan_file, nonempty_path
from lorplan.core.vocab import HELP, ExportFormat

FORMATS = ExportFormat.values()


class _FormatLists(tuple):
    """--to's choices: the formats (the usage line and --help list them, as argparse lists choices), holding every
    comma list of them, which _format_list has checked item by item (naming a bad one) before argparse asks."""

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and all(tuple.__contains__(self, item.strip()) for item in value.split(","))


def _format_list(text: str) -> str:
    """One --to value: a format, or several separated by commas (spaces around them allowed); an unknown or empty
    item is refused by name."""
    import difflib

    for item in (item.strip() for item in text.split(",")):
        if not item:
            raise argparse.ArgumentTypeError(f"--to: {text!r} has an empty format name (give formats separated by "
                                             f"commas: {','.join(FORMATS[:2])})")
        if item not in FORMATS:
            close = difflib.get_close_matches(item, FORMATS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise argparse.ArgumentTypeError(f"--to: unknown format {item!r} (choose from "
                                             f"{', '.join(FORMATS)}){hint}")
    return text


def formats_given(values: list[str]) -> list[str]:
    """The formats of --to's values (each a comma list), in the order given, each once."""
    return list(dict.fromkeys(item.strip() for value in values for item in value.split(",")))


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a plan for peft, axolotl, LLaMA-Factory, accelerate, TRL or Unsloth (a training script)",
        description="Write the plan in another tool's format. Anything the tool cannot express is printed as a "
        "warning and written into the output as a comment. Existing files are kept unless --force.",
    )
    p.add_argument("plan", metavar="PLAN.toml", help="a plan written by `lorplan plan --write` or the TUI")
    p.add_argument("--to", required=True, action="append", type=_format_list, choices=_FormatLists(FORMATS),
                   help=f"{HELP[ExportFormat]}; several, comma-separated or with --to repeated, are written at once, "
                   "each in its own place")
    p.add_argument("-o", "--output", metavar="PATH", type=nonempty_path("-o/--output"),
                   help="output file (a folder for peft; LLaMA-Factory's dataset_info.json goes beside it, in "
                   "NAME-data/); for several formats a folder, holding each under its own name (peft/, "
                   "axolotl.yaml, ...); default: next to the plan, named after it (PLAN-axolotl.yaml, "
                   "PLAN-unsloth_train.py)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(run=run)


def check_context(plan, plan_path: str, fmts: list[str]) -> tuple[list[str], object]:
    """Refuse (BadInput, one line) a plan of a checkpoint whose config.json names a head lorplan does not train (a
    token classifier's: core.model.head.other_head_refusal, lorplan train's line), a plan whose training.seq_len
    is beyond its model's context and
    model.rope_scaling's reach, or whose LoRA settings match nothing on its model (a rank_pattern or alpha_pattern
    key no adapted module matches: the tools ignore it) (core.plan.context, the rules of `lorplan plan`), or whose
    training.attention or training.gradient_checkpointing the model's class lacks when a format of `fmts` writes
    that setting (core.export.common.WRITES_SETTING; with several formats the refusal names that one); formats that
    write none are exported, and the notes returned say that lorplan train refuses the plan. The model's config.json is read offline (catalog, folder or Hugging Face
    cache); a model outside lorplan's fast path is built on the meta device by the fallback's child (transformers'
    own class, never the model's code: trust_remote_code is not passed), as lorplan train judges it. A model this
    machine cannot read is not checked, and a warning says so; so is one outside the fast path whose config.json
    names code of its own (auto_map) when the plan trusts that code (lorplan train and the tools load the model's
    own class, which export does not build) or when only that code knows its model_type.
    Returns the notes and the model's spec (core.export.model_spec.read_model_spec; None when not read), which
    the exporters price their notes on (re-headed for a classifier plan: core.plan.build.priced_spec)."""
    from lorplan.core.errors import BadInput
    from lorplan.core.export.common import WRITES_SETTING
    from lorplan.core.export.model_spec import read_model_spec
    from lorplan.core.model.head import other_head_refusal
    from lorplan.core.plan.context import check_plan_context, check_plan_targets, class_refusals
    from lorplan.core.vocab import ExportFormat
    from lorplan.train.paths import resolve_path

    source = str(resolve_path(plan.model.path, plan_path)) if plan.model.path is not None else plan.model.source
    try:
        spec = read_model_spec(plan, source)  # the reading the planner's export dialog prices its notes on too
    except BadInput as exc:
        print(f"warning: training.seq_len and the LoRA targets not checked against the model: {exc}",
              file=sys.stderr)
        return [], None
    # a token classifier's checkpoint: every format would train the causal LM (or classifier) the plan priced from
    # it, another model without its head, as lorplan train would (which refuses it so)
    if (other := other_head_refusal(spec, f"{plan_path}: {plan.model.key} {plan.model.source}")) is not None:
        raise BadInput(other)
    check_plan_context(plan, spec, plan_path, class_settings=False)
    notes = []
    for key, refusal in class_refusals(plan, spec, plan_path):
        setting, writers = WRITES_SETTING[key]
        if writing := [fmt for fmt in fmts if ExportFormat(fmt) in writers]:
            raise BadInput(refusal if len(fmts) == 1 else f"--to {writing[0]}: {refusal}")
        one = len(fmts) == 1
        notes.append(f"--to {','.join(fmts)} write{'s' if one else ''} no {setting} setting, so "
                     f"{'this export is' if one else 'these exports are'} made, but lorplan train refuses the plan: "
                     f"{refusal}")
    check_plan_targets(plan, spec, plan_path)
    return notes, spec


def _check_folder(output: str) -> None:
    """-o's folder must exist (peft's output is itself a folder, made here, but not the folders above it): a typo
    in a folder name is an error, not a stray folder tree, as `lorplan plan --write` refuses it."""
    from pathlib import Path

    from lorplan.core.errors import NUL_NAME, BadInput, shown_name

    parent = Path(output).parent
    if not parent.is_dir():  # False, not ValueError, for a name with a NUL byte (a caller's string; argv has none)
        if "\x00" in output:  # no folder made would let it be written: say so first (as write_files_atomic does)
            raise BadInput(f"-o {shown_name(output)}: cannot write there ({NUL_NAME}): choose another name")
        what = "is a file, not a folder" if parent.exists() else "does not exist; create it first"
        raise BadInput(f"-o {output}: folder {parent} {what}")


def _check_not_folder(output: str, fmt: str, folder_export: bool) -> None:
    """A one-file export's -o naming a folder is refused naming the flag and a file name to give there (the
    writer's own line, for the planner too, names neither); so is a folder export's (peft's) -o naming a file."""
    import os
    from pathlib import Path

    from lorplan.core.errors import BadInput
    from lorplan.core.export import output_name

    if not folder_export and Path(output).is_dir():
        raise BadInput(f"-o {output}: that is a folder; give a file name, such as "
                       f"{Path(output) / output_name(fmt)}")
    if not folder_export and output.endswith(("/", os.sep)):  # pathlib drops the slash: it would write a FILE
        raise BadInput(f"-o {output}: folder {Path(output)} does not exist; create it first, or give a file name, "
                       f"such as {Path(output) / output_name(fmt)}")
    if folder_export and Path(output).exists() and not Path(output).is_dir():
        # else mkdir's "FILE/adapter_config.json: cannot write there (File exists)"
        from lorplan.core.filekind import special_kind

        raise BadInput(f"-o {output}: that is {special_kind(output) or 'a file'}; give a folder name (--to {fmt} "
                       "writes a folder, adapter_config.json in it)")


def _check_sources(paths, output: str, plan, plan_path: str) -> None:
    """No file of the export may be the plan itself or the data it trains on: --force would replace it with the
    export (as `lorplan plan --write` refuses its --data file). Checked with or without --force, since the
    error for an existing file says to pass it."""
    import os

    from lorplan.core.errors import BadInput
    from lorplan.train.paths import resolve_path

    sources = [(plan_path, "the plan file", "plan"),
               (str(resolve_path(plan.data.path, plan_path)), "the plan's data.path", "data")]
    for path in paths:
        for source, what, yours in sources:
            if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
                raise BadInput(f"-o {output}: that is {what}; writing the export there would replace your {yours}")


def plan_classes(plan, plan_path: str) -> tuple[dict | None, str | None]:
    """A sequence classifier's class id -> label, read from the plan's data as `lorplan train` numbers them
    (lorplan.core.data.data_classes), and None with the reason when the data cannot be read here; (None, None)
    for any other plan."""
    from lorplan.core.export.peft import read_classes
    from lorplan.core.vocab import Task
    from lorplan.train.paths import resolve_path

    if plan.model.task != Task.SEQUENCE_CLASSIFICATION:
        return None, None
    return read_classes(plan, resolve_path(plan.data.path, plan_path), plan_path)


def plan_paths_found(plan, plan_path: str) -> dict[str, str | None]:
    """model.path (when the model is one) and data.path -> the absolute path lorplan reads for it (from the
    working folder, else beside the plan: lorplan.train.paths.resolve_path, as `lorplan train` reads them), or
    None when neither has it (lorplan.core.export.paths.found_paths, which the planner's export uses too)."""
    from lorplan.core.export.paths import found_paths
    from lorplan.train.paths import resolve_path

    return found_paths(plan, lambda path: resolve_path(path, plan_path))


def _targets(args: argparse.Namespace, fmts: list[str]) -> dict[str, Path]:
    """Where each format goes: -o (one format), in -o's folder under the format's own name (several, as the
    planner's export dialog names them), else beside the plan, named after it (core.export.default_output)."""
    from lorplan.core.errors import BadInput
    from lorplan.core.export import default_output, output_name

    if not args.output:
        return {fmt: default_output(args.plan, fmt) for fmt in fmts}
    if len(fmts) == 1:
        return {fmts[0]: Path(args.output)}
    _check_folder(args.output)
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        from lorplan.core.filekind import special_kind

        raise BadInput(f"-o {args.output}: that is {special_kind(args.output) or 'a file'}; with several formats -o "
                       f"names a folder, which holds each format under its own name "
                       f"({', '.join(output_name(fmt) for fmt in fmts)})")
    return {fmt: folder / output_name(fmt) for fmt in fmts}


def run(args: argparse.Namespace) -> int:
    from lorplan.core.export import export_plan, placed_files, write_exports
    from lorplan.core.plan import read_plan

    fmts = formats_given(args.to)
    check_plan_file(args.plan)
    plan = read_plan(args.plan)
    said, spec = check_context(plan, args.plan, fmts)
    found = plan_paths_found(plan, args.plan)
    results = {}
    for fmt in fmts:  # every format exported (or refused) before anything is written
        classes, problem = plan_classes(plan, args.plan) if fmt == ExportFormat.PEFT else (None, None)
        results[fmt] = export_plan(plan, fmt, classes=classes, classes_problem=problem, found=found,
                                   plan_file=args.plan, spec=spec)
    targets = _targets(args, fmts)
    if args.output and len(fmts) == 1:
        _check_folder(args.output)
        _check_not_folder(args.output, fmts[0], results[fmts[0]].folder)
    placed = {fmt: placed_files(results[fmt], out) for fmt, out in targets.items()}
    for fmt, out in targets.items():
        _check_sources(list(placed[fmt]), str(args.output or out), plan, args.plan)
    written = write_exports(placed, force=args.force)
    whose = (lambda fmt: "") if len(fmts) == 1 else (lambda fmt: f"{fmt}: ")  # several: each line names its format
    for n in said:
        print(f"note: {n}", file=sys.stderr)
    for fmt, result in results.items():
        for n in result.notes:
            print(f"note: {whose(fmt)}{n}", file=sys.stderr)
        for w in result.warnings:
            print(f"warning: {whose(fmt)}{w}", file=sys.stderr)
    for path in written:
        print(path)
    return 0
