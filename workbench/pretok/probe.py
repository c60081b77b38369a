"""Probe vocabularies: read an engine's pre-token cuts off the tokens it returns, and prove them.

llama.cpp, gigatoken and tiktoken hand back token ids, not pre-tokens. BPE never merges
across a pre-token boundary, and inside a pre-token it stops only when no two neighbouring
tokens have a merge. So with a vocabulary built for the texts under test, a *probe*:

- a position inside a token is **no cut**;
- a boundary between tokens ``x`` and ``y`` that the probe merges into ``x + y`` **is a
  cut** (*proven*): had they been in one pre-token, BPE would have merged them. llama.cpp
  merges what the probe's merge list holds; tiktoken and gigatoken any two tokens that make
  a token;
- any other boundary is *open*: a cut or not, this probe cannot tell.

A probe is made of *chains*: a chain from position ``s`` of a text with reach ``r`` is every
prefix ``text[s:e]``, ``s < e <= r``. The probe holds all 256 bytes, every partial UTF-8
prefix of every character of the texts, every character, and the chains; ranks in that
order, strings by length in characters, ties by bytes. Its merges are ``(prefix, next
byte)`` inside a character and every split of a chain's prefix into two strings of the
probe. The strings are closed under prefixes, so a chain from the start of a pre-token,
once it reaches the pre-token's end, absorbs its neighbours one by one, whatever order BPE
goes in and whatever other tokens form: the pre-token ends as one token. If the chain
reaches across the next token too, the cut after it is proven. In repetitive text every
split is a merge (a run of ``n`` equal characters: ``n²/2``), so a chain stops at
:data:`CHAIN_MERGES` merges (some 256 characters of one repeated character) and no chain of
that text grows longer than that one.

The first probe of a text has a chain from the start of each reference piece (the
``regex`` engine, same scheme) over that piece and the next. Where it leaves boundaries
open, the next probe of that text holds chains only for those: from the start of the token
left of each open boundary, across the token right of it, or :data:`GROWTH` times as far as
that start reached before; and so on, up to ``rounds`` probes, each for all the texts still
open at once. What any probe settled stays settled. Most texts need one probe; a cut
inside a reference piece or a glue of more than two pieces needs another one or two
(``"aAaAaA"``: llama.cpp keeps it whole, the reference has four pieces). The tests check the
result against a probe holding every substring of the text (exact by construction, and
cubic in the text's length).

What this observes, exactly and not:

- **Exact** (:attr:`Seen.exact`): every text no boundary of which stays open. That is every
  text whose engine pieces are at most ``max_piece`` characters (some 256 in a run of one
  repeated character), unless ``rounds`` run out first (a pre-token glued from very many
  reference pieces).
- **Open, still reported**: a longer pre-token comes back as several tokens;
  :attr:`Seen.unproven` lists the boundaries left open, and the engines
  (:mod:`workbench.pretok.probed`) report them as cuts: such a text may be cut too often,
  never too little (tokens never cross a cut). ``ProbeEngine.exact_pieces`` says None for it.
- **Not seen**: a cut inside a character (a token boundary there is dropped: the match runs
  on to the next character boundary, and the boundaries beside it stay open), and anything
  the engine does that is not a split (normalisation; dropped text: tiktoken drops text no
  alternative matches, and the tokens it gets back are aligned by leftmost search, exact
  unless the dropped text repeats the next token; a gap counts as a cut).
- **Long texts** may be tokenized in segments cut at
  :data:`workbench.pretok.sources.SAFE_BOUNDARY` (the engines do past ``segment_chars``, the
  cuts ``scan`` makes for every engine); a join across such a cut is then not seen, and
  "exact" is about the segments.

    >>> p = Probe.build({"a", "b", "ab"})
    >>> p.rank(b"ab") > p.rank(b"b") == 98, p.merge_pairs()
    (True, [(b'a', b'b')])

Not here: the engines themselves (:mod:`workbench.pretok.probed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from workbench.errors import InputError
from workbench.pretok.engines import Match, compile_v1
from workbench.pretok.schemes import Scheme

#: the longest chain: pre-tokens up to this many characters are seen exactly
MAX_PIECE = 1024
#: probes per text at most
ROUNDS = 8
#: a chain probed again reaches this many times as far
GROWTH = 4
#: merges of one chain at most (llama.cpp): in a run of one character every cut of every
#: prefix is a merge, so there a chain stops after some 256 characters
CHAIN_MERGES = 1 << 15
#: prefixes (strings of chains) per probe, about; more texts get more probes
PROBE_SIZE = 100_000

#: ``(probe, texts) -> token ids of each text`` with the probe as the vocabulary
Encode = Callable[["Probe", Sequence[str]], list[list[int]]]


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


def check_utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (no UTF-8 form) is refused by position."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"lone surrogate U+{ord(text[e.start]):04X} at index {e.start}: token-based engines "
                         f"take UTF-8 text; drop it or use the 'regex' engine") from None


@dataclass(frozen=True)
class Seen:
    """What probes showed of one text: matches by character offset, and the boundaries not proven."""

    matches: list[Match]
    #: character offsets of token boundaries that may or may not be cuts (reported as cuts)
    unproven: tuple[int, ...] = ()

    @property
    def exact(self) -> bool:
        return not self.unproven

    def shifted(self, offset: int) -> Seen:
        return Seen([(s + offset, e + offset, b) for s, e, b in self.matches], tuple(x + offset for x in self.unproven))


class Chains:
    """One text's prefix chains, what the tokens of each probe prove, and the chains the next probe needs."""

    def __init__(self, text: str, scheme: Scheme, *, max_piece: int = MAX_PIECE) -> None:
        self.text, self.n, self.max_piece = text, len(text), max_piece
        ends = reference_ends(text, scheme)
        #: start -> reach, the chains of the next probe (``text[s:e]`` for ``s < e <= reach``): at
        #: first from each reference piece over it and the next
        self.active = {s: min(e, s + max_piece) for s, e in zip(ends, [*ends[2:], len(text)])}
        #: start -> the farthest its chain reached so far (less where it stopped at CHAIN_MERGES)
        self.reach = dict(self.active)
        #: the first probe's matches, and its token boundaries no probe has settled yet
        self.first: list[Match] | None = None
        self.open: set[int] = set()
        #: boundaries of the first probe that a later one showed inside a token
        self.joined: set[int] = set()
        #: the longest chain this text can have: ``max_piece``, less where a chain stopped at
        #: :data:`CHAIN_MERGES`
        self.longest = max_piece

    @property
    def size(self) -> int:
        """Prefixes in the next probe's chains: what a probe holding them costs, about."""
        return sum(r - s for s, r in self.active.items())

    def strings(self) -> set[str]:
        """Every character of the text, and every prefix of the chains."""
        text = self.text
        out = set(text)
        for s, r in self.active.items():
            out.update([text[s:e] for e in range(s + 2, r + 1)])
        return out

    def merges(self, strings: set[str], done: set[str]) -> Iterable[tuple[str, int]]:
        """Every split of a chain's prefix into two of ``strings``, as ``(prefix, bytes left of the cut)``.

        ``strings`` (the whole probe's) are closed under prefixes: a cut ``x`` that works for
        ``text[s:e]`` worked for ``text[s:e-1]``, so each prefix only tries the cuts of the one
        before and its last character. A chain stops where its merges pass :data:`CHAIN_MERGES`
        (its reach shrinks to there). ``done``: prefixes whose merges the probe has already
        (a chain that is one of them is skipped); this adds the chains' own.
        """
        text, at = self.text, self.byte_offsets
        for s, r in sorted(self.active.items(), key=lambda sr: sr[0] - sr[1]):  # longest first
            if text[s:r] in done:
                continue
            cuts: list[int] = []
            count = 0
            for e in range(s + 2, r + 1):
                cuts = [x for x in cuts if text[x:e] in strings]
                cuts.append(e - 1)
                count += len(cuts)
                if count > CHAIN_MERGES:
                    self.active[s] = self.reach[s] = e - 1
                    self.longest = min(self.longest, e - 1 - s)
                    break
                prefix = text[s:e]
                done.add(prefix)
                yield from ((prefix, at[x] - at[s]) for x in cuts)

    @cached_property
    def byte_offsets(self) -> Sequence[int]:
        """UTF-8 offset of each character offset: ``"é a" -> [0, 2, 3, 4]``."""
        if self.text.isascii():
            return range(self.n + 1)
        return [0, *accumulate(len(c.encode("utf-8")) for c in self.text)]

    def learn(self, matches: list[Match], whole: Sequence[bool], joins: Callable[[str, int], bool]) -> None:
        """Settle what a probe's tokens show: ``matches`` (``whole``: each is one token).

        A position inside a token is no cut; a boundary between two tokens is one where
        ``joins(token, bytes of its left half)``: the probe merges them into that token.
        """
        text, at = self.text, self.byte_offsets
        proven = {x for (a, x, _), (y, b, _), w1, w2 in zip(matches, matches[1:], whole, whole[1:])
                  if x != y or (w1 and w2 and joins(text[a:b], at[x] - at[a]))}
        if self.first is None:
            self.first = matches
            self.open = {e for _, e, _ in matches[:-1]} - proven
        else:
            bounds = {e for _, e, _ in matches}
            self.joined |= self.open - bounds
            self.open = {x for x in self.open if x in bounds and x not in proven}
        self._latest = matches

    def grow(self) -> bool:
        """Chains for the next probe: the token left of each open boundary reaches across it.

        A new start reaches across the token right of the boundary; a known one reaches
        :data:`GROWTH` times as far, up to :attr:`longest` characters (a boundary beyond that
        stays open). False when the next probe would hold nothing new.
        """
        left = {e: s for s, e, _ in self._latest}
        right = {s: e for s, e, _ in self._latest}
        before, self.active = self.active, {}
        for x in self.open:
            a, b = left.get(x), right.get(x)
            if a is None or b is None or b - a > self.longest:  # a gap; or no chain of this text reaches so far
                continue
            have = self.reach.get(a)
            want = b if have is None else have if have >= b else a + GROWTH * (have - a)
            self.reach[a] = self.active[a] = min(self.n, a + self.longest, max(want, b, have or 0))
        return any(before.get(a) != r for a, r in self.active.items())

    def seen(self) -> Seen:
        """The first probe's matches joined where later probes showed no cut; the boundaries still open."""
        out: list[Match] = []
        for s, e, b in self.first or []:
            if out and s in self.joined:
                out[-1] = (out[-1][0], e, None)
            else:
                out.append((s, e, b))
        return Seen(out, tuple(sorted(self.open)))


class Probe:
    """A probe vocabulary: tokens in rank order, and the merges that make them (see the module docstring)."""

    def __init__(self, strings: Iterable[str], merges: Iterable[tuple[str, int]] | None = None) -> None:
        self.strings = set(strings)  # holds every character of the texts
        partial = {c.encode("utf-8")[:k] for c in self.strings if len(c) == 1
                   for k in range(2, len(c.encode("utf-8")))}
        tail = sorted(s for s in self.strings if len(s) > 1 or ord(s) > 0x7F)  # code point order = UTF-8 byte order
        tail.sort(key=len)  # stable: by length, then bytes
        self.tokens = [bytes([b]) for b in range(256)] + sorted(partial, key=lambda b: (len(b), b)) \
            + [s.encode("utf-8") for s in tail]
        self._tail, self._merges = tail, merges
        #: tokens after the 256 bytes that are one character or part of one
        self.inner = len(partial) + sum(len(s) == 1 for s in tail)
        self._rank = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, strings: Iterable[str], merges: Iterable[tuple[str, int]] | None = None) -> Probe:
        """Bytes, then partial character prefixes, then ``strings`` by (characters, bytes).

        ``strings`` must hold every character of the texts. ``merges``: ``(token, bytes of its
        left half)``, the cut on a character boundary; None: every split of a token into two
        tokens (:meth:`merges`).
        """
        return cls(strings, merges)

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

        Inside a character, ``(prefix, next byte)``; between characters the ``merges`` given
        to :meth:`build`, else every split into two tokens. For ``{a, b, c, ab, bc, abc}``
        the merges of ``abc`` are ``a|bc`` and ``ab|c``: see :meth:`merge_pairs`.
        """
        out = [(r, len(self.tokens[r]) - 1) for r in range(256, 256 + self.inner)]
        if self._merges is None:
            found = {(s, len(s[:k].encode("utf-8"))) for s in self.strings if len(s) > 1 for k in range(1, len(s))
                     if s[:k] in self.strings and s[k:] in self.strings}
        else:
            found = self._merges
        rank = {s: r for r, s in enumerate(self._tail, len(self.tokens) - len(self._tail))}
        out += [(rank[s], at) for s, at in found]
        out.sort()
        return out

    def merge_pairs(self) -> list[tuple[bytes, bytes]]:
        """:meth:`merges` as ``(left, right)`` bytes: ``(b"ab", b"c")``."""
        return [(self.tokens[r][:at], self.tokens[r][at:]) for r, at in self.merges()]

    def read(self, text: str, data: bytes, ids: Sequence[int]) -> tuple[list[Match], list[bool]]:
        """Token ids of ``text`` -> one match per token by character offset, and whether each is one token.

        Tokens are aligned to the text by leftmost search from the previous one, so text the
        engine dropped becomes a gap; tokens that end inside a character join the next into
        one match (not one token).
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
            out = [(s, e, None) for s, e in zip(starts, byte_ends) if e > s]
            return out, [True] * len(out)
        char_at = {}
        b = 0
        for i, ch in enumerate(text):
            char_at[b] = i
            b += len(ch.encode("utf-8"))
        char_at[b] = len(text)
        out: list[Match] = []
        whole: list[bool] = []
        start = None
        for s, e in zip(starts, byte_ends):
            if start is None and s in char_at:
                start, one = s, True
            elif start is not None:
                one = False
            if start is not None and e in char_at:
                out.append((char_at[start], char_at[e], None))
                whole.append(one)
                start = None
        return out, whole


def observe(texts: Sequence[str], scheme: Scheme, encode: Encode, *, merges: bool = True,
            max_piece: int = MAX_PIECE, rounds: int = ROUNDS, probe_size: int = PROBE_SIZE) -> dict[str, Seen]:
    """Probe every text (distinct, non-empty), re-probing what stays unproven (see the module docstring).

    ``encode(probe, texts)`` tokenizes with the probe as the vocabulary; ``merges``: build the
    explicit merges (llama.cpp needs them; tiktoken and gigatoken do not).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for t in texts:
        check_utf8(t)
    chains = {t: Chains(t, scheme, max_piece=max_piece) for t in texts}
    todo = list(chains)
    for round_ in range(rounds):
        again = []
        for text, (matches, whole, joins) in _probe_all([chains[t] for t in todo], encode, merges,
                                                        probe_size).items():
            c = chains[text]
            c.learn(matches, whole, joins)
            if c.open and round_ + 1 < rounds and c.grow():
                again.append(text)
        todo = again
        if not todo:
            break
    return {t: c.seen() for t, c in chains.items()}


def _probe_all(chains: Sequence[Chains], encode: Encode, merges: bool,
               probe_size: int) -> dict[str, tuple[list[Match], list[bool], Callable[[str, int], bool]]]:
    """Tokens of every text, and what its probe joins; chains grouped into probes of about ``probe_size`` prefixes."""
    out: dict[str, tuple[list[Match], list[bool], Callable[[str, int], bool]]] = {}
    group: list[Chains] = []
    size = 0
    for c in [*chains, None]:
        if group and (c is None or size + c.size > probe_size):
            strings = set().union(*(g.strings() for g in group))
            if merges:  # llama.cpp merges what the list says
                done: set[str] = set()
                found = {m for g in group for m in g.merges(strings, done)}

                def joins(token, at, found=found):
                    return (token, at) in found
            else:  # tiktoken and gigatoken merge any two tokens that make a token
                found = ()

                def joins(token, at, strings=strings):
                    return token in strings
            probe = Probe.build(strings, found)
            texts = [g.text for g in group]
            for t, ids in zip(texts, encode(probe, texts)):
                out[t] = (*probe.read(t, t.encode("utf-8"), ids), joins)
            group, size = [], 0
        if c is not None:
            group.append(c)
            size += c.size
    return out
