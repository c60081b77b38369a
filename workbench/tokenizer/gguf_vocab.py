"""Tokenizer assets as GGUF tokenizer metadata, the way Kimi conversions carry them: read and write.

A vocab-only GGUF (no tensors) with ``general.architecture = deepseek2`` and the
``tokenizer.ggml.*`` keys of a Kimi conversion: ``model = gpt2``, ``pre = kimi-k2``, the
token list (ranks in GPT-2's byte-level spelling, then the 256 special tokens), token
types (NORMAL for ranks, CONTROL for special tokens, USER_DEFINED for the ones the config
does not flag special, such as ``<think>``), one merge per non-byte rank (:func:`merge_of`),
bos/eos/pad ids and the chat template. llama.cpp
loads it with ``vocab_only`` and tokenizes with its own Kimi splitter.

    >>> write_vocab_gguf(load("artifacts/kimi-tiny-vocab"), "artifacts/kimi-tiny-vocab.gguf")   # doctest: +SKIP

``eos`` picks the EOS token by text (default ``<|im_end|>``; ``"[EOS]"`` writes an old,
pre-fix file). ``control_all=True`` types every special slot CONTROL, as llama.cpp's
``convert_hf_to_gguf.py`` does for Kimi (``<think>`` and the tool markers included).

:func:`read_vocab_gguf` goes the other way: it turns ``tokenizer.ggml.tokens`` back into
tiktoken ranks (NORMAL tokens, byte-level spelling undone) and special tokens (every other
type; CONTROL counts as special), so the same checks and encoders run on a user's GGUF.
Only the metadata is read (through the header index of ``workbench.gguffile``; tensor data is never touched).
A later split of a set has no tokenizer keys: the error names split 1.
Not here: the format itself (byte-level spelling, merges, the generic BPE writer:
:mod:`workbench.gguffile.bpe`), model tensors (``workbench.models``).
"""

from __future__ import annotations

import os
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.files import atomic_path
from workbench.gguffile.bpe import add_minimal_hparams, byte_level, byte_table, finish, merge_of
from workbench.gguffile.splits import first_split
from workbench.pretok.schemes import SCHEMES
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import BOS, EOS, PAD, SpecialToken

#: GGUF key -> the tokenizer_config.json role it names
ROLE_KEYS = {"bos": Keys.Tokenizer.BOS_ID, "eos": Keys.Tokenizer.EOS_ID,
             "pad": Keys.Tokenizer.PAD_ID, "unk": Keys.Tokenizer.UNK_ID}


def add_tokenizer(writer, assets: TokenizerAssets, *, eos: str = EOS, chat_template: str | None = None,
                  control_all: bool = False) -> None:
    """Add the ``tokenizer.ggml.*`` keys (and the chat template) of ``assets`` to a ``gguf.GGUFWriter``."""
    import gguf

    table = byte_table()
    tokens = [""] * assets.vocab_size
    types = [gguf.TokenType.UNUSED] * assets.vocab_size
    for token, rank in assets.ranks.items():
        tokens[rank], types[rank] = byte_level(token, table), gguf.TokenType.NORMAL
    for t in assets.specials.values():
        if t.id >= assets.vocab_size:
            raise InputError(f"special token {t.content!r} has id {t.id} beyond the vocabulary ({assets.vocab_size})")
        tokens[t.id] = t.content
        types[t.id] = gguf.TokenType.CONTROL if t.special or control_all else gguf.TokenType.USER_DEFINED
    ids = {name: assets.special_id(name) for name in (BOS, eos, PAD)}
    missing = [n for n, i in ids.items() if i is None]
    if missing:
        raise InputError(f"{assets.path}: no special token {', '.join(missing)} in the vocabulary")
    merges = [merge_of(tok, assets.ranks) for tok, _ in sorted(assets.ranks.items(), key=lambda kv: kv[1]) if len(tok) > 1]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("kimi-k2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([f"{byte_level(left, table)} {byte_level(right, table)}" for left, right in merges])
    writer.add_bos_token_id(ids[BOS])
    writer.add_eos_token_id(ids[eos])
    writer.add_pad_token_id(ids[PAD])
    writer.add_add_bos_token(False)
    template = chat_template if chat_template is not None else assets.chat_template
    if template:
        writer.add_chat_template(template)


def write_vocab_gguf(assets: TokenizerAssets, path: str | os.PathLike[str], *, eos: str = EOS,
                     chat_template: str | None = None, control_all: bool = False) -> Path:
    """Write a vocab-only GGUF for ``assets``; atomic (temp file + rename)."""
    import gguf

    out = Path(path)
    with atomic_path(out) as tmp:
        w = gguf.GGUFWriter(tmp, arch="deepseek2")
        w.add_name(f"{assets.path.name} (vocab only)")
        add_minimal_hparams(w, assets.vocab_size)
        add_tokenizer(w, assets, eos=eos, chat_template=chat_template, control_all=control_all)
        finish(w)
    return out


def read_vocab_gguf(path: str | os.PathLike[str], *, header=None) -> TokenizerAssets:
    """Tokenizer assets from a GGUF file's metadata (the first file of a split set); ``path`` may be remote
    (``hf://…``, ``https://…``: any member of a set, or a Hub quant folder), then llama.cpp is not among the
    assets' implementations. ``header``: that file's header, already read (a :class:`workbench.gguffile.Header`)."""
    import gguf

    from workbench.gguffile import read_header
    from workbench.gguffile.remote import Url, is_url, read_first_header

    if header is not None:
        p = Url(path) if is_url(path) else Path(path)
    elif is_url(path):  # split 1's header by range requests (hf://, https://), or from the header cache
        p, header = read_first_header(str(path))
    else:
        p = Path(path)
        header = read_header(p)  # a header index: 0.1 s for a real Kimi header, where GGUFReader takes ~10 s
    try:
        metadata = {name: f.value for name, f in header.fields.items() if f.count is None}
        if Keys.Tokenizer.LIST not in header.fields:
            no = metadata.get(Keys.Split.LLM_KV_SPLIT_NO)
            if isinstance(no, int) and no:
                first = first_split(p)
                raise InputError(f"{p}: split {no + 1} of {metadata.get('split.count', '?')} holds "
                                 f"no tokenizer metadata; pass split 1{f' ({first.name})' if first else ''}")
            raise InputError(f"{p}: no tokenizer metadata (tokenizer.ggml.tokens is missing)")
        model = metadata.get(Keys.Tokenizer.MODEL)
        if model != "gpt2":
            raise InputError(f"{p}: tokenizer.ggml.model is {model!r}; Kimi vocabularies are byte-level BPE ('gpt2')")
        for key in (Keys.Tokenizer.PRE, Keys.Tokenizer.CHAT_TEMPLATE):
            if key in header.fields and header.fields[key].type_name != "string":
                raise InputError(f"{p}: {key} is {header.fields[key].type_name}, expected a string")
        for key in ROLE_KEYS.values():
            header.int_value(key)  # an id of another type is a one-line error here, not a surprise later
        tokens = header.strings(Keys.Tokenizer.LIST)
        types = header.ints(Keys.Tokenizer.TOKEN_TYPE) if Keys.Tokenizer.TOKEN_TYPE in header.fields else \
            [int(gguf.TokenType.NORMAL)] * len(tokens)
    finally:
        header.close()
    if len(types) != len(tokens):
        raise InputError(f"{p}: {len(types)} token types for {len(tokens)} tokens")

    decoder = {c: b for b, c in byte_table().items()}
    ranks: dict[bytes, int] = {}
    specials: dict[int, SpecialToken] = {}
    for i, (text, kind) in enumerate(zip(tokens, types)):
        if kind != gguf.TokenType.NORMAL:
            specials[i] = SpecialToken(i, text, kind == gguf.TokenType.CONTROL)
            continue
        try:
            token = bytes(decoder[c] for c in text)
        except KeyError:
            raise InputError(f"{p}: token {i} {text!r} is NORMAL but not in GPT-2 byte-level spelling") from None
        if token in ranks:
            raise InputError(f"{p}: tokens {ranks[token]} and {i} are the same bytes {token!r}")
        ranks[token] = i
    if not ranks:
        raise InputError(f"{p}: no NORMAL tokens in tokenizer.ggml.token_type; not a BPE vocabulary")
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise InputError(f"{p}: NORMAL tokens are not the first {len(ranks)} ids; not a tiktoken-derived vocabulary")

    config = {}
    for role, key in ROLE_KEYS.items():
        tid = metadata.get(key)
        config[f"{role}_token"] = tokens[tid] if isinstance(tid, int) and 0 <= tid < len(tokens) else None
    pre = metadata.get(Keys.Tokenizer.PRE, "kimi-k2")
    pattern = SCHEMES[pre].pattern if pre in set(SCHEMES) else SCHEMES["kimi-k2"].pattern
    return TokenizerAssets(p, ranks, specials, config, metadata.get(Keys.Tokenizer.CHAT_TEMPLATE), pattern,
                           source="gguf", metadata=metadata, token_types=[int(t) for t in types])
