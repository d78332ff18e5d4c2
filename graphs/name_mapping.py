"""A read-only mapping by name over a plain dict, with membership and `get` at dict speed.

`collections.abc.Mapping` answers `in` and `get` by looking the name up and catching the KeyError; the
editor asks "is this node's type a unit?" for each of 10,000 nodes when a model opens, almost always no.
"""

from __future__ import annotations

from collections.abc import Mapping


class NameMapping(Mapping):
    """Subclasses say which dict they read (`_by_name`); an unhashable name is in none."""

    def _by_name(self) -> dict:
        raise NotImplementedError

    def __getitem__(self, name):
        return self._by_name()[name]

    def __contains__(self, name) -> bool:
        try:
            return name in self._by_name()
        except TypeError:
            return False

    def get(self, name, default=None):
        try:
            return self._by_name().get(name, default)
        except TypeError:
            return default

    def __iter__(self):
        return iter(self._by_name())

    def __len__(self) -> int:
        return len(self._by_name())
