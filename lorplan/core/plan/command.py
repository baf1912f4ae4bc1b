"""The `lorplan plan` command line that prices a setup: the inverse of the CLI's setup_from_args.

Lives in core (as data: flag names and the setup fields they carry) so that the TUI can show the command
without importing the CLI; the CLI's parser is tested to read every line back into the same setup.
"""

from __future__ import annotations

# `lorplan plan` flags that carry a TrainingSetup field's value, and the switches that flip a boolean field.
_VALUE_FLAGS = (("--quant", "quant"), ("--base-dtype", "base_dtype"), ("--adapter-dtype", "adapter_dtype"),
                ("--micro-batch", "micro_batch"), ("--seq-len", "seq_len"), ("--optimizer", "optimizer"),
                ("--attention", "attention"), ("--kernels", "kernels"), ("--gpus", "gpus"), ("--loss", "loss"))
_SWITCHES = (("--double-quant", "double_quant"), ("--grad-checkpointing", "grad_checkpointing"),
             ("--padding-mask", "padding_mask"), ("--no-autocast", "autocast"), ("--no-prepare-kbit", "prepare_kbit"),
             ("--no-foreach", "foreach"))


def _size_flag(n: int) -> str:
    """Bytes as parse_size reads them back exactly: "24GiB", "500MiB", else "123456B"."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
        if n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def command_for(source: str, setup, ranks: tuple[int, ...] | None = None, budget_bytes: int | None = None) -> str:
    """The `lorplan plan` command line that prices this setup (the inverse of setup_from_args).

    Only flags that differ from the defaults are written; `ranks` None or the default sweep writes no --ranks.
    alpha_pattern has no flag (it does not change memory) and is left out.
    """
    import shlex
    from dataclasses import fields

    from lorplan.core.memory import DEFAULT_RANKS
    from lorplan.core.memory.types import DEFAULT_RESERVE_FRACTION
    from lorplan.core.vocab import default_sharding

    t = setup.targets
    args = ["lorplan", "plan", "--model", source]

    def flag(name: str, value=None) -> None:
        args.append(name)
        if value is not None:
            args.append(str(value))

    if tuple(t.modules) != ("all-linear",):
        flag("--targets", ",".join(t.modules))
    if t.layers_to_transform:
        flag("--layers", ",".join(str(i) for i in t.layers_to_transform))
    if t.rank_pattern:
        flag("--rank-pattern", ",".join(f"{k}={v}" for k, v in t.rank_pattern.items()))
    if t.use_dora:
        flag("--dora")
    if t.modules_to_save:
        flag("--modules-to-save", ",".join(t.modules_to_save))
    if setup.lora_dropout:
        flag("--lora-dropout", repr(float(setup.lora_dropout)))
    defaults = {f.name: f.default for f in fields(setup)}
    for name, attr in _VALUE_FLAGS:
        if getattr(setup, attr) != defaults[attr]:
            flag(name, getattr(setup, attr))
    for name, attr in _SWITCHES:  # on/off flags: written when the setup differs from the default
        if getattr(setup, attr) != defaults[attr]:
            flag(name)
    if setup.sharding != default_sharding(setup.gpus):
        flag("--sharding", setup.sharding)
    if setup.cuda_context_bytes is not None:
        flag("--cuda-context", _size_flag(setup.cuda_context_bytes))
    if getattr(setup, "rope_scaling", None) is not None:
        flag("--rope-scaling", repr(float(setup.rope_scaling)))
    if setup.reserve_fraction != DEFAULT_RESERVE_FRACTION:
        flag("--reserve-fraction", repr(float(setup.reserve_fraction)))
    if budget_bytes:
        flag("--gpu-memory", _size_flag(budget_bytes))
    if ranks is not None and tuple(ranks) != tuple(DEFAULT_RANKS):
        flag("--ranks", ",".join(str(r) for r in ranks))
    return shlex.join(args)
