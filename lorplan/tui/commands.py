"""Command palette: every action that is not in the footer, titled "namespace: action" (posting style)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class LorplanCommands(Provider):
    """Commands of the planner. The app supplies them via `palette_commands()`: (title, help, callback)."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        yield from getattr(self.app, "palette_commands", lambda: ())()

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)
