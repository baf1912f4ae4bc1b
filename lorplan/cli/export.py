"""`lorplan export PLAN.toml --to peft|axolotl|llamafactory|accelerate|trl|unsloth [-o PATH] [--force]`."""

from __future__ import annotations

import argparse
import sys

from lorplan.cli.paths import check_plan_file, nonempty_path
from lorplan.core.vocab import HELP, ExportFormat


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a plan for peft, axolotl, LLaMA-Factory, accelerate, TRL or Unsloth (a training script)",
        description="Write the plan in another tool's format. Anything the tool cannot express is printed as a "
        "warning and written into the output as a comment. Existing files are kept unless --force.",
    )
    p.add_argument("plan", metavar="PLAN.toml", help="a plan written by `lorplan plan --write` or the TUI")
    p.add_argument("--to", required=True, choices=ExportFormat.values(), help=HELP[ExportFormat])
    p.add_argument("-o", "--output", metavar="PATH", type=nonempty_path("-o/--output"),
                   help="output file (a folder for peft; LLaMA-Factory's dataset_info.json goes beside it, in "
                   "NAME-data/); default: next to the plan, named after it (PLAN-axolotl.yaml, "
                   "PLAN-unsloth_train.py)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(run=run)


def check_context(plan, plan_path: str, fmt: str) -> list[str]:
    """Refuse (BadInput, one line) a plan whose training.seq_len is beyond its model's context and
    model.rope_scaling's reach, or whose LoRA settings match nothing on its model (a rank_pattern or alpha_pattern
    key no adapted module matches: the tools ignore it) (core.plan.context, the rules of `lorplan plan`), or whose
    training.attention or training.gradient_checkpointing the model's class lacks when format `fmt` writes that
    setting (core.export.common.WRITES_SETTING); a format that writes none is exported, and the notes returned say
    that lorplan train refuses the plan. The model's config.json is read offline (catalog, folder or Hugging Face
    cache); a model outside lorplan's fast path is built on the meta device by the fallback's child (transformers'
    own class, never the model's code: trust_remote_code is not passed), as lorplan train judges it. A model this
    machine cannot read is not checked, and a warning says so; so is one outside the fast path whose config.json
    names code of its own (auto_map) when the plan trusts that code (lorplan train and the tools load the model's
    own class, which export does not build) or when only that code knows its model_type."""
    from lorplan.core.errors import BadInput
    from lorplan.core.export.common import WRITES_SETTING
    from lorplan.core.model import load_spec, resolve_model
    from lorplan.core.model.fallback import NeedsOwnCode, own_code_line
    from lorplan.core.model.sources import NeedsBuild, read_config
    from lorplan.core.plan.context import check_plan_context, check_plan_targets, class_refusals
    from lorplan.core.vocab import ExportFormat
    from lorplan.train.paths import resolve_path

    source = str(resolve_path(plan.model.path, plan_path)) if plan.model.path is not None else plan.model.source
    not_run = ", which lorplan export does not run"
    try:
        src = resolve_model(source)
        try:
            spec = load_spec(src, allow_fallback=False)  # the catalog and the fast path: no child, no code
        except NeedsBuild:
            if plan.model.trust_remote_code and "auto_map" in read_config(src.config_path):
                raise BadInput(f"config.json at {src.config_path}: the plan's model.trust_remote_code = true builds "
                               f"the model with its own Python code (auto_map in config.json){not_run}") from None
            try:
                spec = load_spec(src, trust_remote_code=False)
            except NeedsOwnCode as exc:  # its line names lorplan plan's flag, which export has not (nor runs it)
                raise BadInput(own_code_line(exc.config_path, not_run)) from None
    except BadInput as exc:
        print(f"warning: training.seq_len and the LoRA targets not checked against the model: {exc}",
              file=sys.stderr)
        return []
    check_plan_context(plan, spec, plan_path, class_settings=False)
    notes = []
    for key, refusal in class_refusals(plan, spec, plan_path):
        setting, writers = WRITES_SETTING[key]
        if ExportFormat(fmt) in writers:
            raise BadInput(refusal)
        notes.append(f"--to {fmt} writes no {setting} setting, so this export is made, but lorplan train refuses "
                     f"the plan: {refusal}")
    check_plan_targets(plan, spec, plan_path)
    return notes


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
    from pathlib import Path

    from lorplan.core.errors import BadInput
    from lorplan.core.export import output_name

    if not folder_export and Path(output).is_dir():
        raise BadInput(f"-o {output}: that is a folder; give a file name, such as "
                       f"{Path(output) / output_name(fmt)}")
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


def run(args: argparse.Namespace) -> int:
    from lorplan.core.export import default_output, export_plan, output_paths, write_export
    from lorplan.core.plan import read_plan

    check_plan_file(args.plan)
    plan = read_plan(args.plan)
    said = check_context(plan, args.plan, args.to)
    classes, problem = plan_classes(plan, args.plan) if args.to == "peft" else (None, None)
    result = export_plan(plan, args.to, classes=classes, classes_problem=problem,
                         found=plan_paths_found(plan, args.plan), plan_file=args.plan)
    out = args.output or default_output(args.plan, args.to)
    if args.output:
        _check_folder(args.output)
        _check_not_folder(args.output, args.to, result.folder)
    _check_sources(output_paths(result, out), out, plan, args.plan)
    written = write_export(result, out, force=args.force)
    for n in (*said, *result.notes):
        print(f"note: {n}", file=sys.stderr)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for path in written:
        print(path)
    return 0
