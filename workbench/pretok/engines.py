"""Split engines: the libraries that run a scheme's regex over text.

An engine turns ``(text, scheme)`` into matches ``(start, end, branch)`` with character
offsets. Engines may leave gaps (text no alternative matched; tiktoken would drop it) and
may not know which alternative matched (``branch=None``); :mod:`workbench.pretok.split`
fills gaps and attributes branches so every engine yields the same kind of pieces.

- ``regex``: the reference — Python's ``regex`` module, compiled with VERSION1 so class
  intersection (``&&``) works; each alternative is a named group, so the branch comes free.
- ``tokenizers``: Hugging Face ``tokenizers``' ``Split`` pre-tokenizer (Oniguruma), the
  way HF conversions of Kimi's tokenizer run the same pattern.
- ``llama.cpp``, ``gigatoken``, ``tiktoken``: libraries that return tokens, not boundaries,
  read through a probe vocabulary (:mod:`workbench.pretok.probed`, :mod:`workbench.pretok.probe`).

Every engine reports the library's ``version`` and a measured ``unicode_version``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cache, cached_property
from importlib import metadata

import regex

from workbench.errors import InputError
from workbench.pretok.schemes import Scheme
from workbench.registry import Registry

Match = tuple[int, int, "str | None"]

#: (Unicode version, a non-Han letter first assigned in it): how ``unicode_version`` measures.
#: Toto (14.0), Kawi (15.0), Todhri (16.0), Tangut Components Supplement (17.0).
UNICODE_LETTERS = (("14.0", "\U0001e290"), ("15.0", "\U00011f04"), ("16.0", "\U000105c0"), ("17.0", "\U00018d80"))


class Engine(ABC):
    """Runs a scheme's pattern; knows no scheme itself."""

    name: str = ""
    description: str = ""
    #: True when :meth:`matches` reports the branch of each match itself.
    attributes_branches: bool = False
    #: True when the engine runs the scheme's own pattern, so any scheme works; False when
    #: it has its own implementation of a few known schemes (others raise UnknownNameError).
    runs_pattern: bool = True

    @abstractmethod
    def matches(self, text: str, scheme: Scheme) -> list[Match]:
        """Matches in order, as ``(start, end, branch or None)``; gaps allowed."""

    def findall(self, text: str, scheme: Scheme) -> list[str]:
        """The matched substrings only (a fast path for :func:`split`)."""
        return [text[s:e] for s, e, _ in self.matches(text, scheme)]

    def prepare(self, texts: Iterable[str], scheme: Scheme) -> None:  # noqa: B027 (a hook: most engines need nothing)
        """Get ready to split many ``texts`` (engines that build per-text state do it once here)."""

    @property
    def version(self) -> str:
        """The version of the library behind the engine."""
        return ""

    @cached_property
    def unicode_version(self) -> str:
        """The newest Unicode version whose new letters the engine knows, *measured*: "17.0".

        No library here states its tables' version, so each engine splits ``"a" + letter``
        for one letter first assigned in each version of :data:`UNICODE_LETTERS` (kimi-k2):
        one piece means the engine knows it is a letter. ``""``: not even 14.0's.
        """
        from workbench.pretok.schemes import SCHEMES

        newest = ""
        for version, letter in UNICODE_LETTERS:
            if len(self.matches("a" + letter, SCHEMES["kimi-k2"])) != 1:
                break
            newest = version
        return newest

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@cache
def compile_v1(pattern: str) -> regex.Pattern:
    """Compile with the ``regex`` module in VERSION1 (``&&`` = class intersection)."""
    try:
        return regex.compile(pattern, flags=regex.V1)
    except regex.error as e:
        raise InputError(f"invalid regex {pattern!r}: {e}") from e


@cache
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


@cache
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


#: the regex engines here; the probe engines (llama.cpp, gigatoken, tiktoken) join from
#: :mod:`workbench.plugins.probe_engines` on first use
ENGINES: Registry[Engine] = Registry("engine", plugins="ENGINES")
ENGINES.register("regex", RegexEngine())
ENGINES.register("tokenizers", TokenizersEngine())
