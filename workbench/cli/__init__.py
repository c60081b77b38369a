"""``kimi-wb``: the command line, thin over the Python API: it parses arguments, calls the API, prints a report.

One module per command group, each with a ``register`` that adds its parsers:

- :mod:`.pretok`  split, diff, scan, fuzz, parity, schemes
- :mod:`.tokens`  token-parity, build-vocab, verify, render, render-parity, tokens
- :mod:`.gguf`    gguf inspect | patch | fix-kimi | restore, make-tiny-model
- :mod:`.run`     plan, quants, build-llama-server, chat, server-check
- :mod:`.output`  the one way to print: a report's ``format()``, or its ``to_dict()`` as one JSON document

Exit codes: 0 done, 1 a check found errors, 2 a user error (one line on stderr, no traceback).

    kimi-wb split --scheme o200k "ChatGPT 中文English"
    kimi-wb gguf patch Kimi-K2-Q2_K-00001-of-00008.gguf --set tokenizer.ggml.eos_token_id=163586 --backup
    kimi-wb plan Kimi-K2-Q2_K-00001-of-00008.gguf --preset experts-cpu --vram 24GiB --ram 256GiB --json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.errors import WorkbenchError


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli import gguf, pretok, run, tokens

    parser = argparse.ArgumentParser(prog="kimi-wb", description="Kimi K2 local workbench.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func, parser=p)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        return p

    pretok.register(add)
    tokens.register(add)
    gguf.register(sub, add)
    run.register(add)
    return parser


def _version() -> str:
    from importlib import metadata

    import workbench

    try:
        llama = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        llama = "not installed"
    return f"kimi-wb {workbench.__version__} (llama-cpp-python {llama})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # the subcommand's own usage, not the top-level one
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # a usage error (2), --help or --version (0): a code, like every other outcome
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except WorkbenchError as e:  # one line, whatever a file or a server put in the message
        print("kimi-wb: error: " + " | ".join(line.strip() for line in str(e).splitlines() if line.strip()),
              file=sys.stderr)
        return 2
    except SystemExit as e:  # a command's own usage error
        return e.code if isinstance(e.code, int) else 2
    except KeyboardInterrupt:
        print("kimi-wb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kimi-wb ... | head`
        return 0


__all__ = ["build_parser", "main"]
