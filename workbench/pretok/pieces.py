"""Split text into pre-tokenization pieces, each with the alternative that made it.

    >>> split("ChatGPT 中文English")
    ['Chat', 'GPT', ' ', '中文', 'English']
    >>> [p.branch for p in spans("ChatGPT 中文English")]
    ['word', 'word_upper', 'space_rest', 'han', 'word']

Pieces always concatenate back to the input: text that no alternative matches (which
tiktoken would silently drop) becomes a piece with ``branch=None``. For engines that do not
report branches, a piece is attributed to the first alternative that, matched at the
piece's start, ends exactly at its end; ``None`` there means no alternative of the scheme
produces that piece — the engine disagrees with the pattern's semantics.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate
from operator import itemgetter
from typing import NamedTuple

from workbench.pretok.engines import ENGINES, Engine, RegexEngine, compile_v1, grouped
from workbench.pretok.schemes import SCHEMES, Scheme


class Piece(NamedTuple):
    """A pre-token: its text, character offsets ``[start, end)`` and branch name."""

    text: str
    start: int
    end: int
    branch: str | None


def resolve_scheme(scheme: str | Scheme) -> Scheme:
    """A scheme name or object -> the object (unknown names list the valid ones)."""
    return scheme if isinstance(scheme, Scheme) else SCHEMES[scheme]


def resolve_engine(engine: str | Engine) -> Engine:
    """An engine name or object -> the object."""
    return engine if isinstance(engine, Engine) else ENGINES[engine]


def split(text: str, scheme: str | Scheme = "kimi-k2", engine: str | Engine = "regex") -> list[str]:
    """The pieces of ``text``; ``"".join(split(text)) == text`` always holds.

    >>> split("12345 apples", scheme="o200k")
    ['123', '45', ' apples']
    """
    sch, eng = resolve_scheme(scheme), resolve_engine(engine)
    pieces = eng.findall(text, sch)
    if sum(map(len, pieces)) == len(text):  # ordered, non-overlapping: no gaps
        return pieces
    return [p.text for p in spans(text, sch, eng)]


def spans(text: str, scheme: str | Scheme = "kimi-k2", engine: str | Engine = "regex") -> list[Piece]:
    """The pieces of ``text`` with offsets and the name of the branch that matched."""
    sch, eng = resolve_scheme(scheme), resolve_engine(engine)
    out: list[Piece] = []
    pos = 0
    for start, end, branch in eng.matches(text, sch):
        if start > pos:
            out.append(Piece(text[pos:start], pos, start, None))
        if end > start:
            if branch is None:
                branch = attribute(text, sch, start, end)
            out.append(Piece(text[start:end], start, end, branch))
        pos = max(pos, end)
    if pos < len(text):
        out.append(Piece(text[pos:], pos, len(text), None))
    return out


def attribute(text: str, scheme: Scheme, start: int, end: int) -> str | None:
    """Name of the first branch that, matched at ``start``, ends at ``end``; else None."""
    for b in scheme.branches:
        m = compile_v1(b.pattern).match(text, start)
        if m is not None and m.end() == end:
            return b.name
    return None


class Cut:
    """A split in compact form for bulk work: piece end offsets, branches on demand.

    Built either from pieces (:meth:`from_pieces`) or by :func:`tally` from end offsets
    alone; :meth:`within` gives the pieces of a stretch either way.
    """

    def __init__(self, text: str, scheme: Scheme, ends: list[int], pieces: Sequence[Piece] | None = None) -> None:
        self.text, self.scheme, self.ends, self._pieces = text, scheme, ends, pieces
        #: every piece is known to come from a named alternative (no gap, no stray piece)
        self.named = pieces is None or all(p.branch is not None for p in pieces)

    @classmethod
    def from_pieces(cls, text: str, scheme: Scheme, pieces: Sequence[Piece]) -> Cut:
        return cls(text, scheme, [p.end for p in pieces], pieces)

    def texts(self, lo: int, hi: int) -> list[str]:
        """The piece texts of ``text[lo:hi]`` (boundaries of this cut), without branches."""
        i, j = bisect_right(self.ends, lo), bisect_left(self.ends, hi)
        bounds = [lo, *self.ends[i:j + 1]]
        return [self.text[s:e] for s, e in zip(bounds, bounds[1:])]

    def within(self, lo: int, hi: int) -> tuple[Piece, ...]:
        """The pieces of ``text[lo:hi]``; ``lo`` and ``hi`` must be boundaries of this cut."""
        i, j = bisect_right(self.ends, lo), bisect_left(self.ends, hi)
        if self._pieces is not None:
            return tuple(self._pieces[i:j + 1])
        out, start = [], lo
        for end in self.ends[i:j + 1]:
            out.append(Piece(self.text[start:end], start, end, attribute(self.text, self.scheme, start, end)))
            start = end
        return tuple(out)

    def piece_at(self, pos: int) -> tuple[int, int]:
        """``(start, end)`` of the piece holding character ``pos``."""
        i = bisect_right(self.ends, pos)
        return (self.ends[i - 1] if i else 0), self.ends[i]


def tally(text: str, scheme: Scheme, engine: Engine) -> tuple[Cut, Counter, Counter]:
    """A :class:`Cut` plus counts per branch and digit-group lengths, for corpus work.

    On the ``regex`` engine this is one ``findall`` with a group per branch, counted column
    by column in C: about twice as fast as building :class:`Piece` objects.
    """
    if isinstance(engine, RegexEngine) and len(scheme.branches) > 1:
        rows = grouped(scheme).findall(text)
        ends = list(accumulate(map(len, map("".join, rows))))
        if not ends or ends[-1] == len(text):  # no gaps
            # each row holds one non-empty group: its column names the branch (counted in C)
            columns = {name: list(map(itemgetter(k), rows)) for k, name in enumerate(scheme.branch_names)}
            branches = +Counter({name: len(col) - col.count("") for name, col in columns.items()})
            digits = Counter(map(len, columns.get("digits", ())))
            del digits[0]
            return Cut(text, scheme, ends), branches, digits
    found = spans(text, scheme, engine)
    return (Cut.from_pieces(text, scheme, found), Counter(p.branch for p in found),
            Counter(p.end - p.start for p in found if p.branch == "digits"))
