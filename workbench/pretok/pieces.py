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

from typing import NamedTuple

from workbench.pretok.engines import ENGINES, Engine, compile_v1
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
