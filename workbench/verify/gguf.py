"""Checks on a GGUF file's tokenizer metadata: the keys llama.cpp reads for a Kimi vocabulary.

Stable check id: ``gguf-tokenizer-keys`` — ``tokenizer.ggml.model = gpt2``, ``pre = kimi-k2``
(llama.cpp picks its Kimi splitter by that name), bos / pad ids on ``[BOS]`` / ``[PAD]``,
``add_bos_token`` (llama.cpp prepends ``[BOS]`` when it is true, the template and Moonshot's
tokenizer do not), token types against the special flags, and a chat template. The EOS key
is the ``eos-token`` check's.
"""

from __future__ import annotations

from gguf import Keys, TokenType

from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.gguf_vocab import ROLE_KEYS
from workbench.tokenizer.special import BOS, NAMED, PAD
from workbench.verify.report import Report

CHECK = "gguf-tokenizer-keys"


def check_gguf_keys(assets: TokenizerAssets, report: Report) -> None:
    meta = assets.metadata
    pre = meta.get(Keys.Tokenizer.PRE)
    if pre == "kimi-k2":
        report.add(CHECK, "info", "tokenizer.ggml.model = gpt2, pre = kimi-k2 (llama.cpp's Kimi splitter)")
    elif pre is None:
        report.add(CHECK, "error", "tokenizer.ggml.pre is missing: llama.cpp falls back to its default pre-tokenizer, "
                                   "which splits Kimi text differently; set it to 'kimi-k2'")
    else:
        report.add(CHECK, "error", f"tokenizer.ggml.pre is {pre!r}; a Kimi vocabulary needs 'kimi-k2'")
    for role, want in (("bos", BOS), ("pad", PAD)):
        key, have = ROLE_KEYS[role], meta.get(ROLE_KEYS[role])
        expected = assets.special_id(want)
        if have is None:
            report.add(CHECK, "warning", f"{key} is missing (expected {expected}, {want})")
        elif have != expected:
            report.add(CHECK, "error", f"{key} is {have} ({assets.role(role)!r}), expected {expected} ({want})")
    if meta.get(Keys.Tokenizer.ADD_BOS):
        report.add(CHECK, "warning", f"tokenizer.ggml.add_bos_token is true: llama.cpp prepends {BOS} to every prompt, "
                                     "which neither the chat template nor Moonshot's tokenizer does")
    _types(assets, report)
    if assets.chat_template:
        report.add(CHECK, "info", f"tokenizer.chat_template present ({len(assets.chat_template):,} characters)")
    else:
        report.add(CHECK, "warning", "no tokenizer.chat_template: llama.cpp guesses a chat format, llama-server --jinja "
                                     "has nothing to render; add the Kimi template")


def _types(assets: TokenizerAssets, report: Report) -> None:
    types = assets.token_types or []
    n = assets.n_ranks
    control_not_special, not_control = [], []
    for offset, (content, special) in NAMED.items():
        tid = n + offset
        if tid >= len(types):
            continue
        if special and types[tid] != TokenType.CONTROL:
            not_control.append(content)
        elif not special and types[tid] == TokenType.CONTROL:
            control_not_special.append(content)
    if not_control:
        report.add(CHECK, "error", f"{', '.join(not_control)} flagged special in the official config but not CONTROL "
                                   "in the GGUF: llama.cpp would match them inside plain text and print them")
    if control_not_special:
        report.add(CHECK, "warning", f"{', '.join(control_not_special)} are CONTROL here but not special in the official "
                                     "config (llama.cpp's converter types every special slot CONTROL): llama.cpp drops "
                                     "them from text detokenized without special tokens; USER_DEFINED keeps them")
    if not not_control and not control_not_special:
        report.add(CHECK, "info", "token types match the special flags (CONTROL for special, USER_DEFINED for "
                                  "<think>, </think> and the tool markers)")
