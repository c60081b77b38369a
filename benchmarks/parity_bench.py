"""Parity speed: fuzzing and corpus parity across engines, the probe engines included.

Times, on this machine (best of ``--repeat``):

1. ``engine_parity`` over ``--fuzz`` random strings (seed 0) for regex + tokenizers +
   llama.cpp (the issue's goal: 10,000 strings across three engines in under a minute),
   and for all five engines;
2. ``engine_parity`` over the whole ``data/corpus`` (line by line) for regex vs llama.cpp;
3. ``token_parity`` (tiktoken, HF, llama.cpp ids) over the corpus plus 2,000 fuzzed strings on
   the 4,096-rank Kimi-layout vocabulary trained on the corpus.

Run from the repository root::

    .venv/bin/python benchmarks/parity_bench.py [--fuzz 10000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from timing import best_of  # benchmarks/, the script's own folder, is on sys.path

from workbench.pretok.parity import engine_parity
from workbench.tokenizer import build_vocab, load
from workbench.tokenizer.parity import token_parity

ROOT = Path(__file__).resolve().parents[1]

CORPUS = ROOT / "data" / "corpus"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz", type=int, default=10_000, help="random strings for the fuzz runs (default 10,000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure, best kept (default 1)")
    args = ap.parse_args()

    runs = [
        (f"engine_parity, {args.fuzz:,} fuzzed strings, regex/tokenizers/llama.cpp",
         lambda: engine_parity(["regex", "tokenizers", "llama.cpp"], fuzz=args.fuzz)),
        (f"engine_parity, {args.fuzz:,} fuzzed strings, all five engines",
         lambda: engine_parity(["regex", "tokenizers", "tiktoken", "gigatoken", "llama.cpp"], fuzz=args.fuzz)),
        ("engine_parity, data/corpus lines, regex vs llama.cpp",
         lambda: engine_parity(["regex", "llama.cpp"], corpus=[CORPUS])),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        assets = load(build_vocab(Path(tmp) / "vocab"))
        print(f"(vocabulary trained in {time.perf_counter() - t0:.1f} s)")
        runs.append(("token_parity, data/corpus + 2,000 fuzzed, tiktoken/hf/llama.cpp",
                     lambda: token_parity(assets, corpus=[CORPUS], fuzz=2000)))
        for name, fn in runs:
            print(f"{name:<72} {best_of(fn, args.repeat):7.1f} s", flush=True)


if __name__ == "__main__":
    main()
