"""``kimi-wb gguf inspect | patch | fix-kimi | restore`` and ``make-tiny-model``: thin over :mod:`workbench.ggufio`
and :mod:`workbench.models`."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import Record, at_least, emit, seconds
from workbench.errors import InputError
from workbench.units import format_size


def cmd_inspect(args: argparse.Namespace) -> int:
    from workbench.cli.output import inspect_any

    info = inspect_any(args.path)
    emit(info, json_mode=args.json, text=None if args.json else info.format(tensors=args.tensors))
    return 0


def cmd_patch(args: argparse.Namespace) -> int:
    from workbench.chat.render import read_template
    from workbench.ggufio import TEMPLATE_KEY, inspect, patch, split_members
    from workbench.ggufio.patching import PatchReport
    from workbench.ggufio.values import parse_assignments

    split_members(args.path)  # a remote address or an incomplete set is refused before any header is read
    values = parse_assignments(args.set or [], {k: v.type for k, v in inspect(args.path).keys.items()})
    if args.template_file:
        values[TEMPLATE_KEY] = read_template(Path(args.template_file))
    if not values and not args.remove:
        raise InputError("nothing to change: give --set KEY=VALUE, --remove KEY or --template-file F")
    results = patch(args.path, values, remove=args.remove or [], dry_run=args.dry_run, backup=args.backup,
                    progress=not args.json, wait=args.wait)
    emit(PatchReport(results, args.path, dry_run=args.dry_run), json_mode=args.json)
    return 0


def cmd_fix_kimi(args: argparse.Namespace) -> int:
    from workbench.chat.render import read_template
    from workbench.ggufio import fix_kimi
    from workbench.ggufio.patching import PatchReport

    template = read_template(Path(args.template)) if args.template else None
    results = fix_kimi(args.path, template=template, types=not args.keep_token_types, dry_run=args.dry_run,
                       backup=args.backup, progress=not args.json, wait=args.wait)
    fixed = ("EOS is <|im_end|>" + ("" if args.keep_token_types else ", <think>/</think>/tool markers not CONTROL")
             + (", template as given" if template else ""))
    emit(PatchReport(results, args.path, dry_run=args.dry_run, already_fixed=fixed), json_mode=args.json)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from workbench.ggufio import restore

    done = restore(args.path, progress=not args.json, wait=args.wait)
    emit(Record("\n".join(f"restored {p} from its backup header" for p in done), {"restored": [str(p) for p in done]}),
         json_mode=args.json)
    return 0


def cmd_make_tiny_model(args: argparse.Namespace) -> int:
    from workbench.models import make_demo_model, make_tiny_model

    shape = {"layers": args.layers, "experts": args.experts, "experts_used": args.experts_used, "width": args.width,
             "seed": args.seed, "split": args.split}
    if args.scripted:
        from workbench.models.scripted import make_scripted_model

        files = make_scripted_model(args.out)
    else:
        files = make_demo_model(args.out, **shape) if args.demo else make_tiny_model(args.out, old=args.old, **shape)
    emit(Record("\n".join(f"wrote {f} ({format_size(f.stat().st_size)})" for f in files),
                {"files": [str(f) for f in files], "bytes": sum(f.stat().st_size for f in files)}), json_mode=args.json)
    return 0


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", type=seconds, metavar="SECONDS", nargs="?", const=float("inf"),
                   help="when another process is patching the file, wait for it (up to SECONDS; no value: "
                        "as long as it takes) instead of refusing at once")


def register(sub, add) -> None:
    """The ``gguf`` group, and ``make-tiny-model``."""
    g = sub.add_parser("gguf", help="inspect and patch GGUF files (split sets too)",
                       description="Inspect and patch GGUF files (split sets too).")
    gsub = g.add_subparsers(dest="gguf_command", required=True, metavar="SUBCOMMAND")

    def gadd(name: str, func, help: str) -> argparse.ArgumentParser:
        p = gsub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func, parser=p)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.add_argument("path", metavar="PATH", help="a GGUF file, or any file of a split set")
        return p

    p = gadd("inspect", cmd_inspect, "keys, tensors, totals by type and role, split set, tokenizer (headers only); "
                                      "PATH may be https://…/X.gguf or hf://OWNER/REPO/PATH (a file or quant folder)")
    p.add_argument("--tensors", action="store_true", help="list every tensor (JSON always does)")

    p = gadd("patch", cmd_patch, "change metadata in place when it fits, else by a verified rewrite")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="new value, parsed in the key's type (repeatable)")
    p.add_argument("--remove", action="append", metavar="KEY", help="remove a key (a rewrite; repeatable)")
    p.add_argument("--template-file", metavar="F", help="new tokenizer.chat_template from a file")
    p.add_argument("--dry-run", action="store_true", help="show the key-level diff and the cost; write nothing")
    p.add_argument("--backup", action="store_true", help="keep the original header for `kimi-wb gguf restore`")
    _wait_option(p)

    p = gadd("fix-kimi", cmd_fix_kimi, "the known Kimi fixes: EOS on <|im_end|>, <think>/</think>/tool markers "
                                       "not CONTROL, and a template when given")
    p.add_argument("--template", metavar="F", help="also replace the chat template with this file")
    p.add_argument("--keep-token-types", action="store_true", help="leave CONTROL-typed <think>/</think> as they are")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--backup", action="store_true", help="keep the original header for `kimi-wb gguf restore`")
    _wait_option(p)

    _wait_option(gadd("restore", cmd_restore, "put back the header a --backup patch saved"))

    p = add("make-tiny-model", cmd_make_tiny_model, "write a tiny Kimi K2-architecture GGUF that llama.cpp runs on CPU")
    p.add_argument("out", metavar="OUT.gguf", help="output file (split sets are named OUT-0000K-of-0000N.gguf)")
    p.add_argument("--layers", type=at_least(2), default=3, help="blocks, block 0 dense (default 3)")
    p.add_argument("--experts", type=at_least(1), default=8, help="routed experts (default 8)")
    p.add_argument("--experts-used", type=at_least(1), default=2, help="experts per token (default 2)")
    p.add_argument("--width", type=at_least(1), default=64, help="hidden size (default 64)")
    p.add_argument("--seed", type=at_least(0), default=0, help="weights seed; same seed, same bytes (default 0)")
    p.add_argument("--split", type=at_least(1), metavar="N", help="write a set of N files")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--old", action="store_true", help="pre-fix metadata: EOS [EOS], earliest template, CONTROL types")
    kind.add_argument("--demo", action="store_true",
                      help="the demo model: a K2.6-style thinking switch and a script that keeps replies to real words")
    kind.add_argument("--scripted", action="store_true",
                      help="weights that reason, call get_weather(days=3), and answer after its result, in any engine "
                           "(the shape options do not apply)")
