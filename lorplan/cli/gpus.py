"""`lorplan gpus [--json] [--presets]`: what NVML sees (honouring CUDA_VISIBLE_DEVICES), or why it sees nothing."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gpus", help="show the GPUs NVML sees (or say there is none)",
                       description="Show each visible GPU (CUDA_VISIBLE_DEVICES honoured): name, total, free, "
                       "used and driver-reserved memory, and the processes using it. GPUs are numbered as "
                       "nvidia-smi numbers them (PCI bus order); a note says when CUDA programs may number them "
                       "otherwise (different GPUs, CUDA_DEVICE_ORDER not PCI_BUS_ID). Without a driver or GPU it "
                       "says so in one line and exits 0. --presets lists the GPU names --gpu accepts.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--presets", action="store_true", help="also list the GPU presets (name and memory)")
    p.set_defaults(run=run)


def run(args) -> int:
    from dataclasses import asdict

    from lorplan.cli._common import print_json
    from lorplan.core.gpu import PRESETS, list_gpus, order_note
    from lorplan.core.units import format_bytes

    gpus, reason = list_gpus()
    note = order_note() if gpus else None
    if args.json:
        out = {"gpus": [asdict(g) for g in gpus], "reason": reason, "note": note}
        if args.presets:
            out["presets"] = dict(PRESETS)
        print_json(out)
        return 0
    if not gpus:
        print(f"no GPU: {reason}")
    for g in gpus:
        print(f"[{g.cuda_index}] {g.name}  total {format_bytes(g.total_bytes)}  free {format_bytes(g.free_bytes)}  "
              f"used {format_bytes(g.used_bytes)}  reserved {format_bytes(g.reserved_bytes)}  "
              f"processes {len(g.processes)}  ({g.uuid})")
        for p in g.processes:
            used = format_bytes(p.used_bytes) if p.used_bytes is not None else "?"
            print(f"      pid {p.pid}: {used}")
    if note:
        print(note)
    if args.presets:
        print("presets (use with --gpu):")
        for name, size in PRESETS.items():
            print(f"  {name:14} {format_bytes(size)}")
    return 0
