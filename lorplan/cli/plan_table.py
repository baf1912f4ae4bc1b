"""The human-readable table of `lorplan plan` (without --json)."""

from __future__ import annotations

# What the columns hold (printed under the table; the planner's table help says the same).
LEGEND = (
    "weights, adapter, optim: the static state; grads, activ: the adapter gradients and everything else (saved "
    "activations, logits, temporaries) alive at the step's peak moment ('peak at': none of the gradients exist "
    "yet at the loss, all of them at the optimizer step); overhead: CUDA context + cuBLAS workspaces + allocator reserve. Each row "
    "adds up to total, per GPU."
)


WIDTH = 110  # the sentences under the table wrap here (the table itself is narrower)


def _say(text: str) -> None:
    import re
    import textwrap

    from lorplan.core.units import text_width

    glued = re.sub(r"(\d) (?=[KMGT]?i?B\b|tokens\b)", "\\1\u00a0", text)  # "13.84 GiB" stays on one line
    wrapped = textwrap.fill(glued, text_width(WIDTH), subsequent_indent="  ", break_on_hyphens=False,
                            break_long_words=False)
    print(wrapped.replace("\u00a0", " "))


def _fit(line: str, indent: str = "  ") -> None:
    """Print a line as it is, or broken at the width of a narrower terminal."""
    from lorplan.core.columns import fit_line
    from lorplan.core.units import terminal_limit

    print("\n".join(fit_line(line, terminal_limit(), indent)))


# The widths of the table's columns in a file, a pipe or a wide terminal: rank, trainable, the GiB columns,
# peak at, then with a budget fits, max mb, max seq.
WIDE = (5, 10, 8, 8, 8, 8, 8, 8, 8, 13, 5, 6, 7)


def table_text(head: list[str], rows: list[list[str]]) -> list[str]:
    """The table's lines: at the widths of WIDE, or, on a terminal narrower than that, each column as wide as
    its widest cell, split into two tables led by the rank where one does not fit (core.columns)."""
    from lorplan.core.columns import Column, fit_tables
    from lorplan.core.units import terminal_limit

    lines = [" ".join(f"{cell:>{w}}" for cell, w in zip(row, WIDE, strict=False)) for row in [head, *rows]]
    lines[0] += "   (GiB)"
    limit = terminal_limit()
    if limit is None or max(map(len, lines)) <= limit:
        return lines
    columns = [Column(h, tuple(row[i] for row in rows)) for i, h in enumerate(head)]
    return fit_tables(columns[:1], columns[1:], limit, indent=" ", suffix="  (GiB)")


def print_table(spec, table, gpu_name: str | None = None, notes: tuple[str, ...] = ()) -> None:
    """Print the table of a core RankTable, its legend, the notes (`notes` first: the command's own), where
    the noted rank peaks and what it holds then, and priced hints for the smallest rank that does not fit."""
    from lorplan.core.memory.phases import PHASE_SHORT
    from lorplan.core.memory.report import fit_hints, format_hint, note_rank, peak_summary, setup_notes
    from lorplan.core.memory.sweep import peak_moment
    from lorplan.core.units import format_bytes, format_count

    s = table.setup
    _fit(f"{spec.id}  ({spec.architecture}, {format_count(spec.total_params)} parameters, source {spec.source})")
    for note in spec.notes:
        _fit(f"  note: {note}", "      ")
    quant = s.quant + (" + double quant" if s.double_quant else "")
    rope = f", rope scaling ×{s.rope_scaling:g}" if s.rope_scaling is not None else ""
    t = s.targets
    extras = "".join((
        f", layers {','.join(map(str, t.layers_to_transform))}" if t.layers_to_transform is not None else "",
        f", rank pattern {','.join(f'{k}={v}' for k, v in t.rank_pattern.items())}" if t.rank_pattern else "",
        f", alpha pattern {','.join(f'{k}={v:g}' for k, v in t.alpha_pattern.items())}" if t.alpha_pattern else "",
        ", DoRA" if t.use_dora else "",
        f", trained in full {','.join(t.modules_to_save)}" if t.modules_to_save else ""))
    _say(f"setup: quant {quant}, targets {','.join(t.modules)}{extras}, micro-batch {s.micro_batch}, "
         f"seq-len {s.seq_len}{rope}, {s.optimizer}, {s.attention}, "
         f"checkpointing {'on' if s.grad_checkpointing else 'off'}, "
         + ("1 GPU" if s.gpus == 1 else f"{s.gpus} GPUs ({s.sharding})"))
    if table.budget_bytes is not None:
        _fit(f"budget: {format_bytes(table.budget_bytes)} per GPU" + (f" ({gpu_name})" if gpu_name else ""))

    def gib(n: int) -> str:
        return f"{n / 1024**3:.2f}"

    head = ["rank", "trainable", "weights", "adapter", "grads", "optim", "activ", "overhead", "total", "peak at"]
    if table.budget_bytes is not None:
        head += ["fits", "max mb", "max seq"]
    rows = []
    for r in table.rows:
        m = r.memory
        pm = peak_moment(spec, s, r.rank)
        row = [str(r.rank), format_count(r.trainable_params), gib(m.weights), gib(m.adapter), gib(pm.gradients),
               gib(m.optimizer), gib(pm.in_step - pm.gradients), gib(m.overhead), gib(m.total),
               PHASE_SHORT.get(pm.phase, pm.phase)]
        if table.budget_bytes is not None:
            row += ["yes" if r.fits else "NO", str(r.max_micro_batch), str(r.max_seq_len)]
        rows.append(row)
    for line in table_text(head, rows):
        print(line)
    _say(LEGEND)
    rank = note_rank(table)
    _say(f"rank {rank}: {peak_summary(spec, s, rank)}")
    from lorplan.core.memory.report import full_finetune_line

    _say(full_finetune_line(spec, table))
    for note in (*notes, *setup_notes(spec, s, rank)):
        _say(f"note: {note}")
    missing = [r for r in table.rows if r.fits is False]
    if missing:
        row = min(missing, key=lambda r: r.rank)
        hints = fit_hints(spec, s, row, table.budget_bytes)
        if hints:
            _say(f"to fit rank {row.rank}: " + "; ".join(format_hint(h, table.budget_bytes, flags=True)
                                                      for h in hints))
