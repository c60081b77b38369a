"""Known, documented divergences: differences between implementations that are measured, explained
and cited, so that a check can report them as *expected* rather than as new faults.

Each entry is keyed by what differs and maps a cause name (from
:data:`workbench.pretok.causes.CAUSES`, :data:`workbench.tokenizer.causes.CAUSES` or the
renderer parity statuses) to the reason, with its source. A divergence is known only when
*every* cause found for it is listed: a planted or new fault (digits grouped by two, a merge
that differs) is never excused by a known one next to it.

    >>> known_reasons(SPLIT, ("llama.cpp", "kimi-k2"), ["case", "mark"]) is not None
    True
    >>> known_reasons(SPLIT, ("llama.cpp", "kimi-k2"), ["case", "digits"]) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_SPLITTER = ("llama.cpp's kimi-k2 pre-tokenizer is a hand-written splitter (src/unicode.cpp, "
             "unicode_regex_split_custom_kimi_k2), not the published regex")


@dataclass(frozen=True)
class Known:
    """Why one pair differs (``why``), and what each cause of it means there."""

    why: str
    causes: dict[str, str]


#: (engine, scheme) -> why that engine cuts text differently from the reference regex
SPLIT: dict[tuple[str, str], Known] = {
    ("llama.cpp", "kimi-k2"): Known(_SPLITTER, {
        "case": "its letter run has no case classes ('Pattern 2 & 3'), so camelCase stays whole",
        "han": "unicode_cpt_is_han lists the CJK ideograph blocks only, so 々 and 〇 (Script=Han) are not Han there",
        "mark": "a combining mark after a letter run is cut off as its own piece (شكرا|ً)",
        "contraction": "a contraction followed by a mark or a case change is cut with it",
        "letters": "modifier and other letters next to upper case follow its single letter run",
        "unmatched": "its single letter run makes pieces no alternative of the regex makes",
        "whitespace": "a space or control character before a letter run it cuts differently",
        "unicode-version": "its Unicode tables (src/unicode-data.cpp) are older than the regex module's",
    }),
}

#: (implementation a, implementation b) -> why their token ids differ
TOKENS: dict[tuple[str, str], Known] = {
    (a, "llama.cpp"): Known("llama.cpp applies the same merges to pre-tokens of its own (see test_pretokenizer_parity)", {
        "pre-tokenization": _SPLITTER,
        "special-tokens": "llama.cpp parses the strings of <think>, </think> and the tool markers into their ids "
                          "(GGUF USER_DEFINED tokens) even in plain text; tiktoken encodes them as text",
    }) for a in ("tiktoken", "hf")
}

#: renderer -> why it renders the suite differently from HF (causes from :func:`render_difference`)
RENDER: dict[str, Known] = {
    "llama.cpp": Known("llama.cpp's built-in kimi-k2 formatter (what llama-server --no-jinja runs) is its own code, "
                       "not this template", {"no-default-system": "it inserts no default system prompt"}),
    "llama-server": Known("llama-server keeps earlier turns' reasoning unless the request says otherwise "
                          "(--reasoning-preserve is its default: common/arg.cpp; common/chat.cpp sets preserve_thinking "
                          "for the template)", {
        "preserve-reasoning-default": "Moonshot's default is preserve_thinking=false; send chat_template_kwargs "
                                      '{"preserve_thinking": false} (RemoteChat does) or start it with '
                                      "--no-reasoning-preserve"}),
    "moonshot": Known("Moonshot's K2.5/K2.6 tokenizer passes what HF-semantics runtimes leave out", {
        "tools-ts": "tools_ts_str, a TypeScript-style declaration of the key-sorted tools, where a runtime without "
                    "it prints JSON; fix: pass tools_ts_str as a template kwarg (LocalChat does; RemoteChat sends "
                    "it in chat_template_kwargs)"}),
}

_SYSTEM_TURN = "<|im_system|>system<|im_middle|>"
_END = "<|im_end|>"


def render_difference(baseline: str, text: str, *, renderer: str = "", tools: bool = False) -> str:
    """How a renderer's prompt differs from the baseline's: ``no-default-system`` when it is the baseline
    without its leading system turn (a template's default system prompt); ``tools-ts`` for ``moonshot`` on a
    conversation with tools (its only other inputs are the tool declarations); else ``differs``."""
    if renderer == "moonshot" and tools:
        return "tools-ts"
    if baseline.startswith(_SYSTEM_TURN) and _END in baseline:
        if baseline[baseline.index(_END) + len(_END):] == text:
            return "no-default-system"
    return "differs"


def known_reasons(table: dict, key, causes: Iterable[str]) -> str | None:
    """Why, with each cause's meaning, when every one of ``causes`` is known for ``key``; else None."""
    entry = table.get(key)
    causes = list(dict.fromkeys(causes))
    if entry is None or not causes or any(c not in entry.causes for c in causes):
        return None
    return f"{entry.why}: " + "; ".join(f"{c}: {entry.causes[c]}" for c in causes)
