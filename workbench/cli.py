"""``kimi-wb``: the command line, thin over the Python API.

Every command prints human output by default and exactly one JSON document on stdout with
``--json``; hints and progress go to stderr. Exit codes: 0 done, 1 a check found errors,
2 a user error (one line on stderr, no traceback).

    kimi-wb split --scheme o200k "ChatGPT 中文English"
    kimi-wb diff --a kimi-k2 --b o200k "ChatGPT 中文English"
    kimi-wb scan --a kimi-k2 --b o200k data/corpus/*.txt
    kimi-wb fuzz --a kimi-k2 --b o200k --budget 2000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import InputError, WorkbenchError

_COLOURS = ("\x1b[48;5;153m", "\x1b[48;5;223m", "\x1b[48;5;194m", "\x1b[48;5;225m", "\x1b[48;5;230m")
_RESET = "\x1b[0m"


def visible(piece: str) -> str:
    """Make invisible characters readable: ``"a\\n\\t" -> "a\\\\n\\\\t"`` (spaces stay spaces)."""
    return piece.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def show_pieces(pieces: Sequence[str], *, colour: bool) -> str:
    """Pieces delimited for a terminal: coloured backgrounds, or ``│`` between them."""
    if colour:
        return "".join(f"\x1b[30m{_COLOURS[i % len(_COLOURS)]}{visible(p)}{_RESET}" for i, p in enumerate(pieces))
    return "│" + "│".join(visible(p) for p in pieces) + "│"


def _read_text(arg: str | None, errors: str) -> str:
    if arg is not None and arg != "-":
        return arg
    if sys.stdin.isatty():
        print("reading text from standard input (end with Ctrl-D)", file=sys.stderr)
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as e:
        raise InputError(f"standard input is not valid UTF-8 at byte {e.start}; use --errors replace") from e


def _emit_json(doc: object) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def cmd_split(args: argparse.Namespace) -> int:
    from workbench.pretok import spans

    text = _read_text(args.text, args.errors)
    pieces = spans(text, args.scheme, args.engine)
    if args.json:
        _emit_json([p.text for p in pieces] if not args.branches else
                   [{"text": p.text, "start": p.start, "end": p.end, "branch": p.branch} for p in pieces])
        return 0
    colour = sys.stdout.isatty()
    if args.branches:
        for p in pieces:
            print(f"{p.start:>6}-{p.end:<6} {p.branch or '(unmatched)':<12} {show_pieces([p.text], colour=colour)}")
    else:
        print(show_pieces([p.text for p in pieces], colour=colour))
    print(f"{len(pieces)} pieces, {len(text)} characters ({args.scheme}, {args.engine})", file=sys.stderr)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from workbench.pretok import diff

    text = _read_text(args.text, args.errors)
    d = diff(text, args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b)
    if args.json:
        _emit_json(d.to_dict())
        return 0
    colour = sys.stdout.isatty()
    width = max(len(d.a), len(d.b))
    print(f"{d.a:<{width}}  {show_pieces([p.text for p in d.pieces_a], colour=colour)}")
    print(f"{d.b:<{width}}  {show_pieces([p.text for p in d.pieces_b], colour=colour)}")
    if d.identical:
        print("identical splits")
    for v in d.divergences:
        print(f"[{v.start}:{v.end}] {v.cause}: {json.dumps(v.text, ensure_ascii=False)}")
        print(f"    {d.a:<{width}}  {show_pieces([p.text for p in v.a], colour=colour)}")
        print(f"    {d.b:<{width}}  {show_pieces([p.text for p in v.b], colour=colour)}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from workbench.pretok import scan

    paths = [Path(f) for f in args.files]
    for p in paths:
        if not p.is_file():
            raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: not a regular file")
    r = scan(paths, args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b,
             errors=args.errors, jobs=args.jobs, progress=None if sys.stderr.isatty() else False)
    if args.json:
        _emit_json(r.to_dict())
        return 0
    print(f"{r.sources} files, {r.bytes:,} bytes, {r.chars:,} characters, {r.lines:,} lines")
    print(f"lines split differently: {r.diverging_lines:,} ({r.diverging_line_share:.1%})")
    for side in (r.a, r.b):
        print(f"\n{side.name}: {side.pieces:,} pieces")
        print("  branches:     " + ", ".join(f"{k}={v:,}" for k, v in side.branches.most_common()))
        print("  digit groups: " + ", ".join(f"{k}-digit={side.digit_groups[k]:,}" for k in sorted(side.digit_groups)))
        print("  Han runs:     " + ", ".join(f"{k}={v:,}" for k, v in side.han_glue.most_common(6)))
        print(f"  '/' after line break kept in punctuation: {side.slash_tails:,}; contractions attached "
              f"{side.contractions_attached:,}, separate {side.contractions_separate:,}")
    print("\ndivergences by cause:")
    for cause, n in r.causes.most_common():
        ex = r.examples[cause][0]
        print(f"  {cause:<12} {n:>8,}   e.g. {ex['source']}:{ex['line']} {json.dumps(ex['text'], ensure_ascii=False)}"
              f"  {show_pieces(ex['a'], colour=False)} vs {show_pieces(ex['b'], colour=False)}")
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    from workbench.pretok import find_divergences

    r = find_divergences(args.a, args.b, engine_a=args.engine_a, engine_b=args.engine_b,
                         budget=args.budget, seed=args.seed, max_len=args.max_len,
                         progress=sys.stderr.isatty())
    if args.json:
        _emit_json(r.to_dict())
        return 0
    print(f"{r.a} vs {r.b}: {r.diverged:,} of {r.tried:,} random strings split differently ({r.rate:.1%}), seed {r.seed}")
    for cause, found in r.groups.items():
        print(f"\n{cause} ({r.counts[cause]:,}):")
        for x in found:
            print(f"  {json.dumps(x.text, ensure_ascii=False):<16} {show_pieces(x.a, colour=False)} "
                  f"vs {show_pieces(x.b, colour=False)}")
    return 0


def cmd_parity(args: argparse.Namespace) -> int:
    from workbench.pretok.parity import DEFAULT_ENGINES, engine_parity

    engines = args.engines.split(",") if args.engines else list(DEFAULT_ENGINES)
    r = engine_parity(engines, scheme=args.scheme, corpus=args.corpus or (), fuzz=args.fuzz, seed=args.seed,
                      max_len=args.max_len, examples_per_cause=args.examples, progress=sys.stderr.isatty())
    if args.json:
        _emit_json(r.to_dict())
    else:
        print(r.format())
    return 0


def cmd_token_parity(args: argparse.Namespace) -> int:
    from workbench.tokenizer import load
    from workbench.tokenizer.parity import format_report, token_parity

    impls = args.impls.split(",") if args.impls else ("tiktoken", "hf", "llama.cpp")
    r = token_parity(load(args.path), corpus=args.corpus, fuzz=args.fuzz, seed=args.seed, impls=impls,
                     examples_per_cause=args.examples, special=args.special, errors=args.errors,
                     progress=sys.stderr.isatty())
    if args.json:
        _emit_json(r.to_dict())
    else:
        print(format_report(r))
    return 0


def cmd_schemes(args: argparse.Namespace) -> int:
    from workbench.pretok import ENGINES, SCHEMES

    if args.json:
        _emit_json({
            "schemes": {n: {"description": s.description, "source": s.source, "pattern": s.pattern,
                            "branches": {b.name: b.pattern for b in s.branches}} for n, s in SCHEMES.items()},
            "engines": {n: {"description": e.description, "version": e.version} for n, e in ENGINES.items()},
        })
        return 0
    for n, s in SCHEMES.items():
        print(f"{n}: {s.description}\n  source: {s.source}")
        for b in s.branches:
            print(f"  {b.name:<12} {b.pattern}")
    print("\nengines:")
    for n, e in ENGINES.items():
        print(f"  {n:<12} {e.description} ({e.version})")
    return 0


def cmd_build_vocab(args: argparse.Namespace) -> int:
    from workbench.tokenizer import build_vocab, load

    out = build_vocab(args.out_dir, corpus=[Path(f) for f in args.corpus] if args.corpus else None,
                      vocab_size=args.vocab_size, old=args.old)
    assets = load(out)
    if args.json:
        _emit_json({"path": str(out), "n_ranks": assets.n_ranks, "vocab_size": assets.vocab_size, "eos": assets.eos})
    else:
        print(f"wrote {out}: {assets.n_ranks:,} ranks + 256 special ids = {assets.vocab_size:,}, EOS {assets.eos}")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from workbench.tokenizer import load

    assets = load(args.path)
    rows = assets.special_rows(reserved=args.all)
    roles = {k: assets.role(k) for k in ("bos", "eos", "pad", "unk")}
    if args.json:
        _emit_json({"path": str(assets.path), "source": assets.source, "n_ranks": assets.n_ranks,
                    "vocab_size": assets.vocab_size,
                    **{k: {"content": v, "id": assets.special_id(v) if v else None} for k, v in roles.items()},
                    "tokens": [{k: v for k, v in r.items() if k != "roles"} for r in rows]})
        return 0
    print(f"{assets.path}: {assets.n_ranks:,} ranks + {len(assets.specials)} special ids = {assets.vocab_size:,}")
    print("  " + ", ".join(f"{k}={v} ({assets.special_id(v) if v else '-'})" for k, v in roles.items()))
    for r in rows:
        kind = r.get("type") or ("special" if r["special"] else "not special")
        print(f"  {r['id']:>8}  {r['content']:<32} {kind:<12} {' '.join(r['roles'])}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from workbench.verify import check

    report = check(args.path)
    if args.json:
        _emit_json(report.to_dict())
    else:
        marks = {"error": "✗", "warning": "!", "info": "✓"}
        print(f"{report.path} ({report.kind}): {'ok' if report.ok else 'ERRORS'}")
        for f in report.findings:
            print(f"  {marks[f.severity]} {f.severity:<7} {f.check:<24} {f.message}")
    return 0 if report.ok else 1


def cmd_render(args: argparse.Namespace) -> int:
    from workbench.chat import mode_kwargs, render
    from workbench.chat.render import read_template
    from workbench.files import read_json

    messages = read_json(args.messages, "messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InputError(f"{args.messages}: expected a JSON array of message objects")
    tools = read_json(args.tools, "tools") if args.tools else None
    template = read_template(Path(args.template))
    kwargs = mode_kwargs(template, thinking=args.mode == "thinking") if args.mode else {}
    text = render(template, messages, tools=tools, renderer=args.renderer,
                  add_generation_prompt=not args.no_generation_prompt, **kwargs)
    if args.json:
        _emit_json({"renderer": args.renderer, "kwargs": kwargs, "text": text})
    else:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))
    return 0


def cmd_render_parity(args: argparse.Namespace) -> int:
    from workbench.chat.parity import parity
    from workbench.chat.render import read_template
    from workbench.tokenizer import load

    src = Path(args.source)
    tokenizer = load(args.tokenizer) if args.tokenizer else None
    if src.suffix == ".gguf" or src.is_dir():
        tokenizer = tokenizer or load(src)
        template = tokenizer.chat_template
        if not template:
            raise InputError(f"{src}: no chat template in these tokenizer assets")
    else:
        template = read_template(src)
    renderers = args.renderers.split(",") if args.renderers else None
    table = parity(template, renderers=renderers, tokenizer=tokenizer)
    if args.json:
        _emit_json(table.to_dict())
        return 0
    print(table.frame().to_string())
    for c in table.cells:
        if c.status == "differs":
            print(f"\n{c.case} / {c.renderer} differs from {table.baseline}:\n  "
                  + c.text_diff().replace("\n", "\n  ")
                  + ("\n  " + c.id_diff().replace("\n", "\n  ") if c.ids is not None else ""))
        elif c.status == "fails":
            print(f"\n{c.case} / {c.renderer} fails: {c.error}"
                  + (f" ({table.baseline}: {c.baseline_error})" if c.baseline_error not in (None, c.error) else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kimi-wb", description="Kimi K2 local workbench.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        return p

    def pair(p: argparse.ArgumentParser) -> None:
        p.add_argument("--a", default="kimi-k2", metavar="SCHEME", help="first scheme (default kimi-k2)")
        p.add_argument("--b", default="o200k", metavar="SCHEME", help="second scheme (default o200k)")
        p.add_argument("--engine-a", default="regex", metavar="ENGINE", help="engine for --a (default regex)")
        p.add_argument("--engine-b", default="regex", metavar="ENGINE", help="engine for --b (default regex)")

    errors = dict(default="strict", choices=["strict", "replace"],
                  help="undecodable bytes: refuse (strict, default) or substitute U+FFFD (replace)")

    p = add("split", cmd_split, "split text into pre-tokenization pieces")
    p.add_argument("--scheme", default="kimi-k2", help="scheme name (default kimi-k2; see `kimi-wb schemes`)")
    p.add_argument("--engine", default="regex", help="engine name (default regex)")
    p.add_argument("--branches", action="store_true", help="show each piece's offsets and branch")
    p.add_argument("--errors", **errors)
    p.add_argument("text", nargs="?", metavar="TEXT|-", help="text to split; '-' or nothing reads stdin")

    p = add("diff", cmd_diff, "show where two schemes (or engines) split a text differently")
    pair(p)
    p.add_argument("--errors", **errors)
    p.add_argument("text", nargs="?", metavar="TEXT|-", help="text to compare; '-' or nothing reads stdin")

    p = add("scan", cmd_scan, "corpus statistics of two schemes over UTF-8 files")
    pair(p)
    p.add_argument("--errors", **errors)
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = add("fuzz", cmd_fuzz, "search random text for divergences, shrink and group them")
    pair(p)
    p.add_argument("--budget", type=int, default=2000, help="random strings to try (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-len", type=int, default=12, help="longest random string, in draws (default 12)")

    p = add("parity", cmd_parity, "cut the same texts with several engines: disagreement matrix, minimal examples by cause")
    p.add_argument("--engines", metavar="E,E", help="comma-separated engines (default: regex,tokenizers,tiktoken,"
                   "gigatoken,llama.cpp)")
    p.add_argument("--scheme", default="kimi-k2", help="scheme every engine runs (default kimi-k2)")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 files or folders of .txt files, line by line")
    p.add_argument("--fuzz", type=int, default=0, metavar="N", help="also N random strings (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed for --fuzz (default 0)")
    p.add_argument("--max-len", type=int, default=12, help="longest random string, in draws (default 12)")
    p.add_argument("--examples", type=int, default=3, help="minimal examples per pair and cause (default 3)")

    p = add("token-parity", cmd_token_parity, "encode the same texts with tiktoken, HF and llama.cpp: ids that differ, why")
    p.add_argument("path", metavar="PATH", help="tokenizer assets: HF snapshot folder, tokenizer_config.json or GGUF")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 files or folders of .txt files (default: data/corpus)")
    p.add_argument("--fuzz", type=int, default=0, metavar="N", help="also N random strings (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed for --fuzz (default 0)")
    p.add_argument("--impls", metavar="I,I", help="implementations (default: tiktoken,hf,llama.cpp)")
    p.add_argument("--special", action="store_true", help="parse special-token strings in the text (default: plain text)")
    p.add_argument("--examples", type=int, default=5, help="minimal examples per pair and cause (default 5)")
    p.add_argument("--errors", **errors)

    add("schemes", cmd_schemes, "list schemes, their branches, and engines")

    p = add("build-vocab", cmd_build_vocab, "train a small vocabulary in the Kimi special-token layout")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write tiktoken.model and tokenizer_config.json to")
    p.add_argument("--vocab-size", type=int, default=4096, help="BPE ranks to train (default 4096)")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 training files (default: data/corpus/*.txt)")
    p.add_argument("--old", action="store_true", help="write the pre-fix config (EOS = [EOS])")

    p = add("verify", cmd_verify, "check tokenizer assets and chat templates (exit 1 on errors)")
    p.add_argument("path", metavar="PATH", help="HF snapshot folder, tokenizer_config.json, GGUF file or .jinja template")

    p = add("render", cmd_render, "render a conversation with a chat template")
    p.add_argument("--template", required=True, metavar="T", help="template file (.jinja)")
    p.add_argument("--messages", required=True, metavar="FILE.json", help="JSON array of messages")
    p.add_argument("--tools", metavar="FILE.json", help="JSON array of tool declarations")
    p.add_argument("--renderer", default="hf", help="hf (default), llama.cpp, llama-cpp-python or llama-server")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--thinking", dest="mode", action="store_const", const="thinking",
                      help="thinking mode, through the switch the template reads")
    mode.add_argument("--instant", dest="mode", action="store_const", const="instant", help="instant mode")
    p.add_argument("--no-generation-prompt", action="store_true", help="do not append the assistant prompt")

    p = add("render-parity", cmd_render_parity, "render the conversation suite through every renderer, compared with HF")
    p.add_argument("source", metavar="TEMPLATE", help="template file (.jinja), or a GGUF / snapshot folder holding one")
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer assets for token-id diffs (default: SOURCE's own)")
    p.add_argument("--renderers", metavar="R,R", help="comma-separated renderers (default: all)")

    p = add("tokens", cmd_tokens, "the special-token table of a tokenizer folder or GGUF file")
    p.add_argument("path", metavar="PATH", help="HF snapshot folder, its tokenizer_config.json, or a GGUF file")
    p.add_argument("--all", action="store_true", help="include the reserved slots")

    from workbench import cli_gguf, cli_run

    cli_gguf.register(sub, add)
    cli_run.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as e:  # one line, whatever a file or a server put in the message
        print("kimi-wb: error: " + " | ".join(line.strip() for line in str(e).splitlines() if line.strip()),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kimi-wb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kimi-wb ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
