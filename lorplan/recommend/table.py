"""A ladder's recommendation as text: the table of ranks (trainable parameters, accuracy and eval loss with
their 95% intervals over seeds, training time without model loading, peak memory), the knee marked, what each
doubling of rank buys and costs, then the evidence. Reads the recommendation.json object the driver writes,
so `lorplan recommend --run RUN` prints the same as the command that started the ladder. Pure Python.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections import defaultdict

from lorplan.core.columns import Column, fit_line, fit_tables
from lorplan.core.units import memory_text, text_width
from lorplan.probe.compare import ACCURACY_RANGE, LOSS_RANGE, pm_text, t_interval
from lorplan.recommend.knee import Knee, band_note, find_knee
from lorplan.recommend.types import LadderRow, array_field, of_kind, read_field

WIDTH = 110
# The mark beside a rank recommended above the knee (recommend.knee.likely_rank); a narrow table keeps only
# NOISE_MARK and says the rest under the table.
NOISE_MARK, NOISE_WHY = "<- recommended", "(the knee's noise)"
# The mark of a ladder that measured one rank (its budget ended after the learning-rate pass): no knee was found,
# as nothing was compared with it
ONLY_WHY = "(the only rank measured)"


def rows_from_json(obj: dict) -> list[LadderRow]:
    return [LadderRow.from_json(row) for row in obj.get("ladder", ())]


def _stat(values: list[float]) -> tuple[float | None, float | None]:
    """(mean, half-width of the 95% t interval; None with one value)."""
    if not values:
        return None, None
    iv = t_interval(values)
    return statistics.fmean(values), (iv[1] - iv[0]) / 2 if iv else None


def _common(obj: dict) -> float | None:
    """The learning rate every rank was compared at (recommendation.json's ladder_learning_rate)."""
    lr = obj.get("ladder_learning_rate")
    return float(lr) if lr is not None else None


def _usable(obj: dict, rows: list[LadderRow]) -> list[LadderRow]:
    """The rows the knee compares: measured, at the rate every rank was tried at."""
    lr = _common(obj)
    return [r for r in rows if r.usable and (lr is None or math.isclose(r.learning_rate, lr))]


def _knee(obj: dict, rows: list[LadderRow]) -> Knee | None:
    """The knee as the recommendation found it: at the rate every rank was tried at."""
    base = obj.get("base") or {}
    usable = _usable(obj, rows)
    if not usable or base.get("loss") is None:
        return None
    return find_knee(usable, float(base["loss"]), base_stderr=float(base.get("stderr") or 0.0))


def _groups(obj: dict, rows: list[LadderRow]) -> dict[tuple[int, float], dict]:
    """Per (rank, learning rate): the finished probes' figures (mean, 95% half-width)."""
    by: dict[tuple[int, float], list[LadderRow]] = defaultdict(list)
    for r in rows:
        by[(r.rank, r.learning_rate)].append(r)
    out = {}
    for key, group in sorted(by.items()):
        done = [r for r in group if r.state == "finished"]
        use = [r for r in group if r.knee_loss is not None]  # the rows the knee uses
        states = sorted({r.state for r in group if r.state != "finished"})
        out[key] = {
            "params": next((r.trainable_params for r in group if r.trainable_params), None),
            "acc": _stat([r.eval_accuracy for r in use if r.eval_accuracy is not None]),
            "loss": _stat([r.knee_loss for r in use if r.knee_loss is not None]),
            "train": _stat([r.train_seconds for r in use if r.train_seconds]),
            # what a doubling compares where the two ranks trained different steps (halving stopped one early:
            # its train s is of fewer steps, not a faster rank): the time per optimizer step, and the steps
            "step_s": _stat([r.train_seconds / r.steps for r in use if r.train_seconds and r.steps]),
            "steps": {r.steps for r in use if r.train_seconds},
            # a probe that trained no step (cancelled while it loaded) peaked at loading, not at the rank's
            "peak": max((r.peak_memory_bytes for r in group if r.peak_memory_bytes and r.steps != 0), default=None),
            "n": len(done), "of": len(group), "states": states,
        }
    return out


def _base_row(obj: dict) -> dict | None:
    probes = [p for p in obj.get("probes", ()) if p.get("rank") == 0]
    if not probes:
        return None
    done = [p for p in probes if p.get("state") == "finished"]
    loss = [p["curve"][-1][1] for p in done if p.get("curve")]
    return {
        "params": next((p.get("trainable_params") for p in done if p.get("trainable_params") is not None), None),
        "acc": _stat([p["eval_accuracy"] for p in done if p.get("eval_accuracy") is not None]),
        "loss": _stat(loss),
        "train": _stat([p["train_seconds"] for p in done if p.get("train_seconds")]),
        "peak": max((p["peak_memory_bytes"] for p in done if p.get("peak_memory_bytes")), default=None),
        "n": len(done), "of": len(probes), "states": sorted({p["state"] for p in probes if p["state"] != "finished"}),
    }


def ladder_table(obj: dict, limit: int | None = None) -> list[str]:
    """The table lines (empty when the ladder has no probe). limit: the columns of a terminal narrower than
    the table (None: a file, a pipe or a wide terminal), which the lines are then laid out to fit
    (narrow_table)."""
    rows = rows_from_json(obj)
    groups = _groups(obj, rows)
    base = _base_row(obj)
    if not groups and base is None:
        return []
    knee = _knee(obj, rows)
    lrs = {lr for _, lr in groups}
    common = _common(obj)
    cls = obj.get("task") == "sequence-classification"
    loss_head = "eval loss"  # as measured at the probes' length: what the knee compares (LadderRow.knee_loss)
    cells = []  # (label, lr, params, accuracy, eval loss, train s, peak, probes + mark, mark)

    def add(label: str, lr: str, g: dict, mark: str = "") -> None:
        # intervals that would cross what the quantity can take are clipped, as [low, high] (compare.pm_text)
        params = f"{g['params']:,}" if g["params"] is not None else "-"
        acc = pm_text(*g["acc"], ".3f", ACCURACY_RANGE) if cls else ""
        peak = memory_text(g["peak"]) if g["peak"] else "-"  # as probe status and the planner write it
        probes = f"{g['n']}/{g['of']}" + (f" ({', '.join(g['states'])})" if g["states"] else "")
        cells.append((label, lr, params, acc, pm_text(*g["loss"], ".4f", LOSS_RANGE),
                      pm_text(*g["train"], ".1f", LOSS_RANGE), peak, probes + mark, mark.strip()))

    if base is not None:
        add("base", "", base, "  (head alone)" if cls else "  (before training)")
    for (rank, lr), g in groups.items():
        at_common = common is None or math.isclose(lr, common)
        mark = "  <- knee" if knee is not None and knee.improved and rank == knee.rank and at_common else ""
        if mark and len(knee.ranks) == 1:
            mark = f"  {NOISE_MARK} {ONLY_WHY}"
        if (knee is not None and knee.improved and at_common and rank != knee.rank and rank == obj.get("rank")
                and any(e.get("source") == "knee noise" for e in obj.get("evidence", ()))):
            mark = f"  {NOISE_MARK} {NOISE_WHY}"  # recommend.knee.likely_rank moved the rank up
        add(str(rank), f"{lr:.3g}" if len(lrs) > 1 else "", g, mark)
    # the columns keep their usual widths and widen for a clipped [low, high] cell
    wa, wl, wt = (max([w, *(len(c[i]) + 2 for c in cells)]) for i, w in ((3, 15), (4, 22), (5, 14)))
    out = [f"  {'rank':<10}{'lr' if len(lrs) > 1 else '':<9}{'trainable':>11}  {'accuracy' if cls else '':<{wa}}"
           f"{loss_head:<{wl}}{'train s':<{wt}}{'peak mem':>10}  probes"]
    out += [f"  {label:<10}{lr:<9}{params:>11}  {acc:<{wa}}{loss:<{wl}}{train:<{wt}}{peak:>10}  {probes}"
            for label, lr, params, acc, loss, train, peak, probes, _ in cells]
    if limit is not None and max(map(len, out)) > limit:
        out = narrow_table(cells, limit, lr=len(lrs) > 1, cls=cls)
    seeds = max((g["of"] for g in groups.values()), default=1)
    # the ± legend only where a cell has an interval (a ladder whose every probe failed has none)
    spread = any("±" in c[i] or "[" in c[i] for c in cells for i in (3, 4, 5))
    legend = [f"  ± : 95% t interval of the mean over {seeds} seeds; train s: the optimizer steps alone (model "
              "loading excluded)" if seeds > 1 and spread else
              "  train s: the optimizer steps alone (model loading excluded)"]
    bounds = [bound for i, bound in ((3, "accuracy 0-1"), (4, "eval loss at least 0"), (5, "train s at least 0"))
              if any("[" in c[i] for c in cells)]  # the columns whose cells were clipped, by their headers
    if bounds:
        legend.append(f"  [low, high]: that interval clipped to what the value can take ({', '.join(bounds)})")
    noise = next((c[0] for c in cells if c[8] == f"{NOISE_MARK} {NOISE_WHY}"), None)
    if noise is not None and not any(NOISE_WHY in line for line in out):  # a narrow table's short mark
        legend.append(f"  {NOISE_MARK}: rank {noise}, recommended above the knee for the knee's noise (evidence: "
                      "knee noise)")
    only = next((c[0] for c in cells if c[8] == f"{NOISE_MARK} {ONLY_WHY}"), None)
    if only is not None and not any(ONLY_WHY in line for line in out):
        legend.append(f"  {NOISE_MARK}: rank {only}, the only rank measured")
    out += [part for line in legend for part in fit_line(line, limit, "    ")]
    out += doublings(groups, common, knee, cls, width=_wrap_width(limit))
    return out


def narrow_table(cells: list[tuple], limit: int, *, lr: bool, cls: bool) -> list[str]:
    """The ladder's table laid out to fit `limit` columns: every column as wide as its widest cell, and where one
    table does not fit, two led by the rank: what each rank measured (accuracy, eval loss, the knee's mark) and
    what it cost (training time, trainable parameters, peak memory, the probes that finished)."""
    def column(i: int, head: str, right: bool = False) -> Column:
        return Column(head, tuple(c[i] for c in cells), right)

    key = [column(0, "rank"), *([column(1, "lr")] if lr else [])]
    acc = [column(3, "accuracy")] if cls else []
    wide = [column(2, "trainable", True), *acc, column(4, "eval loss"), column(5, "train s"),
            column(6, "peak mem", True), column(7, "probes")]  # the probes cell ends with the mark
    one = fit_tables(key, wide, limit, indent="  ")
    if len(one) == len(cells) + 1 and max(map(len, one)) <= limit:
        return one
    measured = fit_tables(key, [*acc, column(4, "eval loss"), column(8, "")], limit, indent="  ")
    if len(measured) > len(cells) + 1 or max(map(len, measured)) > limit:  # the long mark, said under the table
        marks = Column("", tuple(NOISE_MARK if c[8].startswith(NOISE_MARK) else c[8] for c in cells), right=False)
        measured = fit_tables(key, [*acc, column(4, "eval loss"), marks], limit, indent="  ")
    probes = Column("probes", tuple(c[7][:len(c[7]) - len(c[8])].rstrip() for c in cells), right=False)
    return measured + fit_tables(key, [column(5, "train s"), column(2, "trainable", True),
                                       column(6, "peak mem", True), probes], limit, indent="  ")


def _wrap_width(limit: int | None) -> int:
    """Where sentences wrap: WIDTH, or a narrower terminal's `limit` (not below 60, as units.text_width)."""
    return text_width(WIDTH) if limit is None else max(60, min(WIDTH, limit))


def doublings(groups: dict, lr: float | None, knee: Knee | None, cls: bool, width: int | None = None) -> list[str]:
    """What each step up the ladder (at the default learning rate) buys and costs, in words, wrapped at
    `width` columns (default: units.text_width's)."""
    at = sorted(((rank, g) for (rank, rlr), g in groups.items() if lr is None or math.isclose(rlr, lr)),
                key=lambda x: x[0])
    out = []
    for (a, ga), (b, gb) in zip(at, at[1:], strict=False):
        if ga["loss"][0] is None or gb["loss"][0] is None:
            continue
        step = "doubling" if b == 2 * a else f"×{b / a:g}"
        bits = []
        if cls and ga["acc"][0] is not None and gb["acc"][0] is not None:
            bits.append(f"accuracy {gb['acc'][0] - ga['acc'][0]:+.3f}")
        bits.append(f"eval loss {gb['loss'][0] - ga['loss'][0]:+.4f}")
        if knee is not None and knee.improved:
            share_a, share_b = knee.share(a), knee.share(b)
            if share_a is not None and share_b is not None:
                bits.append(f"{share_a:.0%} -> {share_b:.0%} of the best rank's improvement over the base")
        cost, saves = [], []
        if ga["params"] and gb["params"]:
            cost.append(f"+{gb['params'] - ga['params']:,} trainable parameters (×{gb['params'] / ga['params']:.2f})")
        time_cost, time_saved = [], []
        if ga["train"][0] and gb["train"][0] and len(ga["steps"] | gb["steps"]) == 1:  # as many steps
            time_cost, time_saved = _time_change(ga["train"], gb["train"])
        elif ga["step_s"][0] and gb["step_s"][0]:  # halving stopped one rank's probes before the other's
            time_cost, time_saved = _time_change(ga["step_s"], gb["step_s"], per_step=True)
        cost += time_cost
        saves += time_saved
        if ga["peak"] and gb["peak"]:
            d = gb["peak"] - ga["peak"]
            if d >= 0:
                cost.append(f"+{memory_text(d)} of peak memory")
            else:  # measured, not a cost: "costs -2 MiB" reads as nonsense
                saves.append(f"{memory_text(-d)} of peak memory")
        said = ([f"costs {', '.join(cost)}"] if cost else []) + ([f"saves {', '.join(saves)}"] if saves else [])
        text = f"rank {a} -> {b} ({step}): buys {', '.join(bits)}; {'; '.join(said) or 'costs nothing measured'}"
        out += textwrap.wrap(text, width or text_width(WIDTH), initial_indent="  ", subsequent_indent="      ",
                             break_on_hyphens=False, break_long_words=False)
    return out


def _time_change(a: tuple, b: tuple, per_step: bool = False) -> tuple[list[str], list[str]]:
    """(cost, saving) in words for the training time going from `a` to `b` (each (mean seconds, 95% half-width
    over seeds or None)): a probe's, or per optimizer step with per_step (the ranks trained different steps).
    More time is a cost. Less is a saving only when the seeds measured it: the two 95% intervals do not overlap.
    With one seed (no spread measured) or overlapping intervals it is timing noise: a higher rank trains no less
    arithmetic, so the figure says the rank is no slower, not that it is faster."""
    d = b[0] - a[0]
    share = f"{d / a[0]:+.0%}"

    def amount(x: float) -> str:
        if not per_step:
            return f"{x:.1f} s"
        return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"

    each = " per step" if per_step else ""
    if d >= 0:
        return [f"+{amount(d)} of training{each} ({share})"], []
    if a[1] is not None and b[1] is not None and -d > a[1] + b[1]:
        return [], [f"{amount(-d)} of training{each} ({share})"]
    return [f"no slower within timing noise ({amount(-d)} less{each}, {share})"], []


def pattern_line(pattern: dict, checked: bool, demo: bool = False) -> str | None:
    """The recommendation's rank_pattern in one line and whether `--write` writes it (a pattern the ladder's
    check kept is written; an unchecked one only with --apply-pattern), or None without a pattern. demo: the
    demo ladder's, checked on its generated data (and it writes no plan)."""
    if not pattern:
        return None
    how = ("checked on the demo's data" if checked and demo else
           "checked on your data: --write writes it, --no-pattern does not" if checked else
           "offered unchecked: --write writes it only with --apply-pattern")
    return "  rank pattern    " + ", ".join(f"{k}={v}" for k, v in pattern.items()) + f" ({how})"


def cost_text(cost_seconds: float, *, parallel: int | None = None, wall_seconds: float | None = None) -> str:
    """What the probes cost: each probe's time (loading and training), summed over the probes. With several
    probes at a time that is more than the wall time the ladder took, so the line says how many ran at once
    and, when it is known (the command that started the ladder waited for it), the wall time."""
    if wall_seconds is not None:
        how = f"{wall_seconds:,.0f} s of wall time" + (f", {parallel} at a time" if parallel and parallel > 1 else "")
    elif parallel == 1:
        how = "one probe at a time"
    else:
        how = "summed over probes" + (f", {parallel} at a time" if parallel else "")
    return f"probes cost {cost_seconds:,.0f} s of probe time ({how})"


def one_rank_budget(obj: dict) -> str:
    """When the budget left after the learning-rate pass bought no other rank (recommend.decide._one_rank_only)
    and one rank was measured: that, and the --budget-minutes that buys the ranks pass; else ""."""
    minutes = _budget_minutes(obj)
    # the driver's (LadderSpec.budget_seconds: null for none), read as recommend.types reads every field: a hand
    # edit (a 400-digit integer, text, true, inf or -60) is BadInput naming it, a traceback or "the inf-minute
    # budget" before
    budget = read_field(obj, "budget_seconds", "number", positive=True, default=None)
    ranks = sorted({r.rank for r in _usable(obj, rows_from_json(obj))})
    if minutes is None or len(ranks) != 1:
        return ""
    spent = f"the {budget / 60:.3g}-minute budget" if budget else "the budget"
    return (f"{spent} bought rank {ranks[0]} alone (the learning-rate pass); --budget-minutes {minutes} buys the "
            "ranks pass, at the probes' measured time")


def _budget_minutes(obj: dict) -> int | None:
    """The --budget-minutes that would have bought a pass the budget cut short (Pass.budget_minutes: the first
    pass that names one), or None. The driver writes passes as a list of objects and budget_minutes as a whole
    number of at least 1; anything else (a hand edit) is BadInput naming the field, which both readers of
    recommendation.json say in one line (an entry that was no object was an AttributeError's traceback in
    `lorplan recommend --run`, and 2.5 read "a ladder budget of 2 minutes (the minutes field).5" in the planner)."""
    found = None
    for i, p in enumerate(array_field(obj, "passes", "passes", default=())):
        of_kind(p, f"passes[{i}]", dict, "a JSON object")
        minutes = read_field(p, "budget_minutes", "whole", name=f"passes[{i}].budget_minutes", least=1, default=None)
        found = found or minutes
    return found


def band_text(low: int, high: int) -> str:
    """The ranks the evidence cannot tell apart: "band 8-16", or "band: rank 8 only" (not "band 8-8")."""
    return f"band {low}-{high}" if low != high else f"band: rank {low} only"


def state_word(obj: dict) -> str | None:
    """recommendation.json's "state" (recommend.measured.ladder_state: running, done or cancelled), with one an
    older driver wrote for a cancelled ladder ("done" beside a cancelled_after of seconds) read as "cancelled"."""
    state = obj.get("state")
    if state == "done" and isinstance(obj.get("cancelled_after"), (int, float)):
        return "cancelled"
    return state if isinstance(state, str) else None


ENDED = ("done", "cancelled")  # the ladder_state words after which the driver adds nothing


def render_ladder(obj: dict, *, with_evidence: bool = True, parallel: int | None = None,
                  wall_seconds: float | None = None, limit: int | None = None) -> str:
    """The whole text: the recommendation, the table, the doublings, the evidence. parallel: the probes the
    ladder ran at a time; wall_seconds: the time the ladder took, start to end (each None when not known);
    limit: the columns of a narrower terminal, which the lines then fit (core.units.terminal_limit)."""
    low, high = obj["confidence"]["low"], obj["confidence"]["high"]
    # with one seed per rank the band holds the ranks the ladder did not measure and noise estimated from how far
    # the losses rise with rank (recommend.knee.one_seed_noise), not measured, or none at all: say so beside it
    note = band_note(_usable(obj, rows_from_json(obj)))
    # no knee (every rank probe failed, or none has finished yet): the rank and band are the prior's, as
    # render_text says of a recommendation without probes
    if not any(e.get("source") == "ladder" and e.get("rank") is not None for e in obj.get("evidence", ())):
        note = "capacity prior only"
    note = f"  ({note})" if note else ""
    word = state_word(obj)
    if word == "cancelled":  # `lorplan probe cancel RUN`
        after = obj.get("cancelled_after")
        after = f" after {after:,.0f} s" if isinstance(after, (int, float)) else ""
        state = f"cancelled by the user{after} (the recommendation rests on what finished)"
    else:
        state = "done" if word == "done" else "still running (provisional)"
    scale = obj["alpha"] / (obj["rank"] ** 0.5 if obj.get("use_rslora") else obj["rank"])
    # (line, where it continues on a narrow terminal: under the value it broke in)
    top = [
        (f"lorplan recommend: {obj.get('model', '')} ({obj.get('task', '')}), run {obj.get('run', '')}: {state}",
         "  "),
        ("", ""),
        (f"  rank            {obj['rank']:<10} {band_text(low, high)}{note}", " " * 29),
        (f"  alpha           {obj['alpha']:<10g} scale alpha/{'sqrt(r)' if obj.get('use_rslora') else 'r'} = {scale:g}",
         " " * 29),
        (f"  learning rate   {obj['learning_rate']:<10.3g} "
         f"{cost_text(obj.get('cost_seconds') or 0.0, parallel=parallel, wall_seconds=wall_seconds)}", " " * 29),
    ]
    short = one_rank_budget(obj)
    if short:
        top.append((f"  budget          {short}", " " * 18))
    pattern = pattern_line(dict(obj.get("rank_pattern") or {}), bool(obj.get("pattern_checked")),
                           obj.get("kind") == "demo")
    top += [(pattern, " " * 18), ("", "")] if pattern else [("", "")]
    lines = [part for line, indent in top for part in fit_line(line, limit, indent)]
    table = ladder_table(obj, limit)
    if table:
        lines += table + [""]
    if with_evidence:
        lines.append("evidence")
        for e in obj.get("evidence", ()):
            rank = f" (rank {e['rank']})" if e.get("rank") is not None else ""
            head = f"  {e['source']}{rank}: " if not e["explanation"].startswith(e["source"]) else "  "
            lines += textwrap.wrap(e["explanation"], _wrap_width(limit), initial_indent=head, subsequent_indent="      ",
                                   break_on_hyphens=False, break_long_words=False)
    return "\n".join(lines)
