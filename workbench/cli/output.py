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
