"""A small named registry: schemes, engines, renderers live in one.

Modelled on tiktoken's registry: names are unique, registering a name twice is refused,
and asking for an unknown name raises an error that lists every valid one. Like tiktoken's
registry finding ``tiktoken_ext``, a registry made with ``plugins="NAME"`` also finds items
it was never told of: on its first use it imports each module of the :mod:`workbench.plugins`
namespace and registers what that module's ``NAME`` dict holds (name -> factory). So an item
built from a higher layer (the llama-server renderer runs a server from ``workbench.run``)
joins a registry of a lower one without the lower one importing upward.

    >>> r = Registry("colour"); r.register("red", 1); r["red"]
    1
    >>> r["blue"]
    Traceback (most recent call last):
    ...
    workbench.errors.UnknownNameError: unknown colour 'blue'; valid: red
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from workbench.errors import UnknownNameError

T = TypeVar("T")
#: the namespace whose modules registries search for plugins
PLUGINS = "workbench.plugins"


class Registry(Mapping[str, T], Generic[T]):
    """An insertion-ordered, read-mostly mapping from name to item."""

    def __init__(self, kind: str, *, plugins: str | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        #: the dict each plugin module may define for this registry, e.g. ``"RENDERERS"``
        self.plugins = plugins
        self._found = plugins is None
        self._finding = threading.RLock()

    def _discover(self) -> None:
        """Register what the plugin modules offer, once (plugin modules in name order)."""
        if self._found:
            return
        with self._finding:
            if self._found:
                return
            self._found = True  # before the imports: a plugin module may use this registry
            package = importlib.import_module(PLUGINS)  # by name: plugins sit above every layer
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
                module = importlib.import_module(f"{PLUGINS}.{info.name}")
                for name, factory in getattr(module, self.plugins, {}).items():
                    self.register(name, factory())

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; a name already taken is refused."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        self._discover()
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(self._items) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {valid}") from None

    def __iter__(self) -> Iterator[str]:
        self._discover()
        return iter(list(self._items))

    def __len__(self) -> int:
        self._discover()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"
