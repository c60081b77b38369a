"""Read corpora as a stream of text chunks cut where every scheme cuts anyway.

``scan`` must handle files larger than memory and use every core, so text is read in
blocks and cut into chunks that can be split independently. A cut is only made at a
*safe boundary*, a position where all supported schemes (kimi-k2, o200k, cl100k) always
end a piece, so splitting chunk by chunk gives exactly the pieces of the whole text:

- after a line break that is followed by a letter or digit (no alternative continues a
  piece from a line break into a letter or digit), or
- before a space that sits between two letters (no alternative puts a letter and a
  following space in one piece; the space starts the next word).

A text with neither (a 50 MB run of digits) is one chunk; that is slower, never wrong.
Not here: other encodings than UTF-8 (decode first), scheme-specific cuts.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import regex

from workbench.errors import InputError

#: Positions where every scheme ends a piece (see the module docstring).
SAFE_BOUNDARY = regex.compile(r"(?<=\n)(?=[\p{L}\p{N}])|(?<=\p{L})(?= \p{L})")
_LAST_SAFE_BOUNDARY = regex.compile(SAFE_BOUNDARY.pattern, flags=regex.REVERSE)

CHUNK_CHARS = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """A piece of one source: its text, the source's name and its first line number (0-based)."""

    text: str
    source: str
    line: int


def last_safe_boundary(text: str, before: int, after: int = 0) -> int:
    """The last safe boundary in ``text[after:before]``, or 0: ``"ab cd", 5 -> 2``."""
    m = _LAST_SAFE_BOUNDARY.search(text, after, before) if before > after else None
    return m.start() if m else 0


def cut(text: str, *, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Cut ``text`` at safe boundaries into chunks of about ``size`` chars."""
    pos = 0
    while len(text) - pos > size:
        at = last_safe_boundary(text, pos + size)
        if at <= pos:  # no boundary in this window: look forward for the next one
            m = SAFE_BOUNDARY.search(text, pos + size)
            at = m.start() if m and m.start() > pos else len(text)
        yield text[pos:at]
        pos = at
    if pos < len(text):
        yield text[pos:]


def read_blocks(path: Path, *, errors: str = "strict", block: int = CHUNK_CHARS) -> Iterator[str]:
    """Decode a UTF-8 file block by block; a bad byte names the file and its offset."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    offset = 0
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    with f:
        while True:
            data = f.read(block)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path}: not valid UTF-8 at byte {offset - pending + e.start} "
                    f"({e.reason}); use errors='replace' (CLI: --errors replace) to substitute U+FFFD"
                ) from e
            if text:
                yield text
            if not data:
                return
            offset += len(data)


def source_size(source: str | os.PathLike[str]) -> int:
    """UTF-8 bytes of a file or a string: what a progress bar counts."""
    if isinstance(source, str):
        return len(source.encode("utf-8", "surrogatepass"))
    try:
        return os.path.getsize(source)
    except OSError as e:
        raise InputError(f"cannot read {source}: {e.strerror or e}") from e


def chunks(
    sources: Iterable[str | os.PathLike[str]], *, errors: str = "strict", size: int = CHUNK_CHARS
) -> Iterator[Chunk]:
    """Every source as chunks; a ``str`` is text, a path-like is a UTF-8 file."""
    for i, source in enumerate(sources):
        if isinstance(source, str):
            name, blocks = f"<text {i}>", iter([source])
        else:
            name, blocks = os.fspath(source), read_blocks(Path(source), errors=errors, block=size)
        line = 0
        for head in _safe_prefixes(blocks):
            for piece in cut(head, size=size):
                yield Chunk(piece, name, line)
                line += piece.count("\n")


def _safe_prefixes(blocks: Iterable[str]) -> Iterator[str]:
    """The blocks' text, handed on up to the last safe boundary read so far, the rest at the end."""
    carry = ""
    for block in blocks:
        text = carry + block
        # boundaries inside the old carry were looked for already
        at = last_safe_boundary(text, len(text), max(0, len(carry) - 2))
        yield text[:at]
        carry = text[at:]
    yield carry


def corpus_files(corpus: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
    """Files from paths, a folder standing for its ``*.txt`` files: ``["data/corpus"] -> [code.txt, …]``."""
    paths = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.txt"))
            if not found:
                raise InputError(f"{p}: no *.txt files in this corpus folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such corpus file or folder")
    return files


def corpus_lines(path: Path, *, errors: str = "strict") -> list[str]:
    """The lines of a UTF-8 file, each with its ``\\n``: ``"a\\nb" -> ["a\\n", "b"]``."""
    lines = "".join(read_blocks(path, errors=errors)).split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
