"""Split-set file names, as llama.cpp's ``gguf-split`` writes them: ``STEM-0000K-of-0000N.gguf``.

    >>> split_name(Path("m/Kimi-K2.gguf"), 1, 8).name
    'Kimi-K2-00001-of-00008.gguf'
    >>> [p.name for p in member_names(Path("Kimi-K2-00003-of-00004.gguf"))][:2]
    ['Kimi-K2-00001-of-00004.gguf', 'Kimi-K2-00002-of-00004.gguf']
    >>> first_split(Path("Kimi-K2-00003-of-00004.gguf")).name, first_split(Path("one.gguf"))
    ('Kimi-K2-00001-of-00004.gguf', None)

Not here: whether the members exist (``workbench.ggufio.inspect.split_members`` says which are missing).
"""

from __future__ import annotations

import re
from pathlib import Path

SPLIT_NAME = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def split_name(single: Path, no: int, count: int) -> Path:
    """The name of member ``no`` of ``count`` for a file that would be ``single`` unsplit."""
    return single.with_name(f"{single.stem}-{no:05d}-of-{count:05d}.gguf")


def member_names(path: Path) -> list[Path] | None:
    """Every member of the set ``path`` is named as part of, in order; None for a file not named like a split."""
    m = SPLIT_NAME.match(path.name)
    if not m:
        return None
    count = int(m["count"])
    return [path.with_name(f"{m['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]


def first_split(path: Path) -> Path | None:
    """Split 1 of the set ``path`` is named as part of (where tokenizer metadata lives), or None."""
    members = member_names(path)
    return members[0] if members else None
