"""What `lorplan probe status` and `wait` print: the run's state line, its probe table, its ranks compared and
its notes, in the 110-column layout, or, on a terminal narrower than a table, as tables that fit it
(core.columns: each column as wide as its widest cell, what does not fit in a second table led by the probe's id
or the rank). A pipe or a file gets the wide layout byte for byte.
"""

from __future__ import annotations

import sys


def _fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def ladder_note(run_id: str, state: str | None, resume: str | None = None) -> str | None:
    """Where a ladder's recommendation is (`state`: the run's _ladder_state): its probes are only what its
    driver started so far; a stopped ladder's driver (the machine restarted, its process was killed) is
    started again only by `resume` (default `lorplan recommend --run RUN`), which the probe commands never run.
    None for a plain probe run."""
    if state is None:
        return None
    if state in ("done", "cancelled"):
        text = (f"run {run_id} is a probe ladder ({state}): `lorplan recommend --run {run_id}` prints its "
                "recommendation")
    elif state == "stopped":
        text = (f"run {run_id} is a probe ladder whose driver has stopped (the machine restarted, or its process "
                "was killed): no rank is stopped early, no budget kept and no next pass started until "
                f"`{resume or f'lorplan recommend --run {run_id}'}` starts it again")
    else:
        text = (f"run {run_id} is a probe ladder: its driver adds probes as the ones before end; "
                f"`lorplan recommend --run {run_id} --wait` waits for its recommendation")
    return f"note: {text}"  # one line, as the other notes: a command cut in two is not one to copy


def space_note(st) -> str | None:
    """The note for queued probes that wait for disk space (RunStatus.space_wait: why, where, what starts them),
    one line; None when they do not."""
    return None if st.space_wait is None else f"note: {st.space_wait['message']}"


def wait_space_note(space_wait: dict) -> str:
    """What `probe wait` says when the probes it waits for begin to wait for disk space: it goes on waiting."""
    return (f"note: {space_wait['message']}; this wait goes on and starts them itself once there is space "
            "(--timeout gives up)")


def run_state(st, ladder: str | None) -> str:
    """The run's state word as list and status show it: a ladder's own (_ladder_state), else the run's
    (RunStatus.state: running, waiting for disk space, done or cancelled)."""
    return ladder if ladder is not None else st.state


def print_table(st, restarted: bool = False, ladder: str | None = None, resume: str | None = None) -> None:
    """The run's state, its probes, its ranks compared, its notes, and the ladder note when `ladder` (its
    _ladder_state) says it is a ladder's run (resume: the command that starts a stopped ladder's driver again). On a terminal narrower than its tables they fit it (core.columns:
    the probe table's 97 columns wrapped each row in two in an 80-column window); a pipe gets the wide layout."""
    from lorplan.core.columns import fit_line
    from lorplan.core.model.names import model_name
    from lorplan.core.units import memory_text, terminal_limit

    limit = terminal_limit()
    scheduler = "running" if st.scheduler_alive else ("restarted" if restarted else "stopped")
    # a folder by its short name, as the planner shows it (the shipped MiniLM's path inside site-packages
    # wrapped the line on an 80-column terminal); --json keeps the full path
    for line in fit_line(f"run {st.run}  {run_state(st, ladder)}  scheduler {scheduler}  "
                         f"model {model_name(st.to_json()['model'])}", limit):
        print(line)
    heads = ("probe", "state", "step", "loss", "eval", "acc", "tok/s", "load s", "train s", "peak mem")
    rows = [(p.id, p.state, f"{p.step}/{p.steps}", _fmt(p.loss, ".4f"), _fmt(p.eval_loss, ".4f"),
             _fmt(p.eval_accuracy, ".3f"), _fmt(p.tokens_per_second, ".0f"), _fmt(p.load_seconds, ".1f"),
             _fmt(p.train_seconds, ".1f"), memory_text(p.peak_memory_bytes) if p.peak_memory_bytes else "-")
            for p in st.probes]
    messages = [(p.id, p.message) for p in st.probes if p.message and p.state != "finished"]
    w = max([10, *(len(p.id) for p in st.probes)])  # the id column fits the longest id (r4-lr0.00033-s2)
    wide = [f"{heads[0]:<{w}} {heads[1]:<10} " + " ".join(f"{h:>{n}}" for h, n in zip(
        heads[2:], (9, 8, 8, 6, 8, 7, 8, 9), strict=True))]
    for p, row in zip(st.probes, rows, strict=True):
        wide.append(f"{row[0]:<{w}} {row[1]:<10} " + " ".join(f"{c:>{n}}" for c, n in zip(
            row[2:], (9, 8, 8, 6, 8, 7, 8, 9), strict=True)))
        if p.message and p.state != "finished":
            wide.append(f"{'':<{w}} {p.message}")
    if limit is not None and max(map(len, wide)) > limit:
        wide = _narrow_probes(heads, rows, messages, limit)
    for line in wide:
        print(line)
    _print_ranks(st, limit)
    for note, ids in st.notes():
        for line in fit_line(f"note: {note}" + (f" ({', '.join(ids)})" if ids else ""), limit):
            print(line)
    for note in (space_note(st), ladder_note(st.run, ladder, resume)):
        if note is not None:
            for line in fit_line(note, limit):
                print(line)
    for p in st.probes:
        for w in p.warnings:
            print(f"warning: {w}", file=sys.stderr)


def _narrow_probes(heads, rows, messages, limit: int) -> list[str]:
    """The probe table for a terminal `limit` columns wide: each column as wide as its widest cell, what does
    not fit in a second table led by the probe's id, and a probe's message (an out-of-memory's, a queued one's
    wait) under the tables with its id, broken at the terminal's width."""
    from lorplan.core.columns import Column, fit_line, fit_tables

    columns = [Column(h, tuple(r[i] for r in rows), right=i > 1) for i, h in enumerate(heads)]
    lines = fit_tables(columns[:1], columns[1:], limit, seps=(" ",))
    for pid, message in messages:
        lines += fit_line(f"{pid}: {message}", limit)
    return lines


def _print_ranks(st, limit: int | None = None) -> None:
    """The finished ranks side by side (lorplan.probe.compare): eval loss and accuracy (mean [95% interval]
    over seeds when several ran, clipped to what the value can take), training and loading time, peak memory;
    on a terminal `limit` columns wide, as tables that fit it, each led by the rank (and its lr)."""
    from lorplan.core.columns import Column, fit_tables
    from lorplan.core.units import memory_text
    from lorplan.probe.compare import compare_ranks, interval_text, rank_text

    rows = compare_ranks(st.probes)
    if not rows:
        return
    several_lrs = len({r.lr for r in rows}) > 1
    seeds = max(r.seeds for r in rows) > 1
    print()
    print("by rank" + (" (mean [95% interval] over seeds)" if seeds else "") + ":")
    cells = [["rank"] + (["lr"] if several_lrs else []) + (["seeds"] if seeds else [])
             + ["eval loss", "accuracy", "train s", "load s", "peak mem"]]
    for r in rows:
        cells.append([rank_text(r.rank)] + ([_fmt(r.lr, "g")] if several_lrs else []) + ([str(r.seeds)] if seeds else [])
                     + [interval_text(r.eval_loss, r.eval_loss_interval, ".4f"),
                        interval_text(r.eval_accuracy, r.eval_accuracy_interval, ".3f"),
                        _fmt(r.train_seconds, ".1f"), _fmt(r.load_seconds, ".1f"),
                        memory_text(r.peak_memory_bytes) if r.peak_memory_bytes else "-"])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    if limit is not None and max(map(len, lines)) > limit:
        columns = [Column(head, tuple(row[i] for row in cells[1:])) for i, head in enumerate(cells[0])]
        key = 1 + several_lrs
        lines = fit_tables(columns[:key], columns[key:], limit)
    for line in lines:
        print(line)


__all__ = ["ladder_note", "print_table", "run_state", "space_note", "wait_space_note"]
