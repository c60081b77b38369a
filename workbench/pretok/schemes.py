"""Pre-tokenization schemes as data: each an ordered list of named regex alternatives.

A scheme's pattern is its alternatives joined with ``|``, in order: at each position the
first alternative that matches wins (leftmost-first, as in tiktoken, Python ``regex`` and
Oniguruma). Naming the alternatives lets the workbench say which one made each piece.

Syntax is that of the ``regex`` module in VERSION1 / Rust ``regex``: ``\\p{..}`` classes and
class intersection ``&&``. Kimi's Han handling rests on ``&&[^\\p{Han}]``; Python ``regex``
honours it only in VERSION1 (under VERSION0 the pattern compiles and silently gives wrong
pieces), which is why every engine compiles with V1 and the tests check it.

Sources:
- ``kimi-k2``: Moonshot AI, ``tokenization_kimi.py`` (``pat_str``), Kimi K2 model repos.
- ``o200k``: tiktoken ``tiktoken_ext/openai_public.py``, ``o200k_base`` (GPT-4o).
- ``cl100k``: tiktoken ``cl100k_base`` (GPT-4), in the form HF conversions use.

Not here: how pieces become tokens (BPE) — see ``workbench.tokenizer``.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.registry import Registry

_CONTRACTION = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"

# Kimi's letter classes: o200k's, minus Han (class intersection).
_KIMI_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]"
_KIMI_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]"
_O200K_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_O200K_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"


@dataclass(frozen=True)
class Branch:
    """One alternative of a scheme: a name for reports and its regex."""

    name: str
    pattern: str


@dataclass(frozen=True)
class Scheme:
    """A pre-tokenizer: ordered alternatives, joined with ``|`` into one pattern."""

    name: str
    description: str
    source: str
    branches: tuple[Branch, ...]

    @property
    def pattern(self) -> str:
        """The full regex, exactly as the upstream tokenizer writes it."""
        return "|".join(b.pattern for b in self.branches)

    @property
    def branch_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.branches)

    def branch(self, name: str) -> Branch:
        for b in self.branches:
            if b.name == name:
                return b
        raise KeyError(f"scheme {self.name!r} has no branch {name!r}; valid: {', '.join(self.branch_names)}")


SCHEMES: Registry[Scheme] = Registry("scheme")


def register_scheme(scheme: Scheme) -> Scheme:
    """Add a scheme to :data:`SCHEMES` (refuses a name already taken)."""
    return SCHEMES.register(scheme.name, scheme)


register_scheme(Scheme(
    name="kimi-k2",
    description="Kimi K2 (Moonshot AI): o200k-like, with Han runs isolated from other letters",
    source="moonshotai Kimi-K2 tokenization_kimi.py, pat_str",
    branches=(
        Branch("han", r"[\p{Han}]+"),
        Branch("word", rf"[^\r\n\p{{L}}\p{{N}}]?{_KIMI_UPPER}*{_KIMI_LOWER}+{_CONTRACTION}?"),
        Branch("word_upper", rf"[^\r\n\p{{L}}\p{{N}}]?{_KIMI_UPPER}+{_KIMI_LOWER}*{_CONTRACTION}?"),
        Branch("digits", r"\p{N}{1,3}"),
        Branch("punct", r" ?[^\s\p{L}\p{N}]+[\r\n]*"),
        Branch("newline", r"\s*[\r\n]+"),
        Branch("space", r"\s+(?!\S)"),
        Branch("space_rest", r"\s+"),
    ),
))

register_scheme(Scheme(
    name="o200k",
    description="GPT-4o (tiktoken o200k_base)",
    source="openai/tiktoken tiktoken_ext/openai_public.py, o200k_base",
    branches=(
        Branch("word", rf"[^\r\n\p{{L}}\p{{N}}]?{_O200K_UPPER}*{_O200K_LOWER}+{_CONTRACTION}?"),
        Branch("word_upper", rf"[^\r\n\p{{L}}\p{{N}}]?{_O200K_UPPER}+{_O200K_LOWER}*{_CONTRACTION}?"),
        Branch("digits", r"\p{N}{1,3}"),
        Branch("punct", r" ?[^\s\p{L}\p{N}]+[\r\n/]*"),
        Branch("newline", r"\s*[\r\n]+"),
        Branch("space", r"\s+(?!\S)"),
        Branch("space_rest", r"\s+"),
    ),
))

register_scheme(Scheme(
    name="cl100k",
    description="GPT-4 / GPT-3.5 (tiktoken cl100k_base)",
    source="openai/tiktoken tiktoken_ext/openai_public.py, cl100k_base (HF-compatible form)",
    branches=(
        Branch("contraction", _CONTRACTION),
        Branch("word", r"[^\r\n\p{L}\p{N}]?\p{L}+"),
        Branch("digits", r"\p{N}{1,3}"),
        Branch("punct", r" ?[^\s\p{L}\p{N}]+[\r\n]*"),
        Branch("newline", r"\s*[\r\n]+"),
        Branch("space", r"\s+(?!\S)"),
        Branch("space_rest", r"\s+"),
    ),
))
