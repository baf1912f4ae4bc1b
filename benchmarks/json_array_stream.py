"""How lorplan reads a large JSON array file, and a JSON object whose one list holds the rows ({"version": 1,
"data": [...]}) (lorplan.core.data.json_array, RowSource.rows and head): time and peak memory of the whole-file
reader (json.loads) against the two ijson passes, on generated files, each read in a child process so that its
peak RSS is its own; and of the head (the first 200 rows, what peek_examples and the exports read). Prints its
figures; asserts nothing.

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
source = readers.RowSource(sys.argv[1])
n = len(source.head(200)) if sys.argv[3] == "head" else sum(1 for _ in source.rows())
try:  # this program's own peak: ru_maxrss keeps the parent's across exec (a parent that built a big file)
    peak = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")) // 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(n, round(time.perf_counter() - t, 2), peak)
"""


def _chat_array(path: Path, mb: float, under_key: bool = False) -> None:
    """Chat rows of about `mb` MB as a JSON array, or under_key: as the list of {"version": 1, "data": [...]} on
    one line (json.dump's way)."""
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"version": 1, "data": [' if under_key else "[")
        size, n = 0, 0
        while size < mb * 1e6:
            row = json.dumps({"messages": [
                {"role": "user", "content": " ".join(rng.choice(words) for _ in range(200))},
                {"role": "assistant", "content": "x" * rng.randint(10, 3000)}]})
            fh.write(("," if n else "") + row)
            size, n = size + len(row) + 1, n + 1
        fh.write("]}" if under_key else "]")


def _long_string(path: Path, mb: float) -> None:
    path.write_text(json.dumps([{"text": "0123456789abcdef" * int(mb * 2**20 / 16)}, {"text": "x"}]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=44, help="size of the generated chat array (MB)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            f"chat array, {args.mb:g} MB": (lambda path, mb: _chat_array(path, mb), args.mb),
            f"chat rows under a key, {args.mb:g} MB":
                (lambda path, mb: _chat_array(path, mb, under_key=True), args.mb),
            "one 32 MB string of hex digits": (_long_string, 32),
        }
        for label, (make, mb) in files.items():
            path = Path(tmp) / "data.json"
            make(path, mb)
            figures = {}
            for way in ("whole", "streamed"):
                for what in ("rows", "head"):
                    out = subprocess.run([sys.executable, "-c", _READ, str(path), way, what], capture_output=True,
                                         text=True, check=True).stdout.split()
                    figures[way, what] = (int(out[0]), float(out[1]), int(out[2]))
            (n, t_whole, m_whole), (_, t_stream, m_stream) = figures["whole", "rows"], figures["streamed", "rows"]
            print(f"{label} ({path.stat().st_size / 1e6:.1f} MB, {n} rows): json.loads {t_whole:.2f} s, "
                  f"{m_whole} MB peak; ijson two passes {t_stream:.2f} s, {m_stream} MB peak "
                  f"(time x{t_stream / t_whole:.2f}, memory x{m_stream / m_whole:.2f})")
            (h, th_whole, mh_whole), (_, th_stream, mh_stream) = figures["whole", "head"], figures["streamed", "head"]
            print(f"  head of {h} rows: as a file under the streaming size {th_whole:.2f} s, {mh_whole} MB peak; as one "
                  f"over it {th_stream:.2f} s, {mh_stream} MB peak")


if __name__ == "__main__":
    main()
