"""The Kimi K2 special-token layout, as data: which token sits at which offset.

Kimi's ``tiktoken.model`` holds 163,584 BPE ranks; the 256 ids after them are all special.
A token's *offset* is its id minus the number of ranks, so a vocabulary of any size built
in the same layout puts each special token at ``n_ranks + offset``; slots not named here
are ``<|reserved_token_{id}|>``.

    >>> special_tokens(1000)[1002]
    SpecialToken(id=1002, content='<|im_end|>', special=True)
    >>> special_tokens(163584)[163600].content
    '<|reserved_token_163600|>'

``<|im_end|>`` (offset 2) ends every turn and is the right EOS for chat; old GGUF
conversions set EOS to ``[EOS]`` (offset 1). The tool-call markers and ``<think>`` /
``</think>`` are *not* flagged special in the official configs (they must survive
``skip_special_tokens``).

Source: the Kimi K2 / K2-Thinking / K2.5 / K2.6 ``tokenizer_config.json`` files
(``added_tokens_decoder``) and the Unsloth GGUF conversions.
"""

from __future__ import annotations

from typing import NamedTuple

#: ranks in the real Kimi K2 ``tiktoken.model``, and the special slots after them
KIMI_N_RANKS = 163_584
N_SPECIAL = 256

#: offset -> (content, special flag), for every named special token
NAMED: dict[int, tuple[str, bool]] = {
    0: ("[BOS]", True),
    1: ("[EOS]", True),
    2: ("<|im_end|>", True),
    3: ("<|im_user|>", True),
    4: ("<|im_assistant|>", True),
    6: ("<|start_header_id|>", True),
    7: ("<|end_header_id|>", True),
    9: ("[EOT]", True),
    10: ("<|im_system|>", True),
    11: ("<|tool_calls_section_begin|>", False),
    12: ("<|tool_calls_section_end|>", False),
    13: ("<|tool_call_begin|>", False),
    14: ("<|tool_call_argument_begin|>", False),
    15: ("<|tool_call_end|>", False),
    17: ("<|im_middle|>", True),
    18: ("<|media_begin|>", True),
    19: ("<|media_content|>", True),
    20: ("<|media_end|>", True),
    21: ("<|media_pad|>", True),
    22: ("<think>", False),
    23: ("</think>", False),
    254: ("[UNK]", True),
    255: ("[PAD]", True),
}

#: roles the checks and the GGUF writer look up by name
BOS, EOS_OLD, EOS, PAD, UNK = "[BOS]", "[EOS]", "<|im_end|>", "[PAD]", "[UNK]"


class SpecialToken(NamedTuple):
    id: int
    content: str
    special: bool


def reserved_name(token_id: int) -> str:
    """The name of an unnamed special slot: ``163600 -> '<|reserved_token_163600|>'``."""
    return f"<|reserved_token_{token_id}|>"


def special_tokens(n_ranks: int = KIMI_N_RANKS) -> dict[int, SpecialToken]:
    """All 256 special tokens of a Kimi-layout vocabulary with ``n_ranks`` BPE ranks, by id."""
    out = {}
    for offset in range(N_SPECIAL):
        tid = n_ranks + offset
        content, special = NAMED.get(offset, (reserved_name(tid), True))
        out[tid] = SpecialToken(tid, content, special)
    return out


def token_id(content: str, n_ranks: int = KIMI_N_RANKS) -> int:
    """The id of a named special token in the layout: ``("<|im_end|>", 163584) -> 163586``."""
    for offset, (name, _) in NAMED.items():
        if name == content:
            return n_ranks + offset
    raise KeyError(f"{content!r} is not a named Kimi special token")
