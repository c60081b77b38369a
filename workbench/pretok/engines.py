"""Split engines: the libraries that run a scheme's regex over text.

An engine turns ``(text, scheme)`` into matches ``(start, end, branch)`` with character
offsets. Engines may leave gaps (text no alternative matched; tiktoken would drop it) and
may not know which alternative matched (``branch=None``); :mod:`workbench.pretok.split`
fills gaps and attributes branches so every engine yields the same kind of pieces.

- ``regex``: the reference — Python's ``regex`` module, compiled with VERSION1 so class
  intersection (``&&``) works; each alternative is a named group, so the branch comes free.
- ``tokenizers``: Hugging Face ``tokenizers``' ``Split`` pre-tokenizer (Oniguruma), the
  way HF conversions of Kimi's tokenizer run the same pattern.

Not here: llama.cpp's hand-written Kimi splitter and gigatoken (they expose tokens, not
boundaries; they need a probe vocabulary).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from importlib import metadata

import regex

from workbench.errors import InputError
from workbench.pretok.schemes import Scheme
from workbench.registry import Registry

Match = tuple[int, int, "str | None"]


class Engine(ABC):
    """Runs a scheme's pattern; knows no scheme itself."""

    name: str = ""
    description: str = ""
    #: True when :meth:`matches` reports the branch of each match itself.
    attributes_branches: bool = False

    @abstractmethod
    def matches(self, text: str, scheme: Scheme) -> list[Match]:
        """Matches in order, as ``(start, end, branch or None)``; gaps allowed."""

    def findall(self, text: str, scheme: Scheme) -> list[str]:
        """The matched substrings only (a fast path for :func:`split`)."""
        return [text[s:e] for s, e, _ in self.matches(text, scheme)]

    @property
    def version(self) -> str:
        """The version of the library behind the engine."""
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@lru_cache(maxsize=None)
def compile_v1(pattern: str) -> regex.Pattern:
    """Compile with the ``regex`` module in VERSION1 (``&&`` = class intersection)."""
    try:
        return regex.compile(pattern, flags=regex.V1)
    except regex.error as e:
        raise InputError(f"invalid regex {pattern!r}: {e}") from e


@lru_cache(maxsize=None)
def grouped(scheme: Scheme) -> regex.Pattern:
    """One named group per branch, so ``m.lastgroup`` names the alternative."""
    for b in scheme.branches:
        compile_v1(b.pattern)  # a bad alternative is reported alone, by its own text
    joined = "|".join(f"(?P<{b.name}>{b.pattern})" for b in scheme.branches)
    return compile_v1(joined)


class RegexEngine(Engine):
    name = "regex"
    description = "Python `regex` module, VERSION1 (the reference)"
    attributes_branches = True

    def matches(self, text: str, scheme: Scheme) -> list[Match]:
        return [(m.start(), m.end(), m.lastgroup) for m in grouped(scheme).finditer(text)]

    def findall(self, text: str, scheme: Scheme) -> list[str]:
        return compile_v1(scheme.pattern).findall(text)

    @property
    def version(self) -> str:
        return f"regex {metadata.version('regex')}"


@lru_cache(maxsize=None)
def _split_pretokenizer(pattern: str):
    from tokenizers import Regex, pre_tokenizers

    try:
        return pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)
    except Exception as e:  # tokenizers raises a bare Exception for Oniguruma errors
        raise InputError(f"invalid regex for tokenizers (Oniguruma) {pattern!r}: {e}") from e


class TokenizersEngine(Engine):
    name = "tokenizers"
    description = "Hugging Face `tokenizers` Split pre-tokenizer (Oniguruma)"

    def matches(self, text: str, scheme: Scheme) -> list[Match]:
        pieces = _split_pretokenizer(scheme.pattern).pre_tokenize_str(text)
        return [(s, e, None) for _, (s, e) in pieces]

    def findall(self, text: str, scheme: Scheme) -> list[str]:
        return [p for p, _ in _split_pretokenizer(scheme.pattern).pre_tokenize_str(text)]

    @property
    def version(self) -> str:
        return f"tokenizers {metadata.version('tokenizers')}"


ENGINES: Registry[Engine] = Registry("engine")
ENGINES.register("regex", RegexEngine())
ENGINES.register("tokenizers", TokenizersEngine())
