"""The one way ``kimi-wb`` prints: a report's ``format()`` for people, or its ``to_dict()`` as one JSON document.

Every command hands its report here. With ``--json`` exactly one JSON document goes to stdout;
otherwise the report's text (a line break added when it has none). Hints and progress go to
stderr (:func:`hint`). Reports that do not come from a package (a path written, a list of files
restored) are a :class:`Record`.

    >>> emit(Record("wrote x.gguf", {"files": ["x.gguf"]}), json_mode=False)   # doctest: +SKIP
    wrote x.gguf
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Record:
    """A small report: its text and its JSON document."""

    text: str
    doc: Any

    def format(self) -> str:
        return self.text

    def to_dict(self) -> Any:
        return self.doc


def emit(report, *, json_mode: bool, text: str | None = None) -> None:
    """Print ``report``: ``to_dict()`` as JSON, else ``text`` or ``report.format()``."""
    if json_mode:
        json.dump(report.to_dict(), sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return
    out = report.format() if text is None else text
    sys.stdout.write(out if out.endswith("\n") else out + "\n")


def hint(text: str) -> None:
    """A line for the person at the terminal, on stderr (never part of the output)."""
    print(text, file=sys.stderr)


def read_text_arg(arg: str | None, errors: str) -> str:
    """A command's TEXT argument, or standard input for ``-`` or nothing; undecodable input is one line."""
    from workbench.errors import InputError

    if arg is not None and arg != "-":
        return arg
    if sys.stdin.isatty():
        hint("reading text from standard input (end with Ctrl-D)")
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as e:
        raise InputError(f"standard input is not valid UTF-8 at byte {e.start}; use --errors replace") from e


def at_least(low: int):
    """An argparse type: an integer no smaller than ``low`` (``--max-tokens -3`` is refused by the
    subcommand, with its usage)."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, zero or more."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def size(text: str) -> str:
    """An argparse type: a size such as ``24GiB`` (checked here, passed on as written)."""
    import argparse

    from workbench.errors import InputError
    from workbench.units import parse_size

    try:
        parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def inspect_any(path: str):
    """``inspect(path)``; for a remote address, progress on a terminal and the bytes read, as hints."""
    from workbench.gguffile.remote import is_url
    from workbench.ggufio import inspect

    if not is_url(path):
        return inspect(path)
    info = inspect(path, progress=progress_line("reading remote headers"))
    hint(info.transfer.summary(len(info.files)))
    return info


def progress_line(what: str):
    """A ``progress(done, total, name)`` callback that keeps one line on a terminal's stderr (nothing elsewhere)."""

    def progress(done: int, total: int, name: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{what} {done}/{total} ({name})\033[K", end="" if done < total else "\n", file=sys.stderr,
                  flush=True)

    return progress
