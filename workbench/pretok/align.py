"""Where two splits of the same text draw different boundaries, aligned by offset.

Two splits of one text agree on some boundaries (character offsets where a piece ends)
and not on others. A *divergence* is a maximal stretch between two shared boundaries that
contains at least one boundary only one split has:

    >>> d = diff("ChatGPT 中文English", a="kimi-k2", b="o200k")
    >>> [(v.text, [p.text for p in v.a], [p.text for p in v.b], v.cause) for v in d.divergences]
    [(' 中文English', [' ', '中文', 'English'], [' 中文English'], 'han')]

Compare two schemes on one engine, or one scheme on two engines
(``diff(t, a="kimi-k2", b="kimi-k2", engine_a="regex", engine_b="tokenizers")``).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from workbench.pretok.causes import classify
from workbench.pretok.engines import Engine
from workbench.pretok.pieces import Cut, Piece, resolve_engine, resolve_scheme, spans
from workbench.pretok.schemes import Scheme


@dataclass(frozen=True)
class Divergence:
    """A stretch ``text[start:end]`` that the two splits cut differently."""

    start: int
    end: int
    text: str
    a: tuple[Piece, ...]
    b: tuple[Piece, ...]
    cause: str

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "a": [p.text for p in self.a],
            "b": [p.text for p in self.b],
            "branches_a": [p.branch for p in self.a],
            "branches_b": [p.branch for p in self.b],
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Diff:
    """Both splits of ``text`` and the divergences between them."""

    text: str
    a: str
    b: str
    pieces_a: list[Piece] = field(repr=False)
    pieces_b: list[Piece] = field(repr=False)
    divergences: list[Divergence]

    @property
    def identical(self) -> bool:
        return not self.divergences

    def format(self, *, colour: bool = False) -> str:
        """Both splits, then each divergence with its cause and the two cuts."""
        from workbench.pretok.show import show_pieces

        width = max(len(self.a), len(self.b))
        lines = [f"{self.a:<{width}}  {show_pieces([p.text for p in self.pieces_a], colour=colour)}",
                 f"{self.b:<{width}}  {show_pieces([p.text for p in self.pieces_b], colour=colour)}"]
        if self.identical:
            lines.append("identical splits")
        for v in self.divergences:
            lines.append(f"[{v.start}:{v.end}] {v.cause}: {json.dumps(v.text, ensure_ascii=False)}")
            lines.append(f"    {self.a:<{width}}  {show_pieces([p.text for p in v.a], colour=colour)}")
            lines.append(f"    {self.b:<{width}}  {show_pieces([p.text for p in v.b], colour=colour)}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "pieces_a": [p.text for p in self.pieces_a],
            "pieces_b": [p.text for p in self.pieces_b],
            "divergences": [d.to_dict() for d in self.divergences],
        }


def regions(ends_a: Iterable[int], ends_b: Iterable[int]) -> list[tuple[int, int]]:
    """``[start, end)`` stretches between shared boundaries that hold unshared ones.

    Takes the end offsets of the pieces of two splits of the same text. Cost is linear in
    the pieces, with Python work only around the boundaries that differ:
    ``regions([2, 4, 6], [4, 6]) -> [(0, 4)]``.
    """
    ends_a, ends_b = set(ends_a), set(ends_b)
    odd = ends_a ^ ends_b
    if not odd:
        return []
    shared = sorted((ends_a & ends_b) | {0})
    out: list[tuple[int, int]] = []
    for d in sorted(odd):
        i = bisect_left(shared, d)
        lo, hi = shared[i - 1], shared[i]
        if not out or out[-1][0] != lo:
            out.append((lo, hi))
    return out


def classified_regions(text: str, a: Cut, b: Cut, *, across_engines: bool = False) -> Iterator[tuple[int, int, str]]:
    """``(start, end, cause)`` of every divergence, without building pieces where avoidable."""
    named = a.named and b.named
    for lo, hi in regions(a.ends, b.ends):
        branches = () if named else [p.branch for p in (*a.within(lo, hi), *b.within(lo, hi))]
        yield lo, hi, classify(text[lo:hi], a.texts(lo, hi), b.texts(lo, hi), branches, across_engines=across_engines)


def divergences(text: str, a: Cut, b: Cut, *, across_engines: bool = False) -> list[Divergence]:
    """Every divergence between two cuts of ``text``, with its pieces and cause."""
    return [Divergence(lo, hi, text[lo:hi], a.within(lo, hi), b.within(lo, hi), cause)
            for lo, hi, cause in classified_regions(text, a, b, across_engines=across_engines)]


def label(scheme: str | Scheme, engine: str | Engine) -> str:
    """``"kimi-k2"`` on the reference engine, ``"kimi-k2/tokenizers"`` otherwise."""
    s, e = resolve_scheme(scheme), resolve_engine(engine)
    return s.name if e.name == "regex" else f"{s.name}/{e.name}"


def diff(
    text: str,
    a: str | Scheme = "kimi-k2",
    b: str | Scheme = "o200k",
    *,
    engine_a: str | Engine = "regex",
    engine_b: str | Engine = "regex",
) -> Diff:
    """Split ``text`` two ways and align the results by character offset."""
    sa, sb = resolve_scheme(a), resolve_scheme(b)
    ea, eb = resolve_engine(engine_a), resolve_engine(engine_b)
    pa, pb = spans(text, sa, ea), spans(text, sb, eb)
    found = divergences(text, Cut.from_pieces(text, sa, pa), Cut.from_pieces(text, sb, pb),
                        across_engines=ea.name != eb.name)
    return Diff(text, label(sa, ea), label(sb, eb), pa, pb, found)
