"""Turn `lorplan plan` arguments into core values (TrainingSetup, ranks, budget); BadInput names the flag."""

from __future__ import annotations

from types import MappingProxyType

from lorplan.cli._common import parse_int as _int
from lorplan.cli._common import parse_positive_float, parse_ranks, parse_rope_scaling, split_list
from lorplan.core.errors import BadInput


def _float(flag: str, text: str) -> float:
    """--lora-dropout and --reserve-fraction (0 allowed: not parse_positive_float), separators by
    core.units.without_commas' rule (float() read 0.0_5 as 0.05 and 0_1 as 1.0)."""
    from lorplan.core.units import without_commas

    typed = without_commas(text, flag, "0.05")  # outside the try: BadInput is a ValueError
    try:
        return float(typed)
    except ValueError:
        raise BadInput(f"{flag}: {text!r} is not a number") from None


# How each name list is written, for split_list's "has an empty item" line.
_NAMES_WRITTEN = {"--targets": "targets as q_proj,v_proj", "--modules-to-save": "modules as lm_head,embed_tokens"}


def _names(flag: str, text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    return split_list(flag, text, "name", _NAMES_WRITTEN[flag])


def parse_layers(text: str) -> tuple[int, ...]:
    """ "0-3,8" -> (0, 1, 2, 3, 8); no empty item ("0,,3": split_list)."""
    out: list[int] = []
    for part in split_list("--layers", text, "block index", "layers as 0-3,8"):
        if "-" in part[1:]:
            lo, hi = part.split("-", 1)
            a, b = _int("--layers", lo, 0), _int("--layers", hi, 0)
            if b < a:
                raise BadInput(f"--layers: range {part!r} runs backwards")
            out.extend(range(a, b + 1))
        else:
            out.append(_int("--layers", part, 0))
    return tuple(dict.fromkeys(out))


def parse_rank_pattern(text: str) -> dict[str, int]:
    """ "q_proj=16,v_proj=8" -> {"q_proj": 16, "v_proj": 8}; no empty item (split_list)."""
    out: dict[str, int] = {}
    for part in split_list("--rank-pattern", text, "NAME=RANK", "the pattern as q_proj=16,v_proj=8"):
        if "=" not in part:
            raise BadInput(f"--rank-pattern: {part!r} is not NAME=RANK")
        key, value = part.split("=", 1)
        if not key.strip():
            raise BadInput(f"--rank-pattern: {part!r} has no module name")
        out[key.strip()] = _int(f"--rank-pattern {key.strip()}", value)
    return out


def _cuda_context(text: str) -> int:
    """--cuda-context SIZE in bytes, from 0 (priced without the context, as a plan may be and as the planner's
    copy-command writes it: 0GiB) to TrainingSetup's bound, as typed in the error (1e300 named a 301-digit byte
    count)."""
    from lorplan.core.limits import MAX_CUDA_CONTEXT_BYTES
    from lorplan.core.units import echoed, format_bytes, parse_size

    size = parse_size(text, "--cuda-context", zero=True)
    if size > MAX_CUDA_CONTEXT_BYTES:
        raise BadInput(f"--cuda-context: {echoed(text, quoted=True)} is more than a CUDA context takes (at most "
                       f"{format_bytes(MAX_CUDA_CONTEXT_BYTES, 0)})")
    return size


# The setup flags `lorplan plan` and `lorplan recommend` both take, defined once each (these, add_prepare_kbit,
# add_gpus_sharding, add_rope_scaling): a memory verdict's remedy (core.memory.report.fit_hints) is typed into
# either command, so each flag means and defaults to the same in both.


def add_targets(group) -> None:
    """--targets (default all-linear)."""
    group.add_argument("--targets", default="all-linear", metavar="T",
                       help="all-linear | attention | mlp | names like q_proj,v_proj (default all-linear)")


def add_quant(group) -> None:
    """--quant (default none) and --double-quant."""
    from lorplan.cli._common import vocab_metavar
    from lorplan.core.vocab import HELP, Quant

    group.add_argument("--quant", default=Quant.NONE.value, metavar=vocab_metavar(Quant),
                       help=f"{HELP[Quant]} (default {Quant.NONE.value})")
    group.add_argument("--double-quant", action="store_true", help="QLoRA double quantization (nf4/fp4)")


def add_checkpointing_optimizer(group) -> None:
    """--grad-checkpointing and --optimizer (default adamw)."""
    from lorplan.core.vocab import Optimizer

    group.add_argument("--grad-checkpointing", action="store_true", help="gradient checkpointing")
    group.add_argument("--optimizer", default=Optimizer.ADAMW.value, metavar="NAME",
                       help=f"{' | '.join(Optimizer.values())} (default {Optimizer.ADAMW.value})")


def add_budget(group) -> None:
    """--gpu and --gpu-memory, the memory budget (read by budget_from_args)."""
    group.add_argument("--gpu", metavar="NAME|INDEX",
                       help="memory budget from a GPU preset (e.g. RTX-4090, H100) or device")
    group.add_argument("--gpu-memory", metavar="SIZE",
                       help="memory budget per GPU, e.g. 24G or 24GiB (binary), 80GB (decimal); a bare number below "
                            "4096 is GiB (24 = 24 GiB) (overrides --gpu)")


def add_prepare_kbit(group, also: str = "") -> None:
    """--no-prepare-kbit as `lorplan plan` and `lorplan recommend` take it (one definition: a flag a fit verdict
    names, core.memory.report.fit_hints, is typed into either command); `also`: what the command adds."""
    group.add_argument("--no-prepare-kbit", action="store_true",
                       help=f"quantized base without peft's prepare_model_for_kbit_training{also}")


def add_gpus_sharding(group, also: str = "") -> None:
    """--gpus and --sharding as `lorplan plan` and `lorplan recommend` take them (read by setup_from_args);
    `also`: what the command does with them besides pricing."""
    from lorplan.cli._common import vocab_metavar
    from lorplan.core.vocab import HELP, Sharding

    group.add_argument("--gpus", default="1", metavar="N", help=f"number of GPUs (default 1){also}")
    group.add_argument("--sharding", default=None, metavar=vocab_metavar(Sharding),
                       help=f"{HELP[Sharding]} (default none; ddp with --gpus > 1)")


def attention_from_args(args, spec, priced: bool = True) -> str | None:
    """The one rule of `lorplan plan`, `lorplan recommend` and `lorplan probe start` for --attention: refuse one
    the model's transformers class lacks before anything is priced or started (BadInput "--attention sdpa:
    google/gemma-2-9b (Gemma2ForCausalLM) does not implement sdpa attention in transformers; it supports eager,
    flash", core.model.attention.check_attention; check_plannable asks again), and when none was given set
    args.attention to the model's default (default_attention: SDPA, eager for a model whose class has no SDPA,
    such as Gemma 2) and return the note saying why when that is not SDPA (None otherwise). priced=False: the
    note of a command that prices nothing (probe start)."""
    from lorplan.core.model.attention import check_attention, default_attention, default_attention_note

    if args.attention is not None:
        check_attention(spec, args.attention)
        return None
    args.attention = default_attention(spec).value
    return default_attention_note(spec, priced=priced)


def setup_from_args(args):
    """The TrainingSetup the flags describe (validated by TrainingSetup itself)."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.vocab import Attention, default_sharding

    targets = LoraTargets(
        modules=_names("--targets", args.targets),
        layers_to_transform=parse_layers(args.layers) if args.layers is not None else None,
        rank_pattern=MappingProxyType(parse_rank_pattern(args.rank_pattern) if args.rank_pattern is not None else {}),
        use_dora=bool(args.dora),
        modules_to_save=_names("--modules-to-save", args.modules_to_save),
    )
    gpus = _int("--gpus", args.gpus)
    sharding = args.sharding or default_sharding(gpus).value
    kw = {}
    if args.cuda_context is not None and str(args.cuda_context).strip().lower() != "measure":
        kw["cuda_context_bytes"] = _cuda_context(args.cuda_context)
    if args.reserve_fraction is not None:
        kw["reserve_fraction"] = _float("--reserve-fraction", args.reserve_fraction)
    if getattr(args, "rope_scaling", None) is not None:
        kw["rope_scaling"] = parse_rope_scaling(args.rope_scaling)
    return TrainingSetup(
        targets=targets,
        quant=args.quant,
        double_quant=bool(args.double_quant),
        base_dtype=args.base_dtype,
        adapter_dtype=args.adapter_dtype,
        micro_batch=_int("--micro-batch", args.micro_batch if args.micro_batch is not None else "1"),
        seq_len=_int("--seq-len", args.seq_len if args.seq_len is not None else "2048"),
        grad_checkpointing=bool(args.grad_checkpointing),
        optimizer=args.optimizer,
        # None only without a model (attention_from_args sets it first): TrainingSetup's, SDPA
        attention=args.attention if args.attention is not None else Attention.SDPA.value,
        lora_dropout=_float("--lora-dropout", args.lora_dropout),
        gpus=gpus,
        sharding=sharding,
        autocast=not args.no_autocast,
        prepare_kbit=not args.no_prepare_kbit,
        kernels=args.kernels,
        loss=getattr(args, "loss", "standard"),
        foreach=not args.no_foreach,
        padding_mask=bool(getattr(args, "padding_mask", False)),
        **kw,
    )


def check_layer_targets(spec, targets) -> None:
    """BadInput naming --layers and --targets when --layers comes with "all-linear" targets: peft refuses
    layers_to_transform with the "all-linear" string, so the plan --write writes (and lorplan train) would be
    refused, naming a key of a file not yet written. The example lists the leaf names all-linear adapts in
    `spec`'s chosen blocks, which select the same modules."""
    if targets.layers_to_transform is None or "all-linear" not in targets.modules:
        return
    from dataclasses import replace

    from lorplan.core.lora import resolve_targets

    chosen = resolve_targets(spec, replace(targets, modules=("all-linear",)))
    leaves = ",".join(dict.fromkeys(m.path.rsplit(".", 1)[-1] for m in chosen))
    example = f"; e.g. --targets {leaves}" if leaves else ""
    raise BadInput(f"--layers: needs explicit --targets (peft refuses layers_to_transform with \"all-linear\")"
                   f"{example}")


def ranks_from_args(args, spec=None, setup=None) -> tuple[int, ...]:
    """--ranks (with --rank added when it is not among them), else --rank alone, else the default sweep up to the
    largest rank an adapted module can use. Validates --rank and --alpha; with the spec and setup, also that the
    setup can run on the model (lorplan.core.memory.bounds: context, --layers, ranks; check_layer_targets), naming
    the flag."""
    from lorplan.core.memory import DEFAULT_RANKS

    rank = _int("--rank", args.rank) if args.rank is not None else None
    if args.alpha is not None:
        parse_positive_float("--alpha", args.alpha)
    if args.ranks is not None:
        ranks = parse_ranks("--ranks", args.ranks)
        if rank is not None and rank not in ranks:
            ranks = tuple(sorted(ranks + (rank,)))  # --rank (the one --write writes) is priced too, never dropped
    elif rank is not None:
        ranks = (rank,)
    else:
        ranks = ()
    if spec is None or setup is None:
        return ranks or tuple(DEFAULT_RANKS)
    from lorplan.core.memory.bounds import check_plannable, plannable_ranks

    check_plannable(spec, setup, ranks, "--ranks" if args.ranks is not None else "--rank")
    check_layer_targets(spec, setup.targets)  # after check_plannable's "--layers: block 50 does not exist"
    return ranks or plannable_ranks(spec, setup.targets, DEFAULT_RANKS)


def budget_from_args(args) -> tuple[int | None, str | None]:
    """(budget bytes per GPU, GPU name) from --gpu-memory or --gpu; (None, None) without either. --gpu-memory
    overrides --gpu's budget, and then no GPU is named: the budget is not that card's."""
    from lorplan.core.units import parse_budget

    name = None
    budget = None
    if args.gpu is not None:
        from lorplan.core.gpu import resolve_gpu

        name, budget = resolve_gpu(args.gpu)
    if args.gpu_memory is not None:
        budget, name = parse_budget(args.gpu_memory, "--gpu-memory"), None
    return budget, name


def _local_gpu(text: str | None) -> int | None:
    """The visible device a --gpu names (an index; none given: the first), None for a preset name."""
    if text is None:
        return 0
    t = str(text).strip()
    return int(t) if t.isdecimal() else None  # "²" is a digit int() refuses: a preset name, unknown


def cuda_context_from_args(args, setup):
    """(setup, ContextChoice): --cuda-context SIZE as given; --cuda-context measure measures the GPU --gpu
    names (else the first) through NVML; without the flag, a measurement cached for that GPU with this driver
    and torch, else lorplan's default. A preset --gpu (not this machine's device) takes the default."""
    from dataclasses import replace

    from lorplan.core.memory.context import cached_context, choose_context, measure_context

    text = getattr(args, "cuda_context", None)
    measure = text is not None and str(text).strip().lower() == "measure"
    measured = None
    if setup.kernels != "cpu" and (text is None or measure):
        index = _local_gpu(getattr(args, "gpu", None))
        if measure:
            measured = measure_context(0 if index is None else index)
        elif index is not None:
            measured = cached_context(index)
        if measured is not None:
            setup = replace(setup, cuda_context_bytes=measured.bytes)
    return setup, choose_context(setup, measured, given=text is not None and not measure)
