"""Fuzz two splitters against each other, shrink what differs, group it by cause.

``find_divergences`` draws random short strings from an alphabet built by Unicode class
(upper/lower/title/modifier letters, kana, hangul, other scripts, Han in its odd corners,
combining marks, digits of several kinds, punctuation, symbols and emoji, every kind of
space and line break, contraction fragments), splits each with both sides, and for every
string that splits differently finds a minimal string that still does: first by deleting
characters, then by replacing each by the plainest member of its class. Results are grouped
by cause (:data:`workbench.pretok.causes.CAUSES`).

    >>> r = find_divergences("kimi-k2", "o200k", budget=300, seed=1)
    >>> "han" in r.groups
    True

Same seed and budget -> the same strings, the same report. Engines that read tokens through
a probe vocabulary (llama.cpp, gigatoken, tiktoken) get one probe per :data:`PREPARE_CHUNK`
strings, built before those strings are tried. Not here: coverage-guided
fuzzing (use atheris on the engines themselves for that).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from workbench.pretok.align import diff, label
from workbench.pretok.engines import Engine
from workbench.pretok.pieces import resolve_engine, resolve_scheme, spans
from workbench.pretok.schemes import Scheme

#: Character classes to draw from: name -> (plainest member first, then the others).
ALPHABET: dict[str, tuple[str, ...]] = {
    "upper": ("A", "Z", "É", "Ω", "Ж"),
    "lower": ("a", "z", "é", "ß", "ω", "ж"),
    "title": ("ǅ", "ǈ", "ǋ", "ᾈ"),
    "modifier": ("ʰ", "ˆ", "ー", "ゝ", "々"),  # 々 is Lm but Script=Han
    "kana": ("の", "あ", "ア", "ｱ"),
    "hangul": ("한", "글"),
    "other-script": ("ع", "א", "ก", "क"),
    "han": ("中", "文", "字", "𠀀", "豈", "〇", "⼀", "⺀", "𮯰", "𱍐"),  # 〇 Nl, ⼀ ⺀ So: all Script=Han
    "mark": ("\u0301", "\u0308", "\u0903", "\u20dd", "\u3099", "\ufe0f"),
    "digit": ("1", "0", "7", "٣", "१", "１"),
    "number": ("²", "½", "①", "Ⅻ"),
    "punct": (".", ",", "!", "?", "-", "(", ")", ":", "\\", "@", "#", "\"", "，", "。", "「", "、"),
    "symbol": ("+", "=", "<", "$", "€", "©", "→", "😀", "🏽", "\u200d"),
    "space": (" ", "\t", "\u00a0", "\u3000", "\u2009", "\u200b", "\ufeff"),
    "newline": ("\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028"),
    "code": ("/", "\n/", "*/\n", "//", "://", "./"),
    "contraction": ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'"),
}

#: strings per probe vocabulary for engines that read tokens (``Engine.prepare``)
PREPARE_CHUNK = 500

#: single character -> the plainest single character of its class (what shrinking swaps in)
_PLAIN = {ch: members[0] for members in ALPHABET.values() for ch in members if len(ch) == len(members[0]) == 1}


@dataclass(frozen=True)
class Counterexample:
    """A minimal string the two sides split differently, the text it was shrunk from, and (in
    the parity report) whether that text came from the corpus or the fuzzer."""

    text: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    cause: str
    original: str
    source: str | None = None  # "corpus" | "fuzz"

    def to_dict(self) -> dict:
        out = {"text": self.text, "a": list(self.a), "b": list(self.b), "cause": self.cause, "original": self.original}
        return out if self.source is None else {**out, "source": self.source}


@dataclass
class FuzzReport:
    """What a fuzzing run tried and found, grouped by cause."""

    a: str
    b: str
    seed: int
    budget: int
    tried: int = 0
    diverged: int = 0
    #: cause -> diverging inputs (before shrinking) with that cause
    counts: Counter = field(default_factory=Counter)
    #: cause -> distinct minimal counterexamples, shortest first
    groups: dict[str, list[Counterexample]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.diverged / self.tried if self.tried else 0.0

    def table(self):
        """A pandas DataFrame: one row per minimal counterexample, by cause."""
        import pandas as pd

        rows = [{"cause": c, "inputs": self.counts[c], "text": x.text, self.a: list(x.a), self.b: list(x.b)}
                for c, xs in self.groups.items() for x in xs]
        return pd.DataFrame(rows, columns=["cause", "inputs", "text", self.a, self.b])

    def format(self) -> str:
        """The minimal divergences by cause, as ``kimi-wb fuzz`` prints them."""
        from workbench.pretok.show import show_pieces

        lines = [f"{self.a} vs {self.b}: {self.diverged:,} of {self.tried:,} random strings split differently "
                 f"({self.rate:.1%}), seed {self.seed}"]
        for cause, found in self.groups.items():
            lines.append(f"\n{cause} ({self.counts[cause]:,} strings, named by their first divergence):")
            lines += [f"  {json.dumps(x.text, ensure_ascii=False):<16} {show_pieces(x.a)} vs {show_pieces(x.b)}"
                      for x in found]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "a": self.a, "b": self.b, "seed": self.seed, "budget": self.budget,
            "tried": self.tried, "diverged": self.diverged, "rate": self.rate,
            "counts": dict(self.counts.most_common()),
            "groups": {c: [x.to_dict() for x in xs] for c, xs in self.groups.items()},
        }


def random_text(rng: random.Random, max_len: int) -> str:
    """A string of 1..``max_len`` draws, each from a random class of :data:`ALPHABET`."""
    classes = list(ALPHABET.values())
    return "".join(rng.choice(rng.choice(classes)) for _ in range(rng.randint(1, max_len)))


def fuzz_texts(n: int, seed: int, max_len: int = 12) -> list[str]:
    """``n`` random strings drawn with ``random.Random(seed)``: the same seed, the same strings."""
    rng = random.Random(seed)
    return [random_text(rng, max_len) for _ in range(n)]


class _Sides:
    """The two splitters under comparison."""

    def __init__(self, a: Scheme, b: Scheme, ea: Engine, eb: Engine) -> None:
        self.a, self.b, self.ea, self.eb = a, b, ea, eb

    def cause(self, text: str) -> str | None:
        """The cause of the first divergence in ``text``; None if both split it alike."""
        found = diff(text, self.a, self.b, engine_a=self.ea, engine_b=self.eb).divergences
        return found[0].cause if found else None

    def prepare(self, texts: list[str]) -> None:
        """Let engines that read tokens through a probe build one probe for all ``texts``."""
        self.ea.prepare(texts, self.a)
        if (self.eb, self.b) != (self.ea, self.a):
            self.eb.prepare(texts, self.b)

    def pieces(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (tuple(p.text for p in spans(text, self.a, self.ea)),
                tuple(p.text for p in spans(text, self.b, self.eb)))


def shrink(text: str, still_fails) -> str:
    """Smallest string found from ``text`` for which ``still_fails`` holds.

    Deletes runs of characters (halves first, then single ones), then replaces each
    character by the plainest member of its class: ``"xx中文English!!" -> "中a"``-like.
    """
    changed = True
    while changed:
        changed = False
        width = max(1, len(text) // 2)
        while width >= 1:
            i = 0
            while i < len(text):
                candidate = text[:i] + text[i + width:]
                if candidate and still_fails(candidate):
                    text, changed = candidate, True
                else:
                    i += 1
            width //= 2
        for i, ch in enumerate(text):
            plain = _PLAIN.get(ch)
            if plain and plain != ch:
                candidate = text[:i] + plain + text[i + 1:]
                if still_fails(candidate):
                    text, changed = candidate, True
    return text


def find_divergences(
    a: str | Scheme = "kimi-k2",
    b: str | Scheme = "o200k",
    *,
    engine_a: str | Engine = "regex",
    engine_b: str | Engine = "regex",
    budget: int = 2000,
    seed: int = 0,
    max_len: int = 12,
    examples_per_cause: int = 5,
    progress: bool = False,
) -> FuzzReport:
    """Try ``budget`` random strings; report minimal divergences grouped by cause."""
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    sides = _Sides(resolve_scheme(a), resolve_scheme(b), resolve_engine(engine_a), resolve_engine(engine_b))
    report = FuzzReport(label(sides.a, sides.ea), label(sides.b, sides.eb), seed, budget)
    rng = random.Random(seed)
    seen: dict[str, set[str]] = {}
    shrinks: Counter = Counter()

    from tqdm.auto import tqdm

    chunk: list[str] = []
    for i in tqdm(range(budget), desc="fuzz", disable=not progress):
        if i % PREPARE_CHUNK == 0:  # draw a chunk ahead (shrinking draws nothing: same strings as one by one)
            chunk = [random_text(rng, max_len) for _ in range(min(PREPARE_CHUNK, budget - i))]
            sides.prepare(chunk)
        text = chunk[i % PREPARE_CHUNK]
        report.tried += 1
        cause = sides.cause(text)
        if cause is None:
            continue
        report.diverged += 1
        report.counts[cause] += 1
        if shrinks[cause] >= 4 * examples_per_cause:  # enough shrinking for this cause
            continue
        shrinks[cause] += 1
        small = shrink(text, lambda t, c=cause: sides.cause(t) == c)
        if small in seen.setdefault(cause, set()):
            continue
        seen[cause].add(small)
        pa, pb = sides.pieces(small)
        report.groups.setdefault(cause, []).append(Counterexample(small, pa, pb, cause, text))
    for found in report.groups.values():
        found.sort(key=lambda x: (len(x.text), x.text))
        del found[examples_per_cause:]
    report.groups = dict(sorted(report.groups.items(), key=lambda kv: -report.counts[kv[0]]))
    return report
