"""TUI latency, headless: launch → first rendered frame, and keystroke → updated rank table.

Targets (issue 4): first frame < 0.5 s, update < 50 ms. Run: `.venv/bin/python benchmarks/tui_latency.py`.
The first frame is measured in a fresh interpreter from its first line (imports included, as a user pays them);
the keystroke latency is the median over digits typed into the sequence-length field, from the key event to the
first frame painted after the table changed. Frames Textual paints inside a batch update are not sent to the
terminal, so they do not count. Headless apps skip the terminal write, so each frame is rendered to
terminal segments anyway and that cost is counted. The no-GPU state is forced so the figures do not depend on a
driver. Wall and CPU time are both printed: on a shared, loaded machine the CPU time is the steadier figure.

One more line times what a user sees (Linux/macOS): the real app in a pseudo-terminal, from the process being
started (interpreter start-up included) to the rank table's last row arriving on the terminal.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_FRAME_CHILD = r"""
import asyncio, time
t0, c0 = time.perf_counter(), time.process_time()
from lorplan.tui import start_up_gc_pause

with start_up_gc_pause():  # as launch() opens the planner: the collector paused from the import to the first frame
    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp
    from lorplan.tui.screens.main_screen import MainScreen
    t_import = time.perf_counter()
    marks = {}

    class TimedApp(LorplanApp):
        def _display(self, screen, renderable):
            # Textual throws away frames painted inside a batch update (start-up is one): count only real ones.
            if renderable is not None and isinstance(screen, MainScreen) and not self._batch_count:
                if hasattr(renderable, "render_segments"):
                    renderable.render_segments(self.console)
                now = (time.perf_counter(), time.process_time())
                marks.setdefault("first", now)
                if screen.query("#rank-table") and screen.query_one("#rank-table").row_count:
                    marks.setdefault("table", now)
            super()._display(screen, renderable)

    async def run():
        app = TimedApp(gpu_source=bridge.no_gpu("benchmark"), save_settings=False)
        async with app.run_test(size=(120, 40)):
            while "table" not in marks:
                await asyncio.sleep(0.001)
        first, table = marks["first"], marks["table"]
        print(f"{t_import - t0:.4f} {first[0] - t0:.4f} {table[0] - t0:.4f} {table[1] - c0:.4f}")

    asyncio.run(run())
"""


def first_frame(runs: int = 5) -> dict[str, list[float]]:
    """Seconds from the first line of a fresh interpreter to: imports done, first frame, first frame with table."""
    figures: dict[str, list[float]] = {"import": [], "first": [], "table": [], "table_cpu": []}
    env = dict(os.environ, XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="lorplan-bench-"))
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", FIRST_FRAME_CHILD], capture_output=True, text=True, env=env,
                             check=True).stdout.split()
        for key, value in zip(figures, out, strict=True):
            figures[key].append(float(value))
    return figures


PTY_CHILD = r"""
from lorplan.tui import start_up_gc_pause
with start_up_gc_pause():  # as launch() runs the app
    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp
    LorplanApp(gpu_source=bridge.no_gpu("benchmark"), save_settings=False).run()
"""


def pty_first_table(runs: int = 5) -> list[float]:
    """Seconds from starting the process to the whole rank table written to a 120x40 pseudo-terminal."""
    import fcntl
    import pty
    import struct
    import termios

    env = dict(os.environ, TERM="xterm-256color", XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="lorplan-bench-"))
    marker = b"largest then"  # the summary line under the table's last row ("peak at …; largest then: …")
    figures = []
    for _ in range(runs):
        t0 = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child: the real app on the real terminal driver, the terminal 120x40 from the start
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.execve(sys.executable, [sys.executable, "-c", PTY_CHILD], env)
        seen, shown = b"", None
        while True:
            ready, _, _ = select.select([fd], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                seen += chunk
                if shown is None and marker in seen:
                    shown = time.perf_counter() - t0
                    os.write(fd, b"\x11")  # ctrl+q
            if time.perf_counter() - t0 > 30:  # never shown, or never quit: stop it and say so below
                os.kill(pid, signal.SIGKILL)
                break
        os.waitpid(pid, 0)
        os.close(fd)
        if shown is None:
            raise RuntimeError("the planner never showed its table in the pseudo-terminal")
        figures.append(shown)
    return figures


async def keystroke_updates(keys: int = 30) -> tuple[list[float], list[float]]:
    """Seconds (wall, CPU) from a digit typed in the sequence-length field to the repainted table."""
    from textual import events

    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp
    from lorplan.tui.panels.plan_view import PlanView

    class TimedApp(LorplanApp):
        frames: list[tuple[float, float]] = []

        def _display(self, screen, renderable):
            if renderable is not None and hasattr(renderable, "render_segments") and not self._batch_count:
                renderable.render_segments(self.console)
                self.frames.append((time.perf_counter(), time.process_time()))
            super()._display(screen, renderable)

    app = TimedApp(gpu_source=bridge.no_gpu("benchmark"), save_settings=False,
                   config_path=Path(tempfile.mkdtemp()) / "config.toml")
    timings, cpu = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        seq = app.screen.query_one("#f-seq_len")
        view = app.screen.query_one(PlanView)
        seq.focus()
        await pilot.pause()
        for i in range(keys):
            seq.value = "102"  # start from a valid value, cursor at the end (no selection)
            await pilot.press("end")
            await pilot.pause(0.05)
            before = view.state.table
            t0, c0 = time.perf_counter(), time.process_time()
            # The key reaches the app the way the terminal driver delivers it (Pilot.press adds its own waits).
            app.post_message(events.Key(str(i % 10), str(i % 10)))  # "102" -> "102d": a new sequence length
            while view.state.table is before:
                await asyncio.sleep(0)
            shown = len(app.frames)
            while len(app.frames) == shown:  # the first frame painted after the table changed
                await asyncio.sleep(0.001)
            wall, proc = app.frames[-1]
            timings.append(wall - t0)
            cpu.append(proc - c0)
    return timings, cpu


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def main() -> None:
    figures = first_frame()
    updates, update_cpu = asyncio.run(keystroke_updates())
    terminal = pty_first_table() if os.name == "posix" else []
    p90 = sorted(updates)[int(len(updates) * 0.9)] * 1000
    print(f"lorplan TUI latency (headless, 120x40, no GPU; median of {len(figures['first'])} launches and "
          f"{len(updates)} keystrokes; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  import lorplan.tui.app                 {ms(figures['import'])}")
    print(f"  launch -> first frame                  {ms(figures['first'])}   (target < 500 ms)")
    print(f"  launch -> first frame with rank table  {ms(figures['table'])}   (CPU {ms(figures['table_cpu']).strip()})")
    if terminal:
        print(f"  process start -> table on a terminal   {ms(terminal)}   (real driver in a pseudo-terminal)")
    print(f"  keystroke -> updated table             {ms(updates)}   (target < 50 ms; CPU "
          f"{ms(update_cpu).strip()}; p90 {p90:.1f} ms)")
    print(f"  ratio first frame / target             {statistics.median(figures['first']) / 0.5:7.2f}")
    print(f"  ratio update / target                  {statistics.median(updates) / 0.05:7.2f}")


if __name__ == "__main__":
    main()
