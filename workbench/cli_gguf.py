"""``kimi-wb gguf …`` and ``kimi-wb make-tiny-model``: thin commands over :mod:`workbench.ggufio`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from workbench.chat.render import read_template
from workbench.errors import InputError
from workbench.units import format_size


def _emit(doc: object) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def cmd_inspect(args: argparse.Namespace) -> int:
    from workbench.ggufio.inspect import inspect

    info = inspect(args.path)
    if args.json:
        _emit(info.to_dict())
        return 0
    first = info.files[0]
    print(f"{info.path}: GGUF v{first.version}, alignment {first.alignment}, {len(info.files)} file(s), "
          f"{format_size(info.total_bytes)}, {len(info.keys)} keys, {len(info.tensors):,} tensors")
    for f in info.files:
        print(f"  {f.path.name}: {format_size(f.size)}, header {format_size(f.data_offset)}, {len(f.keys)} keys, "
              f"{len(f.tensors)} tensors")
    if info.tensors:
        print("by type:  " + ", ".join(f"{k} {format_size(v)}" for k, v in info.by_type().items()))
        print("by role:  " + ", ".join(f"{k} {format_size(v)}" for k, v in info.by_role().items()))
    tok = info.tokenizer()
    if tok["n_tokens"]:
        print(f"tokenizer: {tok['model']} / pre {tok['pre']}, {tok['n_tokens']:,} tokens, "
              + ", ".join(f"{r} {tok[r]['id']} {tok[r]['content']!r}" for r in ("bos", "eos", "pad"))
              + f", template {tok['chat_template_chars'] or 0:,} chars")
    holders = info.key_file
    print("keys:")
    for k in info.keys.values():
        where = f"  [{holders[k.name]}]" if len(info.files) > 1 else ""
        print(f"  {k.name:<44} {k.type:<14} {k.summary()}{where}")
    if args.tensors:
        print("tensors:")
        for t in info.tensors:
            shape = "x".join(str(d) for d in t.shape)
            print(f"  {t.name:<36} {t.type:<8} {shape:<22} {format_size(t.n_bytes):>12}  @{t.offset:,}  {t.role}")
    return 0


def _print_results(results, args) -> None:
    if args.json:
        _emit([r.to_dict() for r in results])
        return
    for r in results:
        print(r.plan.describe())
        if r.recovered:
            print("  rolled back an interrupted earlier patch first")
        if r.applied:
            print(f"  applied ({r.plan.mode}); verified: {', '.join(r.verified)}")
            if r.backup:
                print(f"  original header kept in {r.backup.name} (kimi-wb gguf restore {r.plan.path})")
        elif args.dry_run:
            print("  dry run: nothing written")


def cmd_patch(args: argparse.Namespace) -> int:
    from workbench.ggufio import TEMPLATE_KEY, parse_value, patch
    from workbench.ggufio.inspect import inspect

    info = inspect(args.path)
    values: dict[str, object] = {}
    for item in args.set or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        known = info.keys.get(key)
        values[key], _ = parse_value(text, known.type if known else None)
    if args.template_file:
        values[TEMPLATE_KEY] = read_template(Path(args.template_file))
    if not values and not args.remove:
        raise InputError("nothing to change: give --set KEY=VALUE, --remove KEY or --template-file F")
    results = patch(args.path, values, remove=args.remove or [], dry_run=args.dry_run, backup=args.backup,
                    progress=not args.json, wait=args.wait)
    _print_results(results, args)
    return 0


def cmd_fix_kimi(args: argparse.Namespace) -> int:
    from workbench.ggufio.fixes import fix_kimi

    template = None
    if args.template:
        template = read_template(Path(args.template))
    results = fix_kimi(args.path, template=template, types=not args.keep_token_types, dry_run=args.dry_run,
                       backup=args.backup, progress=not args.json, wait=args.wait)
    if not results:
        if args.json:
            _emit({"path": args.path, "already_fixed": True})
        else:
            print(f"{args.path}: already fixed (EOS is <|im_end|>"
                  f"{'' if args.keep_token_types else ', <think>/</think>/tool markers not CONTROL'}"
                  f"{', template as given' if template else ''})")
        return 0
    _print_results(results, args)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from workbench.ggufio import restore

    done = restore(args.path, progress=not args.json, wait=args.wait)
    if args.json:
        _emit({"restored": [str(p) for p in done]})
    else:
        for p in done:
            print(f"restored {p} from its backup header")
    return 0


def cmd_make_tiny_model(args: argparse.Namespace) -> int:
    from workbench.models.tiny import make_tiny_model

    files = make_tiny_model(args.out, layers=args.layers, experts=args.experts, experts_used=args.experts_used,
                            width=args.width, seed=args.seed, split=args.split, old=args.old)
    if args.json:
        _emit({"files": [str(f) for f in files], "bytes": sum(f.stat().st_size for f in files)})
    else:
        for f in files:
            print(f"wrote {f} ({format_size(f.stat().st_size)})")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from workbench.run.chat import PRESETS as SAMPLING
    from workbench.run.offload import choose
    from workbench.run.planner import plan_memory

    offload = choose(args.preset, overrides=args.override_tensor or "", n_gpu_layers=args.ngl)
    from workbench.ggufio.inspect import inspect
    from workbench.run.compat import check_compat

    _prefetch_llama_read(args.path)
    info = inspect(args.path)
    p = plan_memory(info, offload, n_ctx=args.ctx, vram=args.vram, ram=args.ram, disk=args.disk)
    compat = check_compat(info)
    if args.json:
        _emit({**p.to_dict(), "command": p.command(sampling=SAMPLING[args.mode]), "compat": compat.to_dict()})
        return 0
    print(f"{p.path}: {p.offload.name} (-ngl {p.offload.n_gpu_layers}), context {p.n_ctx:,}")
    for device, need in p.need.items():
        have = p.vram if device == "GPU" else p.ram
        print(f"  {device}: weights {format_size(p.weights_bytes.get(device, 0))} "
              f"+ KV {format_size(p.kv_by_device.get(device, 0))}"
              f" + compute ~{format_size(p.compute_bytes.get(device, 0))} = {format_size(need)} of {format_size(have)}")
    print("this llama.cpp: " + ("loads it" if compat.ok else "would NOT load it")
          + "".join(f"\n  {c}" for c in compat.checks))
    print(f"verdict: {p.verdict}" + "".join(f"\n  {r}" for r in p.reasons))
    print(f"recommendation: {p.recommendation}")
    print("command: " + shlex.join(p.command(sampling=SAMPLING[args.mode])))
    return 0


def _prefetch_llama_read(path: str) -> None:
    """Let llama.cpp's isolated read of split 1 (for the compat check) run while the headers are planned."""
    from workbench.ggufio.inspect import split_members
    from workbench.llamacpp import prefetch

    try:
        prefetch(split_members(path)[0])
    except InputError:
        pass  # inspect says what is wrong with the path


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", type=float, metavar="SECONDS", nargs="?", const=float("inf"),
                   help="when another process is patching the file, wait for it (up to SECONDS; no value: "
                        "as long as it takes) instead of refusing at once")


def register(sub, add) -> None:
    """Add the ``gguf`` command group to the ``kimi-wb`` parser (``add`` as in :mod:`workbench.cli`)."""
    g = sub.add_parser("gguf", help="inspect and patch GGUF files (split sets too)",
                       description="Inspect and patch GGUF files (split sets too).")
    gsub = g.add_subparsers(dest="gguf_command", required=True, metavar="SUBCOMMAND")

    def gadd(name: str, func, help: str) -> argparse.ArgumentParser:
        p = gsub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.add_argument("path", metavar="PATH", help="a GGUF file, or any file of a split set")
        return p

    p = gadd("inspect", cmd_inspect, "keys, tensors, totals by type and role, split set, tokenizer (headers only)")
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

    p = add("plan", cmd_plan, "memory plan of a GGUF (or split set) under an offload, and the llama-server command")
    p.add_argument("path", metavar="PATH", help="a GGUF file, or any file of a split set")
    p.add_argument("--preset", default="gpu-all", help="offload preset (gpu-all, experts-cpu, n-cpu-moe:N, …)")
    p.add_argument("--override-tensor", "-ot", metavar="S", help="llama.cpp -ot string instead of a preset")
    p.add_argument("--ngl", type=int, help="n_gpu_layers (default 99 = all)")
    p.add_argument("--ctx", type=int, default=8192, help="context size (default 8192)")
    p.add_argument("--vram", default="0", help="GPU memory, e.g. 24GiB (default 0: no GPU)")
    p.add_argument("--ram", help="RAM, e.g. 256GiB (default: this machine's available RAM)")
    p.add_argument("--disk", help="free disk for mmap paging (default: free space beside the model)")
    p.add_argument("--mode", default="thinking", choices=["thinking", "instant"], help="sampling flags in the command")

    p = add("make-tiny-model", cmd_make_tiny_model, "write a tiny Kimi K2-architecture GGUF that llama.cpp runs on CPU")
    p.add_argument("out", metavar="OUT.gguf", help="output file (split sets are named OUT-0000K-of-0000N.gguf)")
    p.add_argument("--layers", type=int, default=3, help="blocks, block 0 dense (default 3)")
    p.add_argument("--experts", type=int, default=8, help="routed experts (default 8)")
    p.add_argument("--experts-used", type=int, default=2, help="experts per token (default 2)")
    p.add_argument("--width", type=int, default=64, help="hidden size (default 64)")
    p.add_argument("--seed", type=int, default=0, help="weights seed; same seed, same bytes (default 0)")
    p.add_argument("--split", type=int, metavar="N", help="write a set of N files")
    p.add_argument("--old", action="store_true", help="pre-fix metadata: EOS [EOS], earliest template, CONTROL types")
