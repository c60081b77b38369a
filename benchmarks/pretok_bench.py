"""Pre-tokenization throughput: workbench split/scan against a gigatoken anchor.

Measures, on one multilingual text of at least ``--mb`` MB built from ``data/corpus/*.txt``
(written to ``artifacts/bench/corpus.txt``):

1. ``workbench.pretok.split`` for the splitting engines (``regex``, ``tokenizers``) and every
   scheme in ``SCHEMES`` (the probe engines are instruments: ``parity_bench.py`` times them);
2. ``workbench.pretok.scan`` (kimi-k2 vs o200k) on the corpus file, on one process and on
   every core, and the ratio of the all-cores scan to the fastest single-scheme split
   (the goal is >= 0.5);
3. gigatoken, a Rust tokenizer that implements the ``kimi`` and ``o200k`` pre-tokenizers
   natively, as an upper anchor. gigatoken exposes token ids, not pre-token boundaries
   (its ``gigatoken.pretokenizer`` iterator runs only the fixed GPT-2 scheme), so it
   encodes with a probe vocabulary: the 256 single bytes (rank ``i`` = ``bytes([i])``)
   plus the ``--pairs`` most frequent adjacent byte pairs of the corpus's first 4 MB as
   two-byte tokens (nothing is trained; every pair merges two byte tokens). With so small
   a vocabulary the BPE step is nearly free and the time is pre-tokenization plus output.

Throughput is MB/s with MB = 1e6 bytes of UTF-8; each timing is the best of ``--repeat``
(gigatoken calls after one untimed warm-up, which starts its thread pool).

Run from the repository root::

    .venv/bin/python benchmarks/pretok_bench.py [--mb 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from timing import best_of  # benchmarks/, the script's own folder, is on sys.path

from workbench.pretok import SCHEMES, scan, split

ROOT = Path(__file__).resolve().parents[1]

CORPUS_DIR = ROOT / "data" / "corpus"
OUT_DIR = ROOT / "artifacts" / "bench"
#: gigatoken scheme name -> the workbench scheme it implements.
GIGATOKEN_SCHEMES = {"kimi": "kimi-k2", "o200k": "o200k"}
LIBRARIES = ("regex", "tokenizers", "tiktoken", "gigatoken", "tqdm", "numpy")
PAIR_SAMPLE_BYTES = 4_000_000

Row = tuple[str, str, float | None, str]  # (group, what, MB/s or None, note)


def build_corpus(corpus_dir: Path, target_bytes: int) -> str:
    """All ``*.txt`` of ``corpus_dir`` in name order, repeated whole until ``target_bytes``."""
    files = sorted(corpus_dir.glob("*.txt"))
    if not files:
        raise SystemExit(f"no *.txt files in {corpus_dir}; add some text or pass --corpus DIR")
    texts = [f.read_text(encoding="utf-8") for f in files]
    texts = [t if t.endswith("\n") else t + "\n" for t in texts if t]
    if not texts:
        raise SystemExit(f"every *.txt file in {corpus_dir} is empty")
    parts: list[str] = []
    size = 0
    while size < target_bytes:
        for t in texts:
            parts.append(t)
            size += len(t.encode("utf-8"))
            if size >= target_bytes:
                break
    print(f"corpus: {len(files)} files from {corpus_dir}, repeated to {size / 1e6:.2f} MB")
    return "".join(parts)


def mb_per_s(n_bytes: int, seconds: float) -> float:
    return n_bytes / 1e6 / seconds


def bench_split(text: str, n_bytes: int, repeat: int) -> list[Row]:
    """``split`` for every splitting engine x scheme."""
    rows: list[Row] = []
    for engine in ("regex", "tokenizers"):
        for scheme in SCHEMES:
            pieces: list[int] = []

            def run(pieces=pieces, scheme=scheme, engine=engine) -> None:
                pieces[:] = [len(split(text, scheme=scheme, engine=engine))]

            speed = mb_per_s(n_bytes, best_of(run, repeat))
            rows.append(("split", f"{engine} / {scheme}", speed, f"{pieces[0]:,} pieces"))
            print(f"split   {engine:>10} {scheme:>8}: {speed:8.2f} MB/s  ({pieces[0]:,} pieces)")
    return rows


def bench_scan(path: Path, n_bytes: int, repeat: int) -> list[Row]:
    """``scan`` kimi-k2 vs o200k on the corpus file, one process and every core."""
    rows: list[Row] = []
    for jobs, label in ((1, "jobs=1"), (None, f"jobs=None ({os.cpu_count()} cores)")):
        speed = mb_per_s(n_bytes, best_of(
            lambda jobs=jobs: scan([path], a="kimi-k2", b="o200k", jobs=jobs, progress=False), repeat))
        rows.append(("scan", f"kimi-k2 vs o200k, {label}", speed, ""))
        print(f"scan    {label:>24}: {speed:8.2f} MB/s")
    return rows


def write_rank_file(data: bytes, n_pairs: int, path: Path) -> int:
    """A tiktoken rank file: 256 byte tokens, then the ``n_pairs`` most frequent byte pairs."""
    import numpy as np

    ranks = [bytes([i]) for i in range(256)]
    if n_pairs > 0 and len(data) > 1:
        sample = np.frombuffer(data[:PAIR_SAMPLE_BYTES], dtype=np.uint8).astype(np.int64)
        counts = np.bincount(sample[:-1] * 256 + sample[1:], minlength=1 << 16)
        top = np.argsort(-counts, kind="stable")[:n_pairs]
        ranks += [bytes([int(p) >> 8, int(p) & 0xFF]) for p in top if counts[p] > 0]
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for r, t in enumerate(ranks)))
    return len(ranks)


def bench_gigatoken(text: str, path: Path, n_bytes: int, repeat: int, n_pairs: int) -> list[Row]:
    """gigatoken encode with the kimi and o200k schemes on a byte(-pair) probe vocabulary."""
    try:
        import gigatoken as gt
    except ImportError as e:
        print(f"gigatoken: not available ({e}); anchor skipped")
        return [("gigatoken", "(not installed)", None, str(e))]
    rank_file = OUT_DIR / "probe.tiktoken"
    vocab = write_rank_file(path.read_bytes(), n_pairs, rank_file)
    print(f"gigatoken: probe vocabulary {rank_file.relative_to(ROOT)}: {vocab} tokens "
          f"(256 bytes + {vocab - 256} frequent byte pairs)")
    rows: list[Row] = []
    for gt_scheme, wb_scheme in GIGATOKEN_SCHEMES.items():
        try:
            tok = gt.Tokenizer.from_tiktoken(rank_file, pretokenizer=gt_scheme)
        except Exception as e:  # an unknown scheme or a rejected rank file
            print(f"gigatoken {gt_scheme}: cannot load ({type(e).__name__}: {e})")
            rows.append(("gigatoken", f"{gt_scheme} (= {wb_scheme})", None, f"load failed: {e}"))
            continue
        calls: Iterable[tuple[str, Callable[[], Any]]] = (
            ("encode(str)", lambda tok=tok: tok.encode(text)),
            ("encode_files(path)", lambda tok=tok: tok.encode_files([path])),
        )
        for what, fn in calls:
            try:
                fn()  # untimed warm-up: the first call starts gigatoken's thread pool
                speed: float | None = mb_per_s(n_bytes, best_of(fn, repeat))
                note = f"{len(tok.encode(text)):,} tokens" if what == "encode(str)" else "parallel"
            except Exception as e:
                speed, note = None, f"failed: {type(e).__name__}: {e}"
            rows.append(("gigatoken", f"{gt_scheme} (= {wb_scheme}) {what}", speed, note))
            shown = f"{speed:8.2f} MB/s" if speed is not None else note
            print(f"gigatoken {gt_scheme:>6} {what:>19}: {shown}")
    return rows


def bench_gigatoken_pieces(data: bytes, repeat: int) -> list[Row]:
    """``gigatoken.pretokenizer``: the one boundary-level API, GPT-2 scheme only."""
    try:
        from gigatoken import pretokenizer
    except ImportError:
        return []
    n = [0]

    def run() -> None:
        n[0] = sum(1 for _ in pretokenizer(data))

    speed = mb_per_s(len(data), best_of(run, repeat))
    print(f"gigatoken pretokenizer (gpt2 scheme, pieces): {speed:8.2f} MB/s  ({n[0]:,} pieces); "
          "no piece-level API exists for kimi/o200k")
    return [("gigatoken", "pretokenizer(bytes), gpt2 scheme only", speed, f"{n[0]:,} pieces")]


def scan_ratios(split_rows: list[Row], scan_rows: list[Row]) -> list[tuple[str, float]]:
    """All-cores scan over the fastest split: of any scheme, and of the two schemes scanned."""
    scanned = {"kimi-k2", "o200k"}
    all_cores = scan_rows[-1][2] or 0.0
    out = []
    for title, rows in (("(any scheme)", split_rows),
                        ("(kimi-k2/o200k)", [r for r in split_rows if r[1].split(" / ")[1] in scanned])):
        best = max(rows, key=lambda r: r[2] or 0.0)
        out.append((f"{title} [{best[1]}]", all_cores / (best[2] or float("inf"))))
    return out


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_table(rows: list[Row], ratios: list[tuple[str, float]], text_chars: int, n_bytes: int) -> None:
    print("\n## Pre-tokenization throughput\n")
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}, "
          f"Python {platform.python_version()}")
    print("libraries: " + ", ".join(f"{d} {version(d)}" for d in LIBRARIES))
    print(f"input: {n_bytes / 1e6:.2f} MB UTF-8, {text_chars:,} chars\n")
    width = max(len(what) for _, what, _, _ in rows)
    print(f"| {'group':<9} | {'what':<{width}} | {'MB/s':>9} | note")
    print(f"|{'-' * 11}|{'-' * (width + 2)}|{'-' * 11}|------")
    for group, what, speed, note in rows:
        shown = f"{speed:9.2f}" if speed is not None else f"{'n/a':>9}"
        print(f"| {group:<9} | {what:<{width}} | {shown} | {note}")
    print()
    for baseline, ratio in ratios:
        verdict = "meets" if ratio >= 0.5 else "misses"
        print(f"scan (all cores) / fastest split {baseline} = {ratio:.2f}  ({verdict} the 0.5 goal)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, default=10, help="corpus size in MB (1e6 bytes), default 10")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept; default 3")
    p.add_argument("--pairs", type=int, default=256,
                   help="frequent byte pairs added to gigatoken's byte vocabulary (0: bytes only)")
    p.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder of *.txt (default data/corpus)")
    args = p.parse_args(argv)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = build_corpus(args.corpus, int(args.mb * 1e6))
    path = OUT_DIR / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    data = path.read_bytes()
    n_bytes = len(data)
    print(f"wrote {path.relative_to(ROOT)}: {n_bytes / 1e6:.2f} MB, {len(text):,} chars\n")

    split_rows = bench_split(text, n_bytes, args.repeat)
    scan_rows = bench_scan(path, n_bytes, args.repeat)
    giga_rows = bench_gigatoken(text, path, n_bytes, args.repeat, args.pairs)
    giga_rows += bench_gigatoken_pieces(data, args.repeat)

    print_table(split_rows + scan_rows + giga_rows, scan_ratios(split_rows, scan_rows), len(text), n_bytes)


if __name__ == "__main__":
    main()
