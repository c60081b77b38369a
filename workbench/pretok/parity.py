"""Engine parity: does every implementation cut Kimi text like the reference does?

The same texts (corpus lines and fuzzed strings) go through several engines running one
scheme; every pair of engines is compared piece boundary by piece boundary. The report is a
matrix of disagreement rates per pair and, per pair, minimal counterexamples grouped by
cause (:data:`workbench.pretok.causes.CAUSES`), each shrunk with the fuzzer's shrinker:

    >>> r = engine_parity(["regex", "tiktoken", "llama.cpp"], corpus=["data/corpus"], fuzz=2000)  # doctest: +SKIP
    >>> r.matrix()               # engines x engines, share of texts cut differently     # doctest: +SKIP
    >>> r.pairs["regex|llama.cpp"].groups["mark"][0].text                                # doctest: +SKIP
    'شكرا\\u064b'

Engines that see text only through tokens (``llama.cpp``, ``gigatoken``, ``tiktoken``) are
observed through a probe vocabulary (:mod:`workbench.pretok.probe`); they are prepared once
for all texts. Each engine's library and Unicode data version go into the report: older
Unicode tables explain a whole class of differences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from workbench.errors import InputError
from workbench.pretok.align import diff
from workbench.pretok.engines import Engine
from workbench.pretok.fuzz import Counterexample, fuzz_texts, shrink
from workbench.pretok.pieces import resolve_engine, resolve_scheme, spans
from workbench.pretok.schemes import Scheme
from workbench.pretok.sources import corpus_files, corpus_lines

DEFAULT_ENGINES = ("regex", "tokenizers", "tiktoken", "gigatoken", "llama.cpp")


@dataclass
class PairResult:
    """One engine pair over all texts."""

    a: str
    b: str
    texts: int = 0
    differing: int = 0
    #: differing texts by source (``corpus`` / ``fuzz``)
    by_source: Counter = field(default_factory=Counter)
    #: cause -> divergences (stretches) with that cause, over all texts
    causes: Counter = field(default_factory=Counter)
    #: cause -> minimal examples, shortest first
    groups: dict[str, list[Counterexample]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.differing / self.texts if self.texts else 0.0

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "texts": self.texts, "differing": self.differing, "rate": self.rate,
                "by_source": dict(sorted(self.by_source.items())), "causes": dict(self.causes.most_common()),
                "examples": {c: [x.to_dict() for x in xs] for c, xs in self.groups.items()}}


@dataclass
class ParityReport:
    """What :func:`engine_parity` compared and found."""

    scheme: str
    engines: list[str]
    versions: dict[str, dict[str, str]]
    n_corpus: int
    n_fuzz: int
    seed: int
    pairs: dict[str, PairResult]

    def pair(self, a: str, b: str) -> PairResult:
        return self.pairs.get(f"{a}|{b}") or self.pairs[f"{b}|{a}"]

    def matrix(self):
        """A pandas DataFrame, engines x engines: the share of texts the two cut differently."""
        import pandas as pd

        m = pd.DataFrame(0.0, index=self.engines, columns=self.engines)
        for p in self.pairs.values():
            m.loc[p.a, p.b] = m.loc[p.b, p.a] = p.rate
        return m

    def table(self):
        """A pandas DataFrame: one row per minimal example, by pair and cause."""
        import pandas as pd

        rows = [{"pair": f"{p.a} vs {p.b}", "cause": c, "count": p.causes[c], "text": x.text, "a": list(x.a),
                 "b": list(x.b), "source": x.source} for p in self.pairs.values() for c, xs in p.groups.items() for x in xs]
        return pd.DataFrame(rows, columns=["pair", "cause", "count", "text", "a", "b", "source"])

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "engines": self.engines, "versions": self.versions,
                "texts": {"corpus": self.n_corpus, "fuzz": self.n_fuzz}, "seed": self.seed,
                "pairs": {k: p.to_dict() for k, p in self.pairs.items()}}

    def format(self) -> str:
        """The report as terminal text: versions, the rate matrix, then each differing pair's causes, with
        minimal examples for the pairs against the first engine (the reference)."""
        out = [f"scheme {self.scheme}: {self.n_corpus:,} corpus lines + {self.n_fuzz:,} fuzzed strings"]
        for e in self.engines:
            v = self.versions[e]
            out.append(f"  {e:<11} {v['library'] or '?'}; Unicode {v['unicode'] or 'unknown'}")
        width = max(map(len, self.engines)) + 2
        out += ["", "share of texts cut differently:", " " * width + "".join(f"{e:>{width}}" for e in self.engines)]
        m = self.matrix()
        for e in self.engines:
            out.append(f"{e:<{width}}" + "".join(f"{'-' if e == f else format(m.loc[e, f], '.2%'):>{width}}"
                                                for f in self.engines))
        reference = self.engines[0]
        for p in self.pairs.values():
            if not p.differing:
                continue
            out += ["", f"{p.a} vs {p.b}: {p.differing:,} of {p.texts:,} texts cut differently ({p.rate:.2%}), "
                    f"{sum(p.causes.values()):,} divergences by cause: "
                    + ", ".join(f"{c} {n}" for c, n in p.causes.most_common())]
            if reference not in (p.a, p.b):
                continue  # examples against the reference only; the others are in to_dict() / table()
            for cause, xs in p.groups.items():
                for x in xs:
                    out.append(f"  {cause:<16} {x.text!r}: {p.a} {list(x.a)} | {p.b} {list(x.b)}")
        return "\n".join(out)


def nonblank_lines(paths: Iterable[str | Path]) -> list[str]:
    """The non-blank lines (each with its ``\\n``) of UTF-8 files, or of every ``*.txt`` in a folder."""
    return [line for f in corpus_files(list(paths)) for line in corpus_lines(f) if line.strip()]


def engine_versions(engine: Engine) -> dict[str, str]:
    return {"library": engine.version, "unicode": getattr(engine, "unicode_version", "") or ""}


def engine_parity(
    engines: Sequence[str | Engine] = DEFAULT_ENGINES,
    *,
    scheme: str | Scheme = "kimi-k2",
    corpus: Iterable[str | Path] = (),
    texts: Iterable[str] = (),
    fuzz: int = 0,
    seed: int = 0,
    max_len: int = 12,
    examples_per_cause: int = 3,
    progress: bool = False,
) -> ParityReport:
    """Cut every text with every engine and compare each pair; shrink differences to minimal examples."""
    if len(engines) < 2:
        raise InputError("engine parity needs at least two engines")
    if fuzz < 0:
        raise InputError(f"--fuzz must be >= 0, got {fuzz}")
    sch = resolve_scheme(scheme)
    engs = [resolve_engine(e) for e in engines]
    names = [e.name for e in engs]
    if len(set(names)) != len(names):
        raise InputError(f"an engine is named twice: {', '.join(names)}")
    lines = [*texts, *nonblank_lines(corpus)]
    fuzzed = fuzz_texts(fuzz, seed, max_len)
    sources = ["corpus"] * len(lines) + ["fuzz"] * len(fuzzed)
    everything = lines + fuzzed
    if not everything:
        raise InputError("nothing to compare: give texts, --corpus files or --fuzz N")

    from tqdm.auto import tqdm

    ends: dict[str, list[tuple[int, ...]]] = {}
    for e in tqdm(engs, desc="engines", disable=not progress):
        prepare = getattr(e, "prepare", None)
        if prepare is not None:
            prepare(everything, sch)
        ends[e.name] = [tuple(p.end for p in spans(t, sch, e)) for t in everything]

    pairs: dict[str, PairResult] = {}
    for ea, eb in combinations(engs, 2):
        result = PairResult(ea.name, eb.name, texts=len(everything))
        shrinks: Counter = Counter()
        seen: set[tuple[str, str]] = set()
        for i, text in enumerate(everything):
            if ends[ea.name][i] == ends[eb.name][i]:
                continue
            result.differing += 1
            result.by_source[sources[i]] += 1
            found = diff(text, sch, sch, engine_a=ea, engine_b=eb).divergences
            result.causes.update(d.cause for d in found)
            for d in found:
                if shrinks[d.cause] >= 4 * examples_per_cause:
                    continue
                shrinks[d.cause] += 1

                def still(t, c=d.cause, ea=ea, eb=eb):
                    return c in _causes(t, sch, ea, eb)

                # start from the stretch with a little context: shrinking a whole corpus line costs more calls
                start = next((c for c in (text[max(0, d.start - pad):d.end + pad] for pad in (0, 4, 16)) if still(c)), text)
                small = shrink(start, still)
                if (d.cause, small) in seen:
                    continue
                seen.add((d.cause, small))
                a = tuple(p.text for p in spans(small, sch, ea))
                b = tuple(p.text for p in spans(small, sch, eb))
                result.groups.setdefault(d.cause, []).append(Counterexample(small, a, b, d.cause, text, sources[i]))
        for xs in result.groups.values():
            xs.sort(key=lambda x: (len(x.text), x.text))
            del xs[examples_per_cause:]
        result.groups = dict(sorted(result.groups.items(), key=lambda kv: -result.causes[kv[0]]))
        pairs[f"{ea.name}|{eb.name}"] = result
    return ParityReport(sch.name, names, {e.name: engine_versions(e) for e in engs}, len(lines), len(fuzzed), seed,
                        pairs)


def _causes(text: str, scheme: Scheme, a: Engine, b: Engine) -> set[str]:
    return {d.cause for d in diff(text, scheme, scheme, engine_a=a, engine_b=b).divergences}
