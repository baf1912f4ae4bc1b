"""The human-readable table of `lorplan plan` (without --json)."""

from __future__ import annotations


def print_table(spec, table, gpu_name: str | None = None) -> None:
    from lorplan.core.units import format_bytes, format_count

    s = table.setup
    print(f"{spec.id}  ({spec.architecture}, {format_count(spec.total_params)} parameters, source {spec.source})")
    for note in spec.notes:
        print(f"  note: {note}")
    quant = s.quant + (" + double quant" if s.double_quant else "")
    print(f"setup: quant {quant}, targets {','.join(s.targets.modules)}, micro-batch {s.micro_batch}, "
          f"seq-len {s.seq_len}, {s.optimizer}, {s.attention}, checkpointing {'on' if s.grad_checkpointing else 'off'}, "
          f"{s.gpus} GPU(s) {s.sharding}")
    if table.budget_bytes is not None:
        print(f"budget: {format_bytes(table.budget_bytes)} per GPU" + (f" ({gpu_name})" if gpu_name else ""))

    def gib(n: int) -> str:
        return f"{n / 1024**3:.2f}"

    head = f"{'rank':>5} {'trainable':>10} {'weights':>8} {'adapter':>8} {'grads':>8} {'optim':>8} {'activ':>8} " \
           f"{'overhead':>8} {'total':>8}"
    if table.budget_bytes is not None:
        head += f" {'fits':>5} {'max mb':>6} {'max seq':>7}"
    print(head + "   (GiB)")
    for r in table.rows:
        m = r.memory
        line = (f"{r.rank:>5} {format_count(r.trainable_params):>10} {gib(m.weights):>8} {gib(m.adapter):>8} "
                f"{gib(m.gradients):>8} {gib(m.optimizer):>8} {gib(m.activations):>8} {gib(m.overhead):>8} "
                f"{gib(m.total):>8}")
        if table.budget_bytes is not None:
            line += f" {'yes' if r.fits else 'NO':>5} {r.max_micro_batch:>6} {r.max_seq_len:>7}"
        print(line)
