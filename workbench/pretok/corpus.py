"""Corpus statistics: how two schemes cut the same files or strings.

``scan`` splits every source with both schemes and counts what a researcher asks first:
pieces per scheme and per branch, digit-group lengths, Han runs and what the other scheme
glues to them, ``/`` swallowed after line breaks, contractions, the share of lines that
split differently and the most frequent divergence causes with examples.

    >>> r = scan(["我用Python写代码 12345\\n"], a="kimi-k2", b="o200k")
    >>> r.a.digit_groups, r.diverging_lines, r.b.han_glue
    (Counter({3: 1, 2: 1}), 1, Counter({'Han+Latin': 1, 'Latin+Han': 1}))

Large inputs are streamed in chunks cut at boundaries every scheme shares
(:mod:`workbench.pretok.sources`) and spread over all cores; results are the same as
splitting the whole text at once. Strings are texts; path-likes are UTF-8 files.
"""

from __future__ import annotations

import gc
import json
import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import regex

from workbench.pretok.align import Divergence, classified_regions, label
from workbench.pretok.engines import Engine
from workbench.pretok.pieces import Cut, resolve_engine, resolve_scheme, tally
from workbench.pretok.schemes import Scheme
from workbench.pretok.sources import CHUNK_CHARS, Chunk, chunks, source_size

EXAMPLES_PER_CAUSE = 5

_HAN_RUN = regex.compile(r"\p{Han}+")
_LINE_BREAK = regex.compile(r"\n")
_SLASH_SITE = regex.compile(r"[\r\n]/")
_CONTRACTION = regex.compile(r"(?i)(?<=\p{L})'(?:s|t|re|ve|m|ll|d)")
_NEIGHBOUR = regex.compile(
    r"(?P<space>\s)|(?P<digit>\p{N})|(?P<Latin>\p{Latin})|(?P<kana>[\p{Hiragana}\p{Katakana}])"
    r"|(?P<hangul>\p{Hangul})|(?P<mark>\p{M})|(?P<letter>\p{L})|(?P<punct>.)",
    flags=regex.S,
)


def neighbour_kind(ch: str) -> str:
    """What kind of character sits next to a Han run: ``"a" -> "Latin"``, ``"の" -> "kana"``."""
    return _NEIGHBOUR.match(ch).lastgroup


@dataclass
class SchemeStats:
    """Counts for one scheme over the whole corpus."""

    name: str
    pieces: int = 0
    branches: Counter = field(default_factory=Counter)
    digit_groups: Counter = field(default_factory=Counter)
    #: Han run -> what the piece holding it also holds, e.g. ``"space+Han+Latin"``; ``"Han"`` alone.
    han_glue: Counter = field(default_factory=Counter)
    #: ``/`` right after a line break that this scheme keeps in the punctuation piece before it.
    slash_tails: int = 0
    #: contraction suffixes (``'s``, ``'ll`` …) kept on their word vs. cut off as their own piece.
    contractions_attached: int = 0
    contractions_separate: int = 0

    def merge(self, other: SchemeStats) -> None:
        self.pieces += other.pieces
        for name in ("branches", "digit_groups", "han_glue"):
            getattr(self, name).update(getattr(other, name))
        self.slash_tails += other.slash_tails
        self.contractions_attached += other.contractions_attached
        self.contractions_separate += other.contractions_separate


@dataclass
class ScanResult:
    """Statistics of a corpus split by schemes ``a`` and ``b``."""

    a: SchemeStats
    b: SchemeStats
    sources: int = 0
    chars: int = 0
    bytes: int = 0
    lines: int = 0
    han_runs: int = 0
    causes: Counter = field(default_factory=Counter)
    #: cause -> a few examples: source, line, text and both splits.
    examples: dict[str, list[dict]] = field(default_factory=dict)
    #: (source, 0-based line) of every line touched by a divergence
    diverging: set[tuple[str, int]] = field(default_factory=set, repr=False)

    @property
    def diverging_lines(self) -> int:
        return len(self.diverging)

    @property
    def diverging_line_share(self) -> float:
        return self.diverging_lines / self.lines if self.lines else 0.0

    def merge(self, other: ScanResult) -> None:
        self.a.merge(other.a)
        self.b.merge(other.b)
        self.diverging |= other.diverging
        for name in ("chars", "bytes", "lines", "han_runs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.causes.update(other.causes)
        for cause, found in other.examples.items():
            mine = self.examples.setdefault(cause, [])
            mine.extend(found[: EXAMPLES_PER_CAUSE - len(mine)])

    def to_dict(self) -> dict:
        """Plain JSON-ready data (Counter keys become strings)."""
        d = asdict(self)
        del d["diverging"]
        d["diverging_lines"] = self.diverging_lines
        for side in ("a", "b"):
            for name in ("branches", "digit_groups", "han_glue"):
                d[side][name] = {str(k): v for k, v in getattr(self, side).__dict__[name].most_common()}
        d["causes"] = dict(self.causes.most_common())
        d["diverging_line_share"] = self.diverging_line_share
        return d

    def format(self) -> str:
        """The statistics as ``kimi-wb scan`` prints them."""
        from workbench.pretok.show import show_pieces

        lines = [f"{self.sources} files, {self.bytes:,} bytes, {self.chars:,} characters, {self.lines:,} lines",
                 f"lines split differently: {self.diverging_lines:,} ({self.diverging_line_share:.1%})"]
        for side in (self.a, self.b):
            lines += [f"\n{side.name}: {side.pieces:,} pieces",
                      "  branches:     " + ", ".join(f"{k}={v:,}" for k, v in side.branches.most_common()),
                      "  digit groups: " + ", ".join(f"{k}-digit={side.digit_groups[k]:,}" for k in sorted(side.digit_groups)),
                      "  Han runs:     " + ", ".join(f"{k}={v:,}" for k, v in side.han_glue.most_common(6)),
                      f"  '/' after line break kept in punctuation: {side.slash_tails:,}; contractions attached "
                      f"{side.contractions_attached:,}, separate {side.contractions_separate:,}"]
        lines.append("\ndivergences by cause:")
        for cause, n in self.causes.most_common():
            ex = self.examples[cause][0]
            lines.append(f"  {cause:<12} {n:>8,}   e.g. {ex['source']}:{ex['line']} {json.dumps(ex['text'], ensure_ascii=False)}"
                         f"  {show_pieces(ex['a'])} vs {show_pieces(ex['b'])}")
        return "\n".join(lines)

    def tables(self) -> dict:
        """pandas DataFrames for a notebook: branches, digit groups, Han glue, causes."""
        import pandas as pd

        def side_by_side(name: str) -> pd.DataFrame:
            frame = pd.DataFrame({self.a.name: getattr(self.a, name), self.b.name: getattr(self.b, name)})
            return frame.fillna(0).astype(int).sort_index()

        return {
            "branches": side_by_side("branches"),
            "digit_groups": side_by_side("digit_groups"),
            "han_glue": side_by_side("han_glue"),
            "causes": pd.Series(self.causes, name="divergences", dtype=int).sort_values(ascending=False).to_frame(),
        }


def _scheme_stats(name: str, cut: Cut, branches: Counter, digits: Counter,
                  han_runs: list[tuple[int, int]]) -> SchemeStats:
    text = cut.text
    st = SchemeStats(name, pieces=len(cut.ends), branches=branches, digit_groups=digits)
    ends = set(cut.ends)
    st.slash_tails = sum(1 for m in _SLASH_SITE.finditer(text) if m.start() + 1 not in ends)
    for m in _CONTRACTION.finditer(text):
        if m.end() in ends:
            if m.start() in ends:
                st.contractions_separate += 1
            else:
                st.contractions_attached += 1
    for s, e in han_runs:
        first, last = cut.piece_at(s)[0], cut.piece_at(e - 1)[1]
        left = neighbour_kind(text[s - 1]) + "+" if first < s else ""
        right = "+" + neighbour_kind(text[e]) if last > e else ""
        st.han_glue[f"{left}Han{right}"] += 1
    return st


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: a chunk makes ~10^5 acyclic tuples, and GC passes over them cost ~25%."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def scan_chunk(chunk: Chunk, a: Scheme, b: Scheme, engine_a: Engine, engine_b: Engine) -> ScanResult:
    """Statistics of one chunk (the unit of work of a worker process)."""
    with _gc_paused():
        return _scan_chunk(chunk, a, b, engine_a, engine_b)


def _scan_chunk(chunk: Chunk, a: Scheme, b: Scheme, engine_a: Engine, engine_b: Engine) -> ScanResult:
    text = chunk.text
    cut_a, branches_a, digits_a = tally(text, a, engine_a)
    cut_b, branches_b, digits_b = tally(text, b, engine_b)
    han_runs = [m.span() for m in _HAN_RUN.finditer(text)]
    res = ScanResult(
        _scheme_stats(label(a, engine_a), cut_a, branches_a, digits_a, han_runs),
        _scheme_stats(label(b, engine_b), cut_b, branches_b, digits_b, han_runs),
        chars=len(text),
        bytes=len(text.encode("utf-8", "surrogatepass")),
        lines=text.count("\n"),
        han_runs=len(han_runs),
    )
    line_starts: list[int] = []
    for lo, hi, cause in classified_regions(text, cut_a, cut_b, across_engines=engine_a.name != engine_b.name):
        if not line_starts:
            line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
        first, last = bisect_right(line_starts, lo) - 1, bisect_right(line_starts, hi - 1) - 1
        res.diverging.update((chunk.source, chunk.line + n) for n in range(first, last + 1))
        res.causes[cause] += 1
        shown = res.examples.setdefault(cause, [])
        if len(shown) < EXAMPLES_PER_CAUSE:
            d = Divergence(lo, hi, text[lo:hi], cut_a.within(lo, hi), cut_b.within(lo, hi), cause)
            shown.append({"source": chunk.source, "line": chunk.line + first + 1, **d.to_dict()})
    return res


def _scan_chunk_job(args: tuple) -> ScanResult:
    return scan_chunk(*args)


def scan(
    sources: Iterable[str | os.PathLike[str]] | str,
    a: str | Scheme = "kimi-k2",
    b: str | Scheme = "o200k",
    *,
    engine_a: str | Engine = "regex",
    engine_b: str | Engine = "regex",
    errors: str = "strict",
    jobs: int | None = None,
    progress: bool | None = None,
    chunk_chars: int = CHUNK_CHARS,
) -> ScanResult:
    """Split every source with ``a`` and ``b`` and gather statistics.

    ``sources``: texts (``str``) and UTF-8 files (``pathlib.Path`` or other path-likes); a
    single ``str`` is one text. ``errors="replace"`` substitutes U+FFFD for bad bytes
    instead of refusing the file. ``jobs``: worker processes (default: every core; inputs
    of one chunk stay in this process). ``progress``: a tqdm bar (default: for inputs over
    a few MB). ``chunk_chars``: the size of a unit of work (results do not depend on it).
    """
    if isinstance(sources, str):
        sources = [sources]
    sources = list(sources)
    sa, sb = resolve_scheme(a), resolve_scheme(b)
    ea, eb = resolve_engine(engine_a), resolve_engine(engine_b)
    total = sum(source_size(s) for s in sources)
    result = ScanResult(SchemeStats(label(sa, ea)), SchemeStats(label(sb, eb)), sources=len(sources))
    jobs = jobs or os.cpu_count() or 1
    show = progress if progress is not None else total > 4 * chunk_chars

    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc="scan", disable=not show) as bar:
        work = ((c, sa, sb, ea, eb) for c in chunks(sources, errors=errors, size=chunk_chars))
        if jobs == 1 or total <= chunk_chars:
            parts = map(_scan_chunk_job, work)
            for part in parts:
                result.merge(part)
                bar.update(part.bytes)
        else:
            _scan_parallel(work, jobs, result, bar)
    result.lines += _unterminated_lines(sources)
    return result


def _scan_parallel(work: Iterable[tuple], jobs: int, result: ScanResult, bar) -> None:
    """Run chunks on ``jobs`` processes, at most ``2 * jobs`` in flight, merging in order."""
    import multiprocessing as mp

    # fork: workers inherit the loaded modules and never re-run the caller's __main__
    # (spawn/forkserver would, breaking scripts without a main guard and stdin programs)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pending: list[Future] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        for item in work:
            pending.append(pool.submit(_scan_chunk_job, item))
            if len(pending) >= 2 * jobs:
                part = pending.pop(0).result()
                result.merge(part)
                bar.update(part.bytes)
        for fut in pending:
            part = fut.result()
            result.merge(part)
            bar.update(part.bytes)


def _unterminated_lines(sources: Sequence[str | os.PathLike[str]]) -> int:
    """How many sources end without a final line break (their last line has no ``\\n``)."""
    n = 0
    for s in sources:
        if isinstance(s, str):
            n += bool(s) and not s.endswith("\n")
        else:
            with open(s, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell():
                    f.seek(-1, os.SEEK_END)
                    n += f.read(1) != b"\n"
    return n
