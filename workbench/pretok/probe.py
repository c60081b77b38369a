"""Probe vocabularies: see an engine's pre-token boundaries through the tokens it returns.

llama.cpp, gigatoken and tiktoken hand back token ids, not pre-tokens. But BPE never
merges across a pre-token boundary, so if every pre-token the engine could plausibly make
is *one* token of the vocabulary, token boundaries are piece boundaries. A probe is such a
vocabulary, built for the texts under test from the reference split (the ``regex``
engine, same scheme):

1. all 256 bytes, then every partial UTF-8 prefix of every character of the texts (so a
   character assembles before anything else);
2. every character-aligned substring that lies within ``window`` consecutive reference
   pieces and is at most ``max_chars`` characters long;
3. every prefix of every reference piece up to ``max_piece`` characters (so a reference
   piece longer than ``max_chars`` is one token too).

Ranks: bytes, character prefixes, then strings by length in characters, ties by bytes.
Merges (for llama.cpp, which needs them): every split of a multi-character token into two
character-aligned tokens ``x + y``, plus ``(prefix, next byte)`` inside a character, in
the rank order of the result.

What this observes, exactly and not:

- **Exact** for every engine piece in the vocabulary: one within ``window`` reference pieces
  and at most ``max_chars`` long, or a prefix (≤ ``max_piece``) of a reference piece. Such a
  piece ends as one token whatever the merge order: the short strings are closed under
  substrings, and a prefix can always absorb the token to its right.
- **A token boundary is a real piece boundary** whenever the two tokens on either side
  concatenate to a vocabulary string: BPE would have merged them inside one piece.
- **Seen, but not exactly**: an engine piece outside the vocabulary (it glues more than
  ``window`` reference pieces, or is longer than ``max_chars`` and not a reference-piece
  prefix) comes back as several tokens, whose inner boundaries are reported as boundaries.
  The divergence itself stays visible unless the engine glues two adjacent reference pieces
  that together exceed ``max_chars``: the tokens cannot all be reference pieces, since any
  two adjacent ones within ``max_chars`` would have merged.
- **Not seen**: a cut inside a character (a token boundary there is dropped: the match runs
  on to the next character boundary), and anything the engine does that is not a split
  (normalisation; dropped text: tiktoken drops text no alternative matches, and the probe
  aligns the tokens it gets back by leftmost search, exact unless the dropped text repeats
  the next token).
- **Long texts** are tokenized in segments cut at :data:`workbench.pretok.sources.SAFE_BOUNDARY`,
  the cuts ``scan`` makes for every engine; an engine joining across one is not seen there.

    >>> p = Probe.build(probe_strings("ab cd", SCHEMES["kimi-k2"]))
    >>> p.rank(b"ab cd") > p.rank(b" cd") > p.rank(b"a") == 97
    True

Not here: the engines themselves (:mod:`workbench.pretok.probed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import accumulate, repeat

from workbench.errors import InputError
from workbench.pretok.engines import Match, compile_v1
from workbench.pretok.schemes import SCHEMES, Scheme

WINDOW = 3
MAX_CHARS = 32
MAX_PIECE = 256


def reference_ends(text: str, scheme: Scheme) -> list[int]:
    """Boundaries of the reference split, 0 and ``len(text)`` included: ``"ab cd" -> [0, 2, 5]``.

    Text no alternative matches counts as a piece of its own.
    """
    ends = [0]
    pos = 0
    for m in compile_v1(scheme.pattern).finditer(text):
        if m.start() > pos:
            ends.append(m.start())
        if m.end() > m.start():
            ends.append(m.end())
        pos = m.end()
    if pos < len(text):
        ends.append(len(text))
    return ends


def probe_strings(text: str, scheme: Scheme, *, window: int = WINDOW, max_chars: int = MAX_CHARS,
                  max_piece: int = MAX_PIECE) -> set[str]:
    """The strings a probe for ``text`` holds (steps 2 and 3 of the module docstring)."""
    ends = reference_ends(text, scheme)
    out: set[str] = set()
    last = len(ends) - 1
    for i in range(last):
        lo, hi = ends[i], ends[i + 1]
        reach = ends[min(i + window, last)]
        for s in range(lo, hi):
            stop = min(reach, s + max_chars)
            out.update(text[s:e] for e in range(s + 1, stop + 1))
        if hi - lo > max_chars:  # a long piece: its prefixes, so it can still be one token
            out.update(text[lo:e] for e in range(lo + max_chars + 1, min(hi, lo + max_piece) + 1))
    return out


def check_utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (no UTF-8 form) is refused by position."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"lone surrogate U+{ord(text[e.start]):04X} at index {e.start}: token-based engines "
                         f"take UTF-8 text; drop it or use the 'regex' engine") from None


class Probe:
    """A probe vocabulary: tokens in rank order (see the module docstring).

    ``closed``: strings up to this many characters are known to be closed under substrings
    (:func:`probe_strings` guarantees it for ``max_chars``), so :meth:`merges` need not check them.
    """

    def __init__(self, tokens: Sequence[bytes], strings: set[str], *, closed: int = 0) -> None:
        self.tokens = list(tokens)
        self.strings = strings
        self.closed = closed
        self._rank = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, strings: Iterable[str], *, closed: int = 0) -> Probe:
        """Bytes, then partial character prefixes, then ``strings`` by (characters, bytes)."""
        strings = set(strings)  # holds every character of the texts (substrings of length 1)
        partial = {c.encode("utf-8")[:k] for c in strings if len(c) == 1 for k in range(2, len(c.encode("utf-8")))}
        tail = sorted(s for s in strings if len(s) > 1 or ord(s) > 0x7F)  # code point order = UTF-8 byte order
        tail.sort(key=len)  # stable: by length, then bytes
        return cls([bytes([b]) for b in range(256)] + sorted(partial, key=lambda b: (len(b), b))
                   + [s.encode("utf-8") for s in tail], strings, closed=closed)

    def __len__(self) -> int:
        return len(self.tokens)

    def rank(self, token: bytes) -> int:
        return self._rank[token]

    @property
    def ranks(self) -> dict[bytes, int]:
        """Token bytes -> rank (what tiktoken's ``mergeable_ranks`` takes)."""
        return self._rank

    def merges(self) -> list[tuple[int, int]]:
        """Every merge that makes a token, as ``(rank, byte offset)``, in rank order (for llama.cpp).

        All character splits whose halves are tokens, so any adjacent pair inside a token
        can merge; inside a character, ``(prefix, next byte)``. For ``{a, b, c, ab, bc, abc}``
        the merges of ``abc`` are ``a|bc`` and ``ab|c``: see :meth:`merge_pairs`.
        """
        out: list[tuple[int, int]] = []
        for rank in range(256, len(self.tokens)):
            token = self.tokens[rank]
            try:
                s = token.decode("utf-8")
            except UnicodeDecodeError:  # a partial character
                out.append((rank, len(token) - 1))
                continue
            if len(s) == 1:
                out.append((rank, len(token) - 1))
                continue
            cuts = range(1, len(s))
            if len(s) > self.closed:  # only then may a half be missing
                cuts = [k for k in cuts if s[:k] in self.strings and s[k:] in self.strings]
            if len(s) == len(token):  # ASCII: characters are bytes
                out.extend(zip(repeat(rank), cuts))
            else:
                at = [0, *accumulate(map(len, map(str.encode, s)))]
                out.extend([(rank, at[k]) for k in cuts])
        return out

    def merge_pairs(self) -> list[tuple[bytes, bytes]]:
        """:meth:`merges` as ``(left, right)`` bytes: ``(b"ab", b"c")``."""
        return [(self.tokens[r][:at], self.tokens[r][at:]) for r, at in self.merges()]

    def cuts(self, text: str, data: bytes, ids: Sequence[int]) -> list[Match]:
        """Token ids of ``text`` -> one match per token, by character offset.

        Tokens are aligned to the text by leftmost search from the previous one, so text
        the engine dropped becomes a gap; a token boundary inside a character is not one.
        """
        pieces = [self.tokens[i] for i in ids]
        if sum(map(len, pieces)) == len(data):
            byte_ends = list(accumulate(map(len, pieces)))
            starts = [0, *byte_ends[:-1]]
        else:
            starts, byte_ends, pos = [], [], 0
            for p in pieces:
                at = data.find(p, pos)
                if at < 0:
                    raise InputError(f"tokens do not spell the text {text[:40]!r}: the engine changed it")
                starts.append(at)
                byte_ends.append(at + len(p))
                pos = at + len(p)
        if len(data) == len(text):  # ASCII: bytes are characters
            return [(s, e, None) for s, e in zip(starts, byte_ends) if e > s]
        char_at = {}
        b = 0
        for i, ch in enumerate(text):
            char_at[b] = i
            b += len(ch.encode("utf-8"))
        char_at[b] = len(text)
        out: list[Match] = []
        start = None
        for s, e in zip(starts, byte_ends):
            if start is None and s in char_at:
                start = s
            if start is not None and e in char_at:
                out.append((char_at[start], char_at[e], None))
                start = None
        return out
