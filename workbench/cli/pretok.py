"""``kimi-wb split | diff | scan | fuzz | parity | schemes``: pre-tokenization, thin over :mod:`workbench.pretok`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.output import at_least, emit, hint, read_text_arg
from workbench.errors import InputError

ERRORS = dict(default="strict", choices=["strict", "replace"],
              help="undecodable bytes: refuse (strict, default) or substitute U+FFFD (replace)")


def _text(args: argparse.Namespace) -> str:
    """TEXT, or standard input for ``-``; nothing at all on a terminal is a usage error, not a silent wait."""
    if args.text is None and sys.stdin.isatty():
        args.parser.error("give TEXT, or '-' to type it on standard input")
    return read_text_arg(args.text, args.errors)


def cmd_split(args: argparse.Namespace) -> int:
    from workbench.pretok import spans
    from workbench.pretok.show import SplitReport

    text = _text(args)
    report = SplitReport(text, spans(text, args.scheme, args.engine), args.scheme, args.engine, branches=args.branches)
    emit(report, json_mode=args.json, text=report.format(colour=sys.stdout.isatty()))
    if not args.json:
        hint(report.summary())
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from workbench.pretok import diff

    d = diff(_text(args), args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b)
    emit(d, json_mode=args.json, text=d.format(colour=sys.stdout.isatty()))
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from workbench.pretok import scan

    paths = [Path(f) for f in args.files]
    for p in paths:
        if not p.is_file():
            raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: not a regular file")
    emit(scan(paths, args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b, errors=args.errors,
              jobs=args.jobs, progress=None if sys.stderr.isatty() else False), json_mode=args.json)
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    from workbench.pretok import find_divergences

    emit(find_divergences(args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b, budget=args.budget,
                          seed=args.seed, max_len=args.max_len, progress=sys.stderr.isatty()), json_mode=args.json)
    return 0


def cmd_parity(args: argparse.Namespace) -> int:
    from workbench.pretok.parity import DEFAULT_ENGINES, engine_parity

    engines = args.engines.split(",") if args.engines else list(DEFAULT_ENGINES)
    emit(engine_parity(engines, scheme=args.scheme, corpus=args.corpus or (), fuzz=args.fuzz, seed=args.seed,
                       max_len=args.max_len, examples_per_cause=args.examples, progress=sys.stderr.isatty()),
         json_mode=args.json)
    return 0


def cmd_schemes(args: argparse.Namespace) -> int:
    from workbench.pretok.show import Catalogue

    emit(Catalogue(), json_mode=args.json)
    return 0


def register(add) -> None:
    def pair(p: argparse.ArgumentParser) -> None:
        p.add_argument("--a", default="kimi-k2", metavar="SCHEME", help="first scheme (default kimi-k2)")
        p.add_argument("--b", default="o200k", metavar="SCHEME", help="second scheme (default o200k)")
        p.add_argument("--engine-a", default="regex", metavar="ENGINE", help="engine for --a (default regex)")
        p.add_argument("--engine-b", default="regex", metavar="ENGINE", help="engine for --b (default regex)")

    p = add("split", cmd_split, "split text into pre-tokenization pieces")
    p.add_argument("--scheme", default="kimi-k2", help="scheme name (default kimi-k2; see `kimi-wb schemes`)")
    p.add_argument("--engine", default="regex", help="engine name (default regex)")
    p.add_argument("--branches", action="store_true", help="show each piece's offsets and branch")
    p.add_argument("--errors", **ERRORS)
    p.add_argument("text", nargs="?", metavar="TEXT|-", help="text to split; '-' or nothing reads stdin")

    p = add("diff", cmd_diff, "show where two schemes (or engines) split a text differently")
    pair(p)
    p.add_argument("--errors", **ERRORS)
    p.add_argument("text", nargs="?", metavar="TEXT|-", help="text to compare; '-' or nothing reads stdin")

    p = add("scan", cmd_scan, "corpus statistics of two schemes over UTF-8 files")
    pair(p)
    p.add_argument("--errors", **ERRORS)
    p.add_argument("--jobs", type=at_least(1), default=None, help="worker processes (default: all cores)")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = add("fuzz", cmd_fuzz, "search random text for divergences, shrink and group them")
    pair(p)
    p.add_argument("--budget", type=at_least(1), default=2000, help="random strings to try (default 2000)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed (default 0)")
    p.add_argument("--max-len", type=at_least(1), default=12, help="longest random string, in draws (default 12)")

    p = add("parity", cmd_parity, "cut the same texts with several engines: disagreement matrix, minimal examples by cause")
    p.add_argument("--engines", metavar="E,E", help="comma-separated engines (default: regex,tokenizers,tiktoken,"
                   "gigatoken,llama.cpp)")
    p.add_argument("--scheme", default="kimi-k2", help="scheme every engine runs (default kimi-k2)")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 files or folders of .txt files, line by line")
    p.add_argument("--fuzz", type=at_least(0), default=0, metavar="N", help="also N random strings (default 0)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed for --fuzz (default 0)")
    p.add_argument("--max-len", type=at_least(1), default=12, help="longest random string, in draws (default 12)")
    p.add_argument("--examples", type=at_least(0), default=3, help="minimal examples per pair and cause (default 3)")

    add("schemes", cmd_schemes, "list schemes, their branches, and engines")
