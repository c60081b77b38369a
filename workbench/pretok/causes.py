"""Name the likely cause of a place where two splits disagree.

A divergence is a stretch of text that two splits cut differently. Its cause is the first
rule below that the stretch triggers, most specific first, so that the same phenomenon
gets the same name in ``diff``, ``scan`` and ``find_divergences``. What the text holds comes
before how the pieces were made: a Han, contraction, mark, digit or case stretch is named for
it even when one side's piece is one no alternative makes there (``unmatched`` is what is left
when no such content explains the stretch, e.g. a gap tiktoken drops), and the generic rules
(line breaks, spaces, letters, punctuation) come last:

    >>> classify("中文English", ["中文", "English"], ["中文English"])
    'han'
    >>> classify("*/\\n/", ["*/\\n", "/"], ["*/\\n/"])
    'slash-tail'

This is a heuristic over the stretch's characters, not a proof: a stretch that mixes
phenomena is named after the most specific one. ``unicode-version`` uses Python's own
``unicodedata`` as the yardstick of an older Unicode: characters it does not know but the
``regex`` module does are recent, and engines with older tables misclassify them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import regex

#: Cause name -> what it means, in the order the rules are tried.
CAUSES: dict[str, str] = {
    "unicode-version": "characters newer than some engine's Unicode tables (e.g. CJK Extension J, Unicode 17)",
    "han": "Han characters split from or glued to their neighbours differently",
    "slash-tail": "a punctuation piece swallows '/' after line breaks (o200k's [\\r\\n/]* tail)",
    "contraction": "an apostrophe contraction ('s 't 're 've 'm 'll 'd) attached differently",
    "mark": "combining marks handled differently",
    "digits": "digits grouped differently",
    "case": "a letter-case transition (camelCase, ALLCaps) cut differently",
    "unmatched": "a piece no alternative produces there, and no content rule above explains it: a gap (tiktoken "
                 "drops it) or an engine at odds with the pattern",
    "newline": "line breaks grouped differently",
    "whitespace": "spaces or tabs grouped differently",
    "letters": "letters of some script classified differently",
    "punct": "punctuation or symbols grouped differently",
}

#: what the stretch holds, most specific first: tried before ``unmatched``
_CONTENT: list[tuple[str, regex.Pattern]] = [
    ("han", regex.compile(r"\p{Han}")),
    ("slash-tail", regex.compile(r"[\r\n]/")),
    ("contraction", regex.compile(r"(?i)'(?:s|t|re|ve|m|ll|d)")),
    ("mark", regex.compile(r"\p{M}")),
    ("digits", regex.compile(r"\p{N}")),
    ("case", regex.compile(r"\p{Ll}\p{Lu}|\p{Lu}\p{Ll}|\p{Lt}")),
]
#: generic classes: tried after ``unmatched``
_GENERIC: list[tuple[str, regex.Pattern]] = [
    ("newline", regex.compile(r"[\r\n]")),
    ("whitespace", regex.compile(r"\s")),
    ("letters", regex.compile(r"\p{L}")),
]


_ASSIGNED = regex.compile(r"\P{Cn}")


def is_recent(ch: str) -> bool:
    """Assigned in ``regex``'s Unicode tables but not in Python's (older) ``unicodedata``.

    ``"\U000323b0"`` (CJK Ext. J, Unicode 17) -> True with Python 3.11's Unicode 14.
    """
    return unicodedata.category(ch) == "Cn" and _ASSIGNED.match(ch) is not None


def classify(
    text: str,
    pieces_a: Sequence[str],
    pieces_b: Sequence[str],
    branches: Sequence[str | None] = (),
    *,
    across_engines: bool = False,
) -> str:
    """The cause name (a key of :data:`CAUSES`) for a stretch cut two ways.

    ``branches`` are the branch names of the pieces on both sides. Characters newer than
    Python's Unicode tables, on two different engines, are ``unicode-version`` (one engine's
    tables may not know them); then the content rules; then a ``None`` among the branches (a
    piece no alternative produces) is ``unmatched``; then the generic rules, and ``punct``.
    """
    if across_engines and any(is_recent(ch) for ch in text):
        return "unicode-version"
    for name, rule in _CONTENT:
        if name == "slash-tail":
            if any(rule.search(p) for p in (*pieces_a, *pieces_b)):
                return name
        elif rule.search(text):
            return name
    if any(b is None for b in branches):
        return "unmatched"
    for name, rule in _GENERIC:
        if rule.search(text):
            return name
    return "punct"
