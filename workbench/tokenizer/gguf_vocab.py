"""Write tokenizer assets as GGUF tokenizer metadata, the way Kimi conversions carry them.

A vocab-only GGUF (no tensors) with ``general.architecture = deepseek2`` and the
``tokenizer.ggml.*`` keys of a Kimi conversion: ``model = gpt2``, ``pre = kimi-k2``, the
token list (ranks in GPT-2's byte-level spelling, then the 256 special tokens), token
types (NORMAL for ranks, CONTROL for special tokens, USER_DEFINED for the ones the config
does not flag special, such as ``<think>``), one merge per non-byte rank (:func:`merge_of`),
bos/eos/pad ids and the chat template. llama.cpp
loads it with ``vocab_only`` and tokenizes with its own Kimi splitter.

    >>> write_vocab_gguf(load("artifacts/kimi-tiny-vocab"), "artifacts/kimi-tiny-vocab.gguf")   # doctest: +SKIP

``eos`` picks the EOS token by text (default ``<|im_end|>``; ``"[EOS]"`` writes an old,
pre-fix file). Not here: model tensors (the GGUF package's tiny-model builder).
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import InputError
from workbench.files import atomic_path
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import BOS, EOS, PAD


def _byte_level(token: bytes, table: dict[int, str]) -> str:
    """GPT-2 byte-level spelling: ``b" a" -> "Ġa"``."""
    return "".join(table[b] for b in token)


def merge_of(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The one merge that makes ``token``: BPE on its bytes with only lower ranks, until two parts.

    This is how GGUF conversions of tiktoken vocabularies (Qwen, Kimi) derive merges, one per
    non-byte token, in rank order: ``(b"ab", {a:0, b:1, ab:2}) -> (b"a", b"b")``.
    """
    rank = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best = min(((ranks.get(parts[i] + parts[i + 1]), i) for i in range(len(parts) - 1)
                    if ranks.get(parts[i] + parts[i + 1], rank) < rank), default=None)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    if len(parts) != 2:
        raise InputError(f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens")
    return parts[0], parts[1]


def write_vocab_gguf(assets: TokenizerAssets, path: str | os.PathLike[str], *, eos: str = EOS,
                     chat_template: str | None = None) -> Path:
    """Write a vocab-only GGUF for ``assets``; atomic (temp file + rename)."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    table = bytes_to_unicode()
    tokens = [""] * assets.vocab_size
    types = [gguf.TokenType.UNUSED] * assets.vocab_size
    for token, rank in assets.ranks.items():
        tokens[rank], types[rank] = _byte_level(token, table), gguf.TokenType.NORMAL
    for t in assets.specials.values():
        if t.id >= assets.vocab_size:
            raise InputError(f"special token {t.content!r} has id {t.id} beyond the vocabulary ({assets.vocab_size})")
        tokens[t.id] = t.content
        types[t.id] = gguf.TokenType.CONTROL if t.special else gguf.TokenType.USER_DEFINED
    ids = {name: assets.special_id(name) for name in (BOS, eos, PAD)}
    missing = [n for n, i in ids.items() if i is None]
    if missing:
        raise InputError(f"{assets.path}: no special token {', '.join(missing)} in the vocabulary")
    merges = [merge_of(tok, assets.ranks) for tok, _ in sorted(assets.ranks.items(), key=lambda kv: kv[1]) if len(tok) > 1]

    out = Path(path)
    with atomic_path(out) as tmp:
        w = gguf.GGUFWriter(tmp, arch="deepseek2")
        w.add_name(f"{assets.path.name} (vocab only)")
        # the minimal hyper-parameters llama.cpp reads before it stops at vocab_only
        w.add_block_count(1)
        w.add_context_length(262144)
        w.add_embedding_length(64)
        w.add_feed_forward_length(128)
        w.add_head_count(1)
        w.add_head_count_kv(1)
        w.add_layer_norm_rms_eps(1e-6)
        w.add_vocab_size(assets.vocab_size)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("kimi-k2")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges([f"{_byte_level(left, table)} {_byte_level(right, table)}" for left, right in merges])
        w.add_bos_token_id(ids[BOS])
        w.add_eos_token_id(ids[eos])
        w.add_pad_token_id(ids[PAD])
        w.add_add_bos_token(False)
        template = chat_template if chat_template is not None else assets.chat_template
        if template:
            w.add_chat_template(template)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return out
