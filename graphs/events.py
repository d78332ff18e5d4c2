"""A tiny observer: the document's stand-in for Qt signals.

The GUI adapts these events to Qt signals; the engine and tests subscribe with
plain callables. Subscribers run synchronously, in subscription order.
"""

from __future__ import annotations

from collections.abc import Callable


class Event:
    """A list of callbacks that `emit` calls with the same arguments."""

    def __init__(self, name: str):
        self.name = name
        self._subscribers: list[Callable] = []

    def sub(self, callback: Callable) -> None:
        if callback not in self._subscribers:
            self._subscribers.append(callback)

    def unsub(self, callback: Callable) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def emit(self, *args) -> None:
        for callback in list(self._subscribers):
            callback(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._subscribers)} subscribers)"
