"""Build a small vocabulary in the Kimi layout, written in the official on-disk formats.

The real ``tiktoken.model`` (163,584 ranks) cannot be shipped or downloaded here, so the
workbench tests its loaders and checks on a vocabulary it builds itself, laid out exactly
like Kimi's: byte-level BPE ranks trained with the Kimi pre-tokenizer on ``data/corpus``
(by HF ``tokenizers``' trainer, not our own BPE), then the 256 special ids at
``n_ranks + offset`` (:mod:`workbench.tokenizer.special`). It is written as Moonshot ships
it — a folder with ``tiktoken.model`` and ``tokenizer_config.json`` — so the same loaders
read it and the user's files.

    >>> folder = build_vocab("artifacts/kimi-tiny-vocab")      # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())                # doctest: +SKIP
    ['tiktoken.model', 'tokenizer_config.json']

Same corpus and size -> the same bytes. Not here: GGUF tokenizer metadata (see the GGUF
package), chat templates (``workbench.chat``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from pathlib import Path

from workbench.errors import InputError
from workbench.files import write_text_atomic
from workbench.pretok.schemes import SCHEMES
from workbench.tokenizer.special import BOS, EOS, EOS_OLD, NAMED, PAD, UNK

#: the corpus the repository ships (found beside the package in a source checkout)
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: ``"Ġ" -> 32`` (the table HF byte-level BPE uses)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {c: b for b, c in bytes_to_unicode().items()}


def train_ranks(texts: Iterable[str], *, vocab_size: int = 4096, min_frequency: int = 2) -> dict[bytes, int]:
    """Byte-level BPE ranks (token bytes -> rank) trained with the Kimi pre-tokenizer.

    Ranks 0-255 are the single bytes in byte order; rank ``256 + i`` is the result of the
    trainer's ``i``-th merge, which is what tiktoken's merge-by-lowest-rank expects.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SCHEMES["kimi-k2"].pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(texts, trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    decode = _byte_decoder()
    ranks = {bytes([b]): b for b in range(256)}
    for left, right in (m.split(" ") if isinstance(m, str) else m for m in merges):
        token = bytes(decode[c] for c in left + right)
        ranks.setdefault(token, len(ranks))
    return ranks


def tokenizer_config(n_ranks: int, *, eos: str = EOS, chat_template: str | None = None) -> dict:
    """A ``tokenizer_config.json`` shaped like Moonshot's, for a vocabulary of ``n_ranks``."""
    config: dict = {
        "added_tokens_decoder": {
            str(n_ranks + off): {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False, "special": special}
            for off, (content, special) in sorted(NAMED.items())
        },
        "additional_special_tokens": [c for off, (c, s) in sorted(NAMED.items()) if s and c not in (BOS, EOS_OLD, UNK, PAD)],
        "bos_token": BOS,
        "eos_token": eos,
        "pad_token": PAD,
        "unk_token": UNK,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 262144,
        "tokenizer_class": "TikTokenTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", None]},
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    return config


def write_tiktoken_model(ranks: dict[bytes, int], path: Path) -> None:
    """``base64(token) rank`` per line, by rank: tiktoken's ``load_tiktoken_bpe`` format."""
    lines = (f"{base64.b64encode(tok).decode()} {rank}\n" for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]))
    write_text_atomic(path, "".join(lines))


def build_vocab(
    out_dir: str | os.PathLike[str],
    *,
    corpus: Iterable[str | os.PathLike[str]] | None = None,
    vocab_size: int = 4096,
    old: bool = False,
    chat_template: str | None = None,
) -> Path:
    """Train and write a Kimi-layout vocabulary folder; returns its path.

    ``corpus``: UTF-8 files to train on (default: the repository's ``data/corpus/*.txt``).
    ``old=True`` writes the pre-fix config (EOS = ``[EOS]``) for demos of the EOS check.
    """
    files = [Path(p) for p in corpus] if corpus is not None else sorted(DEFAULT_CORPUS.glob("*.txt"))
    if not files:
        raise InputError(f"no training text: {DEFAULT_CORPUS} has no *.txt files; pass corpus=[...] files")
    texts = []
    for f in files:
        try:
            texts.append(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read training text {f}: {e}") from e
    ranks = train_ranks(texts, vocab_size=vocab_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tiktoken_model(ranks, out / "tiktoken.model")
    config = tokenizer_config(len(ranks), eos=EOS_OLD if old else EOS, chat_template=chat_template)
    write_text_atomic(out / "tokenizer_config.json", json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    return out
