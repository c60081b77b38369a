"""llama.cpp's pre-token split of a text, read through a probe vocabulary.

llama.cpp cuts Kimi text with a hand-written splitter (``src/unicode.cpp``,
``unicode_regex_split_custom_kimi_k2``) that no binding exposes: only token ids come out,
and with a real vocabulary a token boundary may be a pre-token cut or just a merge the
vocabulary lacks. A *probe vocabulary* removes the doubt. For the texts to split it holds
every run of characters of each text (up to a width) as a token, with a merge for every way
to cut that run in two, plus the byte merges inside each character. BPE on it can always
join two neighbours in one pre-token, whatever order it goes in, so it ends with one token
per pre-token: llama.cpp's tokens *are* its pre-tokens. Its splitter depends on
``tokenizer.ggml.pre`` only, not on the vocabulary, so the probe sees the same cuts.

    >>> with tempfile.TemporaryDirectory() as d:                  # doctest: +SKIP
    ...     LlamaSplitter(d).split(["ChatGPT ريالاً"])
    [('ChatGPT', ' ريالا', 'ً')]

The regex cuts ``Chat|GPT`` and keeps the mark in its word; llama.cpp's splitter does neither.

Cost: a text of ``m`` characters needs about ``m·width²/2`` merges; one GGUF write and one
``vocab_only`` load per batch (~10 ms for a few words, ~1 s for 150,000 merges). A cut between two tokens that
together exceed ``width`` characters is not proven by the probe; it is settled when a token
of the real vocabulary spans it (tokens never cross pre-tokens, so it is no cut). What stays
open is probed again wider (``widths``), at last at full width if the text has at most
``max_chars`` characters; else its split is ``None`` (unknown).
Not here: HF and tiktoken (they expose their split directly), tokenizer types other than
byte-level BPE (``tokenizer.ggml.model = gpt2``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path

#: merges per probe GGUF before a batch is cut in two
MAX_MERGES = 200_000


def probe_vocab(texts: Iterable[str], width: int) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """Tokens (bytes, by id) and merges (by rank) that join every run of ``texts`` up to ``width`` chars.

    ``(["ab"], 2) -> ([b"\\x00", …, b"\\xff", b"ab"], [(b"a", b"b")])``
    """
    texts = list(texts)
    tokens: dict[bytes, None] = {bytes([b]): None for b in range(256)}
    merges: dict[tuple[bytes, bytes], None] = {}
    for ch in sorted({c for t in texts for c in t}):  # bytes inside a character first: the lowest ranks
        b = ch.encode("utf-8")
        for n in range(2, len(b) + 1):
            for i in range(len(b) - n + 1):
                tokens[b[i:i + n]] = None
                merges.update(((b[i:i + k], b[i + k:i + n]), None) for k in range(1, n))
    for n in range(2, width + 1):  # then runs of characters, shortest first
        for t in texts:
            for i in range(len(t) - n + 1):
                run = t[i:i + n]
                tokens[run.encode("utf-8")] = None
                merges.update(((run[:k].encode("utf-8"), run[k:].encode("utf-8")), None) for k in range(1, n))
    return list(tokens), list(merges)


def write_probe_gguf(path: Path, tokens: list[bytes], merges: list[tuple[bytes, bytes]], *, pre: str) -> Path:
    """A vocab-only GGUF with ``tokens`` (all NORMAL) and ``merges``, pre-tokenizer ``pre``."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    from workbench.tokenizer.gguf_vocab import add_minimal_hparams

    table = bytes_to_unicode()  # GPT-2 byte-level spelling, applied to latin-1 text (one char per byte)

    def spell(token: bytes) -> str:
        return token.decode("latin-1").translate(table)

    w = gguf.GGUFWriter(path, arch="deepseek2")
    add_minimal_hparams(w, len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list([spell(t) for t in tokens])
    w.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    w.add_token_merges([f"{spell(a)} {spell(b)}" for a, b in merges])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


class LlamaSplitter:
    """llama.cpp's pre-tokens of texts (``pre`` = its ``tokenizer.ggml.pre``), probed and cached."""

    def __init__(self, folder: str | os.PathLike[str], *, pre: str = "kimi-k2", vocab=None,
                 widths: tuple[int, ...] = (12, 24), max_chars: int = 96) -> None:
        self.folder, self.pre, self.vocab, self.widths, self.max_chars = Path(folder), pre, vocab, widths, max_chars
        self._cache: dict[str, tuple[str, ...] | None] = {}
        self.probes = 0

    def split(self, texts: Iterable[str]) -> list[tuple[str, ...] | None]:
        """Each text's pre-tokens as llama.cpp cuts it; None where a cut cannot be proven."""
        texts = list(texts)
        unsure = [t for t in dict.fromkeys(texts) if t and t not in self._cache]
        for width in self.widths:  # narrow probes first; wider ones only for what they left open
            unsure = self._probe(unsure, width)
        last = [t for t in unsure if len(t) <= self.max_chars]
        for t in self._probe(last, None) + [t for t in unsure if len(t) > self.max_chars]:
            self._cache[t] = None
        return [self._cache[t] if t else () for t in texts]

    def _probe(self, texts: list[str], width: int | None) -> list[str]:
        """Probe ``texts`` in batches of at most :data:`MAX_MERGES` merges; returns those left unproven."""
        unsure, batch, cost = [], [], 0
        for t in texts:
            w = len(t) if width is None else min(width, len(t))
            need = len(t) * w * w // 2
            if batch and cost + need > MAX_MERGES:
                unsure += self._probe_batch(batch, width)
                batch, cost = [], 0
            batch.append(t)
            cost += need
        return unsure + (self._probe_batch(batch, width) if batch else [])

    def _probe_batch(self, texts: list[str], width: int | None) -> list[str]:
        from workbench.tokenizer.gguf_vocab import llama_vocab

        w = max(map(len, texts)) if width is None else width
        tokens, merges = probe_vocab(texts, w)
        path = write_probe_gguf(self.folder / f"probe-{self.probes}.gguf", tokens, merges, pre=self.pre)
        self.probes += 1
        llama = llama_vocab(path)
        unsure = []
        try:
            for t in texts:
                try:
                    pieces = tuple(tokens[i].decode("utf-8") for i in llama.tokenize(t.encode("utf-8"), add_bos=False,
                                                                                         special=False))
                except UnicodeDecodeError:  # a token inside a character: not a pre-token split
                    unsure.append(t)
                    continue
                pieces = self._settle(t, pieces, w)
                if pieces is None:
                    unsure.append(t)
                else:
                    self._cache[t] = pieces
        finally:
            llama.close()
            path.unlink(missing_ok=True)
        return unsure

    def _settle(self, text: str, pieces: tuple[str, ...], width: int) -> tuple[str, ...] | None:
        """``pieces`` with the cuts it cannot prove settled, or None.

        A cut between two probe tokens longer than ``width`` together is unproven (the probe had
        no token to join them). It is no cut where a token of the real vocabulary (``vocab``)
        spans it, since tokens never cross pre-tokens; otherwise it stays open.
        """
        if "".join(pieces) != text:
            return None
        ends = list(accumulate(map(len, pieces)))
        unproven = {e for (x, y), e in zip(zip(pieces, pieces[1:]), ends) if len(x) + len(y) > width}
        if not unproven:
            return pieces
        if self.vocab is None:
            return None
        real = set(accumulate(len(self.vocab.detokenize([i])) for i in
                              self.vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False)))
        if any(len(text[:e].encode("utf-8")) in real for e in unproven):
            return None
        cuts = [0, *(e for e in ends if e not in unproven)]
        return tuple(text[i:j] for i, j in zip(cuts, cuts[1:]))
