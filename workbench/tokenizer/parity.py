"""Token-id parity: the same texts through tiktoken, HF ``tokenizers`` and llama.cpp, compared id by id.

The reference is tiktoken on the assets' ranks and pattern, what Moonshot's
``tokenization_kimi.py`` runs. Each text — every line of the corpus files (its ``\\n``
included), explicit ``texts``, and ``fuzz`` random strings from
:func:`workbench.pretok.fuzz.random_text` — is encoded by every implementation
(:mod:`workbench.tokenizer.encoders`) and each pair is compared: texts that differ, and ids
that change (those outside the blocks ``difflib`` matches between the two id sequences). Each
differing text gets a cause from :data:`CAUSES` (:mod:`workbench.tokenizer.causes`), and
per pair and cause the shortest differing texts are shrunk (:func:`workbench.pretok.fuzz.shrink`,
keeping the cause) into minimal examples with each implementation's ids, tokens and pre-tokens.

What is compared:

- texts are encoded as *plain text* by default: tiktoken with no special token allowed,
  HF with ``encode_special_tokens=True``, llama.cpp with ``special=False``. HF and llama.cpp
  still turn ``<think>``, ``</think>`` and the tool-call markers into their ids (not flagged
  special: HF added tokens, GGUF ``USER_DEFINED``); tiktoken does not. Such texts get the
  cause ``special-tokens``. ``special=True`` parses special tokens in all three.
- llama.cpp runs on a GGUF's own file; folder assets get a vocab-only GGUF written for the
  run (:func:`workbench.tokenizer.gguf_vocab.write_vocab_gguf`: ``pre = kimi-k2``, one
  merge per rank), so there it is llama.cpp on that conversion. ``report.compared`` says which.

    >>> report = token_parity(load("artifacts/kimi-tiny-vocab"), fuzz=2000)   # doctest: +SKIP
    >>> report.pair("tiktoken", "llama.cpp").causes                              # doctest: +SKIP
    Counter({'pre-tokenization': 128})
    >>> print(report.format())                                                  # doctest: +SKIP

Same inputs and seed -> the same report. Not here: chat-template parity
(``workbench.chat.parity``), speed, a verdict on which side is right beyond "the reference".
"""

from __future__ import annotations

import difflib
import os
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from workbench.errors import InputError
from workbench.pretok.sources import corpus_files, corpus_lines
from workbench.tokenizer.assets import IMPLS, TokenizerAssets
from workbench.tokenizer.causes import CAUSE_NAMES, CAUSES, Judge, stretches

__all__ = ["CAUSES", "Example", "PairStats", "TokenParityReport", "token_parity"]

REFERENCE = "tiktoken"
#: longest random string (in draws from the fuzz alphabet), as in ``find_divergences``
FUZZ_MAX_LEN = 12


@dataclass
class PairStats:
    """One pair of implementations over all texts."""

    a: str
    b: str
    texts: int = 0
    differ: int = 0
    tokens_a: int = 0
    tokens_b: int = 0
    #: ids of each side outside the blocks difflib matches between the two
    changed_a: int = 0
    changed_b: int = 0
    causes: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.differ / self.texts if self.texts else 0.0

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "texts": self.texts, "differ": self.differ, "rate": round(self.rate, 6),
                "tokens": {self.a: self.tokens_a, self.b: self.tokens_b},
                "changed_ids": {self.a: self.changed_a, self.b: self.changed_b},
                "causes": {c: self.causes[c] for c in CAUSE_NAMES if self.causes[c]}}


@dataclass
class Example:
    """A minimal text a pair disagrees on, with every implementation's ids, tokens and pre-tokens."""

    a: str
    b: str
    cause: str
    text: str
    #: the differing text it was shrunk from, and where that came from (``rtl.txt:77``, ``fuzz 5``)
    original: str
    origin: str
    ids: dict[str, list[int]]
    pieces: dict[str, list[str]]
    #: each implementation's own pre-tokens of ``text`` (None: not known)
    splits: dict[str, list[str] | None]
    #: the evidence for the cause, in one line
    note: str

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "cause": self.cause, "text": self.text, "original": self.original,
                "origin": self.origin, "ids": self.ids, "pieces": self.pieces, "splits": self.splits,
                "note": self.note}


@dataclass
class TokenParityReport:
    """Token-id parity of several implementations on one set of texts."""

    impls: tuple[str, ...]
    special: bool
    #: what was encoded: counts of explicit texts, corpus files and lines, fuzz strings and seed
    sources: dict
    pairs: list[PairStats]
    #: ``(a, b, origin, cause)`` for every differing text of every pair
    differing: list[tuple[str, str, str, str]]
    examples: list[Example]
    #: library -> version (llama.cpp's own build where the library tells it)
    versions: dict[str, str]
    #: implementation -> what exactly ran
    compared: dict[str, str]
    reference: str = REFERENCE

    def pair(self, a: str, b: str) -> PairStats:
        for p in self.pairs:
            if {p.a, p.b} == {a, b}:
                return p
        raise KeyError(f"no pair {a!r} / {b!r}; pairs: {', '.join(f'{p.a} / {p.b}' for p in self.pairs)}")

    def examples_for(self, a: str, b: str, cause: str | None = None) -> list[Example]:
        return [e for e in self.examples if {e.a, e.b} == {a, b} and cause in (None, e.cause)]

    def to_dict(self) -> dict:
        return {"reference": self.reference, "impls": list(self.impls), "special": self.special,
                "sources": self.sources, "compared": self.compared, "causes": dict(CAUSES),
                "pairs": [p.to_dict() for p in self.pairs],
                "differing": [{"a": a, "b": b, "origin": o, "cause": c} for a, b, o, c in self.differing],
                "examples": [e.to_dict() for e in self.examples], "versions": self.versions}

    def format(self, *, width: int = 100) -> str:
        """The report as plain text lines: the pairs table, minimal examples by pair and cause, versions."""
        s = self.sources
        mode = "special tokens parsed" if self.special else "plain text (special tokens not parsed)"
        lines = [f"token parity · reference {self.reference} · {mode}",
                 f"inputs: {_n(s['corpus_lines'], 'corpus line')} ({_n(len(s['corpus']), 'file')}), "
                 f"{_n(s['texts'], 'text')}, {_n(s['fuzz'], 'fuzz string')} (seed {s['seed']})", "",
                 f"{'pair':<22} {'texts':>7} {'differ':>7} {'rate':>7}  {'tokens a / b':>17}  {'ids changed a / b':>17}"
                 "  causes"]
        for p in self.pairs:
            causes = ", ".join(f"{c} {n:,}" for c, n in p.to_dict()["causes"].items()) or "-"
            lines.append(f"{p.a + ' / ' + p.b:<22} {p.texts:>7,} {p.differ:>7,} {p.rate:>7.2%}  "
                         f"{f'{p.tokens_a:,} / {p.tokens_b:,}':>17}  {f'{p.changed_a:,} / {p.changed_b:,}':>17}  {causes}")
        group = None
        for e in self.examples:
            if group != (e.a, e.b, e.cause):
                group = (e.a, e.b, e.cause)
                lines += ["", f"{e.a} / {e.b} · {e.cause}: {_n(self.pair(e.a, e.b).causes[e.cause], 'text')}"]
            lines.append(f"  {e.text!r}  (from {e.origin})")
            for name in self.impls:
                shown = " ".join(_quote(x) for x in e.pieces[name])
                lines.append(_clip(f"    {name:<10} {e.ids[name]}  {shown}", width))
            lines.append(_clip(f"    {e.note}", width))
        lines += ["", "compared:", *(f"  {n}: {what}" for n, what in self.compared.items())]
        lines.append("versions: " + " · ".join(f"{k} {v}" for k, v in self.versions.items()))
        return "\n".join(lines)

    def table(self):
        """A pandas DataFrame: one row per pair; counts, rate, and one column per cause."""
        import pandas as pd

        rows = [{"a": p.a, "b": p.b, "texts": p.texts, "differ": p.differ, "rate": p.rate, "tokens_a": p.tokens_a,
                 "tokens_b": p.tokens_b, "changed_a": p.changed_a, "changed_b": p.changed_b,
                 **{c: p.causes[c] for c in CAUSE_NAMES}} for p in self.pairs]
        return pd.DataFrame(rows, columns=["a", "b", "texts", "differ", "rate", "tokens_a", "tokens_b", "changed_a",
                                           "changed_b", *CAUSE_NAMES])


# --- inputs -------------------------------------------------------------------------------------


def _check_impls(impls: Iterable[str]) -> tuple[str, ...]:
    """Known, distinct, at least two; in the fixed order of ``IMPLS`` (reference first)."""
    names = tuple(dict.fromkeys([impls] if isinstance(impls, str) else impls))
    for n in names:
        if n not in IMPLS:
            raise InputError(f"unknown implementation {n!r}; valid: {', '.join(IMPLS)}")
    if len(names) < 2:
        raise InputError(f"token parity compares at least two implementations, got {', '.join(names) or 'none'}; "
                         f"valid: {', '.join(IMPLS)}")
    return tuple(n for n in IMPLS if n in names)


def _inputs(texts: list[str], files: list[Path], fuzz: int, seed: int, errors: str) -> list[tuple[str, str]]:
    """``(origin, text)`` for the explicit texts, the corpus lines and the fuzz strings, in that order."""
    from workbench.pretok.fuzz import fuzz_texts

    out = [(f"text {i}", t) for i, t in enumerate(texts)]
    for f in files:
        out += [(f"{f.name}:{n}", line) for n, line in enumerate(corpus_lines(f, errors=errors), 1)]
    out += [(f"fuzz {i}", t) for i, t in enumerate(fuzz_texts(fuzz, seed, FUZZ_MAX_LEN))]
    for origin, t in out:
        if not isinstance(t, str):
            raise InputError(f"{origin}: expected a str, got {type(t).__name__}")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(f"{origin}: not encodable as UTF-8 ({e.reason} at character {e.start})") from e
    return out


# --- the run ------------------------------------------------------------------------------------


def token_parity(
    assets: TokenizerAssets,
    texts: Iterable[str] | None = None,
    *,
    corpus: Iterable[str | os.PathLike[str]] | None = None,
    fuzz: int = 0,
    seed: int = 0,
    impls: Iterable[str] = IMPLS,
    examples_per_cause: int = 5,
    special: bool = False,
    errors: str = "strict",
    progress: bool = False,
) -> TokenParityReport:
    """Encode every text with every implementation, compare each pair, name and shrink the differences.

    ``texts`` and ``corpus`` (files, or folders of ``*.txt``) are what to encode; with
    neither, the repository's ``data/corpus``. ``fuzz`` adds that many random strings drawn
    with ``seed``. ``special=False`` encodes plain text (see the module docstring);
    ``errors="replace"`` reads undecodable corpus bytes as U+FFFD instead of refusing them.

        >>> token_parity(assets, ["شكراً"], impls=("tiktoken", "llama.cpp")).differing   # doctest: +SKIP
        [('tiktoken', 'llama.cpp', 'text 0', 'pre-tokenization')]
    """
    from tqdm.auto import tqdm

    from workbench.tokenizer.encoders import open_encoders, versions
    from workbench.tokenizer.train import DEFAULT_CORPUS

    names = _check_impls(impls)
    if fuzz < 0 or examples_per_cause < 0:
        raise InputError(f"fuzz and examples_per_cause must be >= 0, got {fuzz} and {examples_per_cause}")
    if errors not in ("strict", "replace"):
        raise InputError(f"errors must be 'strict' or 'replace', got {errors!r}")
    files = corpus_files(corpus if corpus is not None else [] if texts is not None else [DEFAULT_CORPUS])
    explicit = [texts] if isinstance(texts, str) else list(texts or [])
    inputs = _inputs(explicit, files, fuzz, seed, errors)
    pairs = [PairStats(a, b) for a, b in combinations(names, 2)]
    differing: list[tuple[PairStats, str, str]] = []
    found: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    examples: list[Example] = []
    rows: list[tuple[str, str, str, str]] = []
    with ExitStack() as stack:
        encoders, compared = open_encoders(assets, names, special=special, stack=stack)
        judge = Judge(assets, encoders)
        for origin, text in tqdm(inputs, desc="token parity", unit="text", disable=not progress):
            ids = {n: judge.ids(n, text) for n in names}
            differing += [(p, text, origin) for p in pairs if _count(p, ids[p.a], ids[p.b])]
        judge.prefetch((p.a, p.b, text) for p, text, _ in differing)  # llama.cpp's pre-tokens, probed in batches
        for p, text, origin in tqdm(differing, desc="causes", unit="text", disable=not progress):
            cause = judge.cause(p.a, p.b, text)
            p.causes[cause] += 1
            rows.append((p.a, p.b, origin, cause))
            found.setdefault((p.a, p.b, cause), []).append((text, origin))
        tasks = sorted(found.items(), key=lambda kv: (names.index(kv[0][0]), names.index(kv[0][1]),
                                                      CAUSE_NAMES.index(kv[0][2])))
        for (a, b, cause), cands in tqdm(tasks if examples_per_cause else [], desc="shrink", disable=not progress):
            examples += _examples(judge, a, b, cause, cands, examples_per_cause)
    sources = {"texts": len(explicit), "corpus": [f.name for f in files],
               "corpus_lines": len(inputs) - len(explicit) - fuzz, "fuzz": fuzz, "seed": seed}
    return TokenParityReport(names, special, sources, pairs, rows, examples, versions(names), compared)


def _count(p: PairStats, ia, ib) -> bool:
    """Add one text's ids (or error messages) to a pair's counts; True when they differ."""
    p.texts += 1
    p.differ += ia != ib
    if isinstance(ia, str) or isinstance(ib, str):
        return ia != ib
    p.tokens_a += len(ia)
    p.tokens_b += len(ib)
    if ia != ib:
        same = sum(m.size for m in difflib.SequenceMatcher(None, ia, ib, autojunk=False).get_matching_blocks())
        p.changed_a += len(ia) - same
        p.changed_b += len(ib) - same
    return ia != ib


def _examples(judge: Judge, a: str, b: str, cause: str, cands: list[tuple[str, str]], n: int) -> list[Example]:
    """Up to ``n`` distinct minimal examples, shrunk from the shortest ``2n`` differing texts."""
    small: dict[str, tuple[str, str]] = {}
    for text, origin in sorted(cands, key=lambda c: (len(c[0]), c[0]))[:2 * n]:
        small.setdefault(_minimal(judge, a, b, cause, text), (text, origin))
    picked = sorted(small.items(), key=lambda kv: (len(kv[0]), kv[0]))[:n]
    return [_example(judge, a, b, cause, text, original, origin) for text, (original, origin) in picked]


def _minimal(judge: Judge, a: str, b: str, cause: str, text: str) -> str:
    """The smallest text found from ``text`` that ``a`` and ``b`` still encode apart for ``cause``.

    The shortest stretch of ``text`` that still does is tried first: shrinking a word is
    much cheaper than shrinking its line.
    """
    from workbench.pretok.fuzz import shrink

    def fails(t: str) -> bool:
        return bool(t) and judge.cause(a, b, t) == cause

    parts = sorted(set(stretches(text)) - {text}, key=lambda s: (len(s), s))
    return shrink(next((s for s in parts if fails(s)), text), fails)


def _example(judge: Judge, a: str, b: str, cause: str, text: str, original: str, origin: str) -> Example:
    ids, pieces, splits = {}, {}, {}
    for name, encoder in judge.encoders.items():
        got = judge.ids(name, text)
        ids[name] = [] if isinstance(got, str) else list(got)
        pieces[name] = [got] if isinstance(got, str) else judge.pieces(got)
        try:
            found = encoder.split([text])[0]
        except Exception:  # an example shows what it can
            found = None
        splits[name] = list(found) if found is not None else None
    return Example(a, b, cause, text, original, origin, ids, pieces, splits, judge.note(a, b, cause, text, splits))


def _n(count: int, noun: str) -> str:
    """``(1, "text") -> "1 text"``, ``(2_248, "line") -> "2,248 lines"``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _quote(piece: str) -> str:
    """A token piece quoted like ``repr``, its escaped bytes (``\\xe0``) shown once, not doubled."""
    return repr(piece).replace("\\\\x", "\\x")


def _clip(line: str, width: int) -> str:
    """``line`` cut to ``width`` characters, with an ellipsis when cut."""
    return line if len(line) <= width else line[:width - 1] + "…"
