"""How lorplan reads a large JSON array file (lorplan.core.data.json_array, RowSource.rows): time and peak memory
of the whole-file reader (json.loads) against the two ijson passes, on generated files, each read in a child
process so that its peak RSS is its own. Prints its figures; asserts nothing.

    python benchmarks/json_array_stream.py [--mb 44]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

_READ = """
import resource, sys, time
from lorplan.core.data import readers
readers._STREAM_BYTES = 0 if sys.argv[2] == "streamed" else float("inf")
t = time.perf_counter()
n = sum(1 for _ in readers.RowSource(sys.argv[1]).rows())
print(n, round(time.perf_counter() - t, 2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _chat_array(path: Path, mb: float) -> None:
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        size, n = 0, 0
        while size < mb * 1e6:
            row = json.dumps({"messages": [
                {"role": "user", "content": " ".join(rng.choice(words) for _ in range(200))},
                {"role": "assistant", "content": "x" * rng.randint(10, 3000)}]})
            fh.write(("," if n else "") + row)
            size, n = size + len(row) + 1, n + 1
        fh.write("]")


def _long_string(path: Path, mb: float) -> None:
    path.write_text(json.dumps([{"text": "0123456789abcdef" * int(mb * 2**20 / 16)}, {"text": "x"}]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=44, help="size of the generated chat array (MB)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {f"chat array, {args.mb:g} MB": (_chat_array, args.mb), "one 32 MB string of hex digits": (_long_string, 32)}
        for label, (make, mb) in files.items():
            path = Path(tmp) / "data.json"
            make(path, mb)
            figures = {}
            for way in ("whole", "streamed"):
                out = subprocess.run([sys.executable, "-c", _READ, str(path), way], capture_output=True, text=True,
                                     check=True).stdout.split()
                figures[way] = (int(out[0]), float(out[1]), int(out[2]))
            (n, t_whole, m_whole), (_, t_stream, m_stream) = figures["whole"], figures["streamed"]
            print(f"{label} ({path.stat().st_size / 1e6:.1f} MB, {n} rows): json.loads {t_whole:.2f} s, "
                  f"{m_whole} MB peak; ijson two passes {t_stream:.2f} s, {m_stream} MB peak "
                  f"(time x{t_stream / t_whole:.2f}, memory x{m_stream / m_whole:.2f})")


if __name__ == "__main__":
    main()
