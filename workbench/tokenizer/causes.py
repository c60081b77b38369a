"""Why two tokenizer implementations give different ids for a text: the causes, and the evidence for each.

A :class:`Judge` holds the encoders of one comparison (:mod:`workbench.tokenizer.encoders`)
and, for a text two of them encode differently, names the first cause of :data:`CAUSES`
that the evidence shows:

    >>> judge.cause("tiktoken", "llama.cpp", "شكراً")                 # doctest: +SKIP
    'pre-tokenization'

``merges`` and ``pre-tokenization`` rest on one test: is a side's output the *reference
merges* (tiktoken's BPE on a single piece, no split) applied to *its own* pre-tokens? Both
yes: the merges agree and the pieces differ. One no: that side's merges differ (a text with
both faults counts as ``merges``, the rarer and worse one). The text is cut at safe
boundaries (:data:`workbench.pretok.sources.SAFE_BOUNDARY`) first, when both sides encode
the stretches exactly as the whole, and only stretches that differ are tested. Special
tokens a side extracted (its ids say which) count as themselves.

Why a side's *own* pre-tokens, and not "encode each reference piece alone with the other
side": llama.cpp splits a lone piece again (``"شكراً"`` alone is still ``شكرا|ً``), so on the
repository corpus that simpler test fails for every line llama.cpp differs on, and would
blame its merges. Its own pieces come from probe vocabularies, every cut proven (the pretok
``llama.cpp`` engine, :mod:`workbench.pretok.probe`); a text whose cuts stay open has none.

This is evidence about one text, not a proof about an implementation: a side whose split
differs where the vocabulary has no merge across the cut gives the same ids, and no cause.
Not here: running the comparison (``parity``), the encoders themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.encoders import Encoder, LlamaEncoder

#: (cause, meaning), in the order the evidence is tried
CAUSES: tuple[tuple[str, str], ...] = (
    ("error", "an implementation raised on the text"),
    ("special-tokens", "the text holds a special token's string; one side turns it into the special id, the other not"),
    ("normalisation", "an implementation's decode of its own ids is not the text (it normalised or lost characters)"),
    ("merges", "one side's ids are not the reference merges applied to its own pre-tokens"),
    ("pre-tokenization", "both sides are the reference merges on their own pre-tokens, and the pre-tokens differ"),
    ("unknown", "the evidence settles nothing (a pre-token too long to probe, stretches not independent)"),
)
CAUSE_NAMES = tuple(name for name, _ in CAUSES)


def stretches(text: str) -> list[str]:
    """``text`` cut at every safe boundary (where all schemes end a piece): ``"a b\\nc" -> ["a", " b\\n", "c"]``."""
    from workbench.pretok.sources import SAFE_BOUNDARY

    cuts = [0, *(m.start() for m in SAFE_BOUNDARY.finditer(text)), len(text)]
    return [text[i:j] for i, j in zip(cuts, cuts[1:]) if j > i]


def piece_text(token: bytes) -> str:
    """A token's bytes as text, undecodable bytes escaped: ``b"\\xe0\\xa4a" -> "\\\\xe0\\\\xa4a"``."""
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return token.decode("utf-8", errors="backslashreplace")


class Judge:
    """Encodes with every implementation of a comparison and names why two of them differ on a text."""

    def __init__(self, assets: TokenizerAssets, encoders: dict[str, Encoder]) -> None:
        self.encoders = encoders
        self.reference = assets.tiktoken  # its BPE on one piece is "the reference merges"
        self.specials = {t.id: t.content for t in assets.specials.values()}
        self.special_texts = sorted(set(self.specials.values()))
        self.vocab = {i: tok for tok, i in assets.ranks.items()} | {i: c.encode() for i, c in self.specials.items()}

    def ids(self, name: str, text: str) -> tuple[int, ...] | str:
        """The ids, or the error message when the implementation raises."""
        try:
            return self.encoders[name].encode(text)
        except Exception as e:  # one text must not end the whole comparison
            return f"{type(e).__name__}: {e}"

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Each id's token as text: ``[641] -> ["اً"]``."""
        return [piece_text(self.vocab.get(i, f"<id {i}?>".encode())) for i in ids]

    def cause(self, a: str, b: str, text: str) -> str | None:
        """The first cause of :data:`CAUSES` the evidence shows; None when the ids agree."""
        found = self._before_split(a, b, text)
        if not isinstance(found, list):
            return found
        try:
            verdicts = self.explained(a, found) + self.explained(b, found)
        except Exception:  # a split that raises
            return "error"
        return "merges" if False in verdicts else "unknown" if None in verdicts else "pre-tokenization"

    def prefetch(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Probe llama.cpp's pre-tokens of everything :meth:`cause` will ask about ``(a, b, text)``, in batches."""
        need: dict[str, dict[str, None]] = {}
        for a, b, text in items:
            found = self._before_split(a, b, text)
            for x in (a, b) if isinstance(found, list) else ():
                need.setdefault(x, {}).update(dict.fromkeys(found))
        for x, texts in need.items():
            if isinstance(self.encoders[x], LlamaEncoder):  # the others split on demand, cheaply
                self.encoders[x].split(list(texts))

    def _before_split(self, a: str, b: str, text: str) -> str | list[str] | None:
        """None (same ids), a cause shown before pre-tokens matter, or the stretches of ``text`` that differ."""
        ia, ib = self.ids(a, text), self.ids(b, text)
        if ia == ib:
            return None
        if isinstance(ia, str) or isinstance(ib, str):
            return "error"
        if self._special_ids(ia) != self._special_ids(ib) and any(s in text for s in self.special_texts):
            return "special-tokens"
        try:
            if any(self.encoders[x].decode(i) != text for x, i in ((a, ia), (b, ib))):
                return "normalisation"
        except Exception:  # a decode that raises
            return "error"
        parts = stretches(text)
        enc = {x: self.encoders[x].encode for x in (a, b)}
        if len(parts) > 1 and any(sum((enc[x](s) for s in parts), ()) != i for x, i in ((a, ia), (b, ib))):
            parts = [text]  # the stretches do not encode independently here
        return [s for s in parts if enc[a](s) != enc[b](s)] or "unknown"

    def explained(self, name: str, texts: list[str]) -> list[bool | None]:
        """Per text: are ``name``'s ids the reference merges on its own pre-tokens? None: those are unknown.

        Special tokens the implementation extracted (its ids say which) stand for themselves.
        """
        encoder = self.encoders[name]
        segments = [self._segments(t, encoder.encode(t)) for t in texts]
        plain = list(dict.fromkeys(s for segs in segments if segs for s in segs if isinstance(s, str)))
        splits = dict(zip(plain, encoder.split(plain)))
        out: list[bool | None] = []
        for t, segs in zip(texts, segments):
            if segs is None:
                out.append(False)
            elif any(isinstance(s, str) and splits[s] is None for s in segs):
                out.append(None)
            else:
                ids = [i for s in segs for i in ([s] if isinstance(s, int) else self.reference_ids(splits[s]))]
                out.append(tuple(ids) == encoder.encode(t))
        return out

    def reference_ids(self, pieces: Iterable[str]) -> list[int]:
        """The reference merges on each piece, concatenated: tiktoken's BPE on one piece, no split."""
        return [i for p in pieces for i in self.reference._encode_single_piece(p.encode("utf-8"))]

    def _special_ids(self, ids: Sequence[int]) -> list[int]:
        return [i for i in ids if i in self.specials]

    def _segments(self, text: str, ids: Sequence[int]) -> list[str | int] | None:
        """``text`` cut around the special tokens in ``ids``: ``"a<think>b" -> ["a", 4118, "b"]``; None if not there."""
        out: list[str | int] = []
        pos = 0
        for i in self._special_ids(ids):
            at = text.find(self.specials[i], pos)
            if at < 0:
                return None
            out += [text[pos:at], i] if at > pos else [i]
            pos = at + len(self.specials[i])
        return out + [text[pos:]] if pos < len(text) else out

    def note(self, a: str, b: str, cause: str, text: str, splits: dict) -> str:
        """The evidence for ``cause`` on ``text``, in one line; ``splits`` are each side's pre-tokens."""
        ids = {x: self.ids(x, text) for x in (a, b)}
        if cause == "error":
            return "; ".join(f"{x}: {i}" for x, i in ids.items() if isinstance(i, str))
        if cause == "special-tokens":
            return "; ".join(f"{x} makes {[self.specials[i] for i in self._special_ids(ids[x])] or 'no special ids'}"
                             for x in (a, b))
        if cause == "normalisation":
            return "; ".join(self._decoded(x, ids[x], text) for x in (a, b) if self.encoders[x].decode(ids[x]) != text)
        if cause == "merges":
            return "; ".join(f"{x} gives {list(ids[x])}; the reference merges on its pre-tokens {splits.get(x)} give "
                             f"{self.reference_ids(splits[x]) if splits.get(x) is not None else '?'}"
                             for x in (a, b) if self.explained(x, [text]) == [False])
        if cause == "pre-tokenization":
            return f"pre-tokens: {a} {splits.get(a)} · {b} {splits.get(b)}"
        return "the pre-tokens of one side could not be proven"

    def _decoded(self, name: str, ids: Sequence[int], text: str) -> str:
        import unicodedata

        back = self.encoders[name].decode(ids)
        form = next((f for f in ("NFC", "NFKC") if unicodedata.normalize(f, text) == back), None)
        return f"{name} decodes to {back!r}" + (f" (the {form} form of the text)" if form else "")
