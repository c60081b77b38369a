"""Checks on tokenizer assets: the EOS fix, the special-token layout, ids across implementations.

Stable check ids: ``eos-token``, ``special-token-layout``, ``special-token-ids``.
``special-token-ids`` runs every implementation the assets offer (tiktoken and HF; llama.cpp
too for a GGUF): each named token is one id, decodes back to its own text, and the tokens
the official configs do not flag special (``<think>``, ``</think>``, tool markers) survive a
plain decode — an implementation that drops them hides reasoning and tool calls. For a GGUF
that plain decode is llama.cpp's (its tiktoken/HF flags are copied from the token types).
"""

from __future__ import annotations

from workbench.errors import InputError
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import EOS, EOS_OLD, N_SPECIAL, NAMED, reserved_name
from workbench.verify.report import Report


def check_eos(eos: str | None, report: Report, *, fix: str) -> None:
    if eos == EOS:
        report.add("eos-token", "info", f"EOS is {EOS}, which ends every turn")
    elif eos == EOS_OLD:
        report.add("eos-token", "error", f"EOS is {EOS_OLD}, which never ends a chat turn: generation runs on past "
                                         f"{EOS}. Fix: {fix}")
    else:
        report.add("eos-token", "error", f"EOS is {eos!r}; chat needs {EOS}. Fix: {fix}")


def check_layout(assets: TokenizerAssets, report: Report, *, flags: bool = True) -> None:
    """Named tokens at their offsets, reserved names elsewhere; ``flags=False`` skips the special flags
    (a GGUF's are its token types, which ``gguf-tokenizer-keys`` checks)."""
    n, bad = assets.n_ranks, []
    for offset in range(N_SPECIAL):
        tok = assets.specials.get(n + offset)
        want, special = NAMED.get(offset, (reserved_name(n + offset), True))
        if tok is None:
            bad.append(f"id {n + offset} missing (expected {want})")
        elif tok.content != want:
            bad.append(f"id {n + offset} is {tok.content!r}, expected {want!r}")
        elif flags and tok.special != special:
            bad.append(f"{want} special={tok.special}, expected {special}")
    extra = [t for t in assets.specials.values() if not n <= t.id < n + N_SPECIAL]
    bad += [f"{t.content!r} at id {t.id}, outside the {N_SPECIAL} special slots" for t in extra]
    if assets.vocab_size != n + N_SPECIAL:
        bad.append(f"vocabulary size {assets.vocab_size} != ranks {n} + {N_SPECIAL}")
    for b in bad[:10]:
        report.add("special-token-layout", "error", b)
    if not bad:
        report.add("special-token-layout", "info", f"{len(NAMED)} named special tokens at their offsets after {n:,} ranks")


def check_ids(assets: TokenizerAssets, report: Report) -> None:
    """Each named special token: one id in every implementation, decoding back to its own text."""
    problems = [p for impl in assets.impls for p in id_problems(assets, impl)]
    for p in problems[:12]:
        report.add("special-token-ids", "error", p)
    if len(problems) > 12:
        report.add("special-token-ids", "error", f"... and {len(problems) - 12} more")
    if not problems:
        report.add("special-token-ids", "info", f"{len(NAMED)} special tokens: same id in {', '.join(assets.impls)}, "
                                                "each decodes to itself")


def id_problems(assets: TokenizerAssets, impl: str) -> list[str]:
    """What is wrong with the named special tokens in one implementation: one line each (none: all good)."""
    try:
        return [p for offset, (content, special) in NAMED.items()
                for p in _one_id(assets, impl, content, assets.n_ranks + offset, special)]
    except InputError as e:
        return [f"{impl}: {e}"]


def _one_id(assets: TokenizerAssets, impl: str, content: str, want: int, special: bool) -> list[str]:
    ids = assets.encode(content, impl=impl)
    if ids != [want]:
        shift = f" (off by {ids[0] - want:+d})" if len(ids) == 1 else ""
        return [f"{content} encodes to {ids} with {impl}, expected [{want}]{shift}"]
    if (text := assets.decode(ids, impl=impl)) != content:
        return [f"{content} (id {want}) decodes to {text!r} with {impl}"]
    # a GGUF's tiktoken/HF flags are copied from its token types; the plain decode that matters there is llama.cpp's
    plain = impl == "llama.cpp" or assets.source != "gguf"
    if not special and plain and (text := assets.decode(ids, impl=impl, special=False)) != content:
        why = (": llama-cpp-python detokenizes generated text this way; the GGUF types the token CONTROL, "
               "USER_DEFINED keeps it") if impl == "llama.cpp" else ""
        return [f"{content} (id {want}) decodes to {text!r} with {impl} when special tokens are skipped, "
                f"so it vanishes from generated text{why}"]
    return []
