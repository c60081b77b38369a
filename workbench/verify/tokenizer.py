"""Checks on tokenizer assets: the EOS fix, the special-token layout, ids across implementations.

Stable check ids: ``eos-token``, ``special-token-layout``, ``special-token-ids``.
"""

from __future__ import annotations

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


def check_layout(assets: TokenizerAssets, report: Report) -> None:
    n, bad = assets.n_ranks, []
    for offset in range(N_SPECIAL):
        tok = assets.specials.get(n + offset)
        want, special = NAMED.get(offset, (reserved_name(n + offset), True))
        if tok is None:
            bad.append(f"id {n + offset} missing (expected {want})")
        elif tok.content != want:
            bad.append(f"id {n + offset} is {tok.content!r}, expected {want!r}")
        elif tok.special != special:
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
    """Each named special token: one id in tiktoken and HF, decoding back to its own text."""
    problems = []
    for offset, (content, _) in NAMED.items():
        want = assets.n_ranks + offset
        for impl in ("tiktoken", "hf"):
            ids = assets.encode(content, impl=impl)
            if ids != [want]:
                problems.append(f"{content} encodes to {ids} with {impl}, expected [{want}]")
            elif (text := assets.decode(ids, impl=impl)) != content:
                problems.append(f"{content} (id {want}) decodes to {text!r} with {impl}")
    for p in problems[:10]:
        report.add("special-token-ids", "error", p)
    if not problems:
        report.add("special-token-ids", "info", f"{len(NAMED)} special tokens: same id in tiktoken and HF, decode to themselves")
