"""A small named registry: schemes, engines (and later renderers, presets) live in one.

Modelled on tiktoken's registry: names are unique, registering a name twice is refused,
and asking for an unknown name raises an error that lists every valid one.

    >>> r = Registry("colour"); r.register("red", 1); r["red"]
    1
    >>> r["blue"]
    Traceback (most recent call last):
    ...
    workbench.errors.UnknownNameError: unknown colour 'blue'; valid: red
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from workbench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """An insertion-ordered, read-mostly mapping from name to item."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; a name already taken is refused."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(self._items) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {valid}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"
