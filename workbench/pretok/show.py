"""Pieces shown as text: control characters escaped, pieces delimited or coloured; the split report; the catalogue.

    >>> escape_controls("a\\n\\t")
    'a\\\\n\\\\t'
    >>> show_pieces(["Chat", "GPT", " ", "中文"], colour=False)
    '│Chat│GPT│ │中文│'

The reports here (:class:`SplitReport`, :class:`Catalogue`) follow the workbench's report
protocol: ``format()`` for a terminal, ``to_dict()`` for the documented JSON.

Not here: HTML views (``workbench.ui``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.pretok.pieces import Piece

_COLOURS = ("\x1b[48;5;153m", "\x1b[48;5;223m", "\x1b[48;5;194m", "\x1b[48;5;225m", "\x1b[48;5;230m")
_RESET = "\x1b[0m"


def escape_controls(piece: str) -> str:
    """Line breaks, tabs and backslashes written out, so a piece fits on one line (spaces stay spaces)."""
    return piece.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def show_pieces(pieces: Sequence[str], *, colour: bool = False) -> str:
    """Pieces delimited for a terminal: coloured backgrounds, or ``│`` between them."""
    if colour:
        return "".join(f"\x1b[30m{_COLOURS[i % len(_COLOURS)]}{escape_controls(p)}{_RESET}" for i, p in enumerate(pieces))
    return "│" + "│".join(escape_controls(p) for p in pieces) + "│"


@dataclass(frozen=True)
class SplitReport:
    """The pieces of one text under a scheme and engine (``kimi-wb split``)."""

    text: str
    pieces: list[Piece]
    scheme: str
    engine: str
    branches: bool = False  # show and report each piece's offsets and branch

    def format(self, *, colour: bool = False) -> str:
        if not self.branches:
            return show_pieces([p.text for p in self.pieces], colour=colour)
        return "\n".join(f"{p.start:>6}-{p.end:<6} {p.branch or '(unmatched)':<12} {show_pieces([p.text], colour=colour)}"
                         for p in self.pieces)

    def summary(self) -> str:
        return f"{len(self.pieces)} pieces, {len(self.text)} characters ({self.scheme}, {self.engine})"

    def to_dict(self) -> list:
        if not self.branches:
            return [p.text for p in self.pieces]
        return [{"text": p.text, "start": p.start, "end": p.end, "branch": p.branch} for p in self.pieces]


@dataclass(frozen=True)
class Catalogue:
    """Every scheme with its branches, and every engine (``kimi-wb schemes``)."""

    def to_dict(self) -> dict:
        from workbench.pretok.engines import ENGINES
        from workbench.pretok.schemes import SCHEMES

        return {
            "schemes": {n: {"description": s.description, "source": s.source, "pattern": s.pattern,
                            "branches": {b.name: b.pattern for b in s.branches}} for n, s in SCHEMES.items()},
            "engines": {n: {"description": e.description, "version": e.version} for n, e in ENGINES.items()},
        }

    def format(self) -> str:
        from workbench.pretok.engines import ENGINES
        from workbench.pretok.schemes import SCHEMES

        lines = []
        for n, s in SCHEMES.items():
            lines.append(f"{n}: {s.description}\n  source: {s.source}")
            lines += [f"  {b.name:<12} {b.pattern}" for b in s.branches]
        lines.append("\nengines:")
        lines += [f"  {n:<12} {e.description} ({e.version})" for n, e in ENGINES.items()]
        return "\n".join(lines)
