"""``kimi-wb build-vocab | tokens | verify | render | render-parity | token-parity``: tokenizers and templates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.output import Record, at_least, emit
from workbench.cli.pretok import ERRORS


def cmd_build_vocab(args: argparse.Namespace) -> int:
    from workbench.tokenizer import build_vocab, load

    out = build_vocab(args.out_dir, corpus=[Path(f) for f in args.corpus] if args.corpus else None,
                      vocab_size=args.vocab_size, old=args.old)
    a = load(out)
    emit(Record(f"wrote {out}: {a.n_ranks:,} ranks + 256 special ids = {a.vocab_size:,}, EOS {a.eos}",
                {"path": str(out), "n_ranks": a.n_ranks, "vocab_size": a.vocab_size, "eos": a.eos}), json_mode=args.json)
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from workbench.tokenizer import load
    from workbench.tokenizer.table import SpecialTable

    emit(SpecialTable(load(args.path), reserved=args.all), json_mode=args.json)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from workbench.verify import check

    report = check(args.path)
    emit(report, json_mode=args.json)
    return 0 if report.ok else 1


def cmd_render(args: argparse.Namespace) -> int:
    from workbench.chat import mode_kwargs, render
    from workbench.chat.parity import Rendered
    from workbench.chat.render import read_messages, read_template

    messages = read_messages(args.messages)
    tools = read_messages(args.tools, "tools") if args.tools else None
    template = read_template(Path(args.template))
    kwargs = mode_kwargs(template, thinking=args.mode == "thinking") if args.mode else {}
    text = render(template, messages, tools=tools, renderer=args.renderer,
                  add_generation_prompt=not args.no_generation_prompt, **kwargs)
    emit(Rendered(args.renderer, kwargs, text), json_mode=args.json)
    return 0


def cmd_render_parity(args: argparse.Namespace) -> int:
    from workbench.chat.parity import parity, template_source
    from workbench.tokenizer import load

    template, tokenizer = template_source(args.source, tokenizer=load(args.tokenizer) if args.tokenizer else None)
    renderers = args.renderers.split(",") if args.renderers else None
    emit(parity(template, renderers=renderers, tokenizer=tokenizer), json_mode=args.json)
    return 0


def cmd_token_parity(args: argparse.Namespace) -> int:
    from workbench.tokenizer import load
    from workbench.tokenizer.parity import token_parity

    impls = args.impls.split(",") if args.impls else ("tiktoken", "hf", "llama.cpp")
    emit(token_parity(load(args.path), corpus=args.corpus, fuzz=args.fuzz, seed=args.seed, impls=impls,
                      examples_per_cause=args.examples, special=args.special, errors=args.errors,
                      progress=sys.stderr.isatty()), json_mode=args.json)
    return 0


def register(add) -> None:
    p = add("token-parity", cmd_token_parity, "encode the same texts with tiktoken, HF and llama.cpp: ids that differ, why")
    p.add_argument("path", metavar="PATH", help="tokenizer assets: HF snapshot folder, tokenizer_config.json or GGUF")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 files or folders of .txt files (default: data/corpus)")
    p.add_argument("--fuzz", type=at_least(0), default=0, metavar="N", help="also N random strings (default 0)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed for --fuzz (default 0)")
    p.add_argument("--impls", metavar="I,I", help="implementations (default: tiktoken,hf,llama.cpp)")
    p.add_argument("--special", action="store_true", help="parse special-token strings in the text (default: plain text)")
    p.add_argument("--examples", type=at_least(0), default=5, help="minimal examples per pair and cause (default 5)")
    p.add_argument("--errors", **ERRORS)

    p = add("build-vocab", cmd_build_vocab, "train a small vocabulary in the Kimi special-token layout")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write tiktoken.model and tokenizer_config.json to")
    p.add_argument("--vocab-size", type=at_least(1), default=4096, help="BPE ranks to train (default 4096)")
    p.add_argument("--corpus", nargs="+", metavar="FILE", help="UTF-8 training files (default: data/corpus/*.txt)")
    p.add_argument("--old", action="store_true", help="write the pre-fix config (EOS = [EOS])")

    p = add("verify", cmd_verify, "check tokenizer assets and chat templates (exit 1 on errors)")
    p.add_argument("path", metavar="PATH", help="HF snapshot folder, tokenizer_config.json, GGUF file (or a remote one: "
                                                "https://…, hf://OWNER/REPO/PATH) or .jinja template")

    p = add("render", cmd_render, "render a conversation with a chat template")
    p.add_argument("--template", required=True, metavar="T", help="template file (.jinja)")
    p.add_argument("--messages", required=True, metavar="FILE.json", help="JSON array of messages")
    p.add_argument("--tools", metavar="FILE.json", help="JSON array of tool declarations")
    p.add_argument("--renderer", default="hf",
                   help="hf (default), llama.cpp, llama-cpp-python, llama-server, or moonshot (HF plus Moonshot's "
                        "K2.5/K2.6 tokenizer: key-sorted tools, tools_ts_str, thinking on)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--thinking", dest="mode", action="store_const", const="thinking",
                      help="thinking mode, through the switch the template reads")
    mode.add_argument("--instant", dest="mode", action="store_const", const="instant", help="instant mode")
    p.add_argument("--no-generation-prompt", action="store_true", help="do not append the assistant prompt")

    p = add("render-parity", cmd_render_parity, "render the conversation suite through every renderer, compared with HF")
    p.add_argument("source", metavar="TEMPLATE", help="template file (.jinja), or a GGUF / snapshot folder holding one")
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer assets for token-id diffs (default: SOURCE's own)")
    p.add_argument("--renderers", metavar="R,R",
                   help="comma-separated renderers (default: every one available here, and moonshot for a template "
                        "that reads tools_ts_str)")

    p = add("tokens", cmd_tokens, "the special-token table of a tokenizer folder or GGUF file")
    p.add_argument("path", metavar="PATH", help="HF snapshot folder, its tokenizer_config.json, or a GGUF file")
    p.add_argument("--all", action="store_true", help="include the reserved slots")
