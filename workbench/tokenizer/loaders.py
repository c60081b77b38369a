"""``load(path)``: tokenizer assets from whatever the user has, an HF snapshot folder or a GGUF file.

    >>> load("Kimi-K2-Thinking/").source, load("Kimi-K2-Thinking-Q2_K-00001-of-00008.gguf").source   # doctest: +SKIP
    ('hf-snapshot', 'gguf')

Not here: reading either kind (:mod:`workbench.tokenizer.assets`, :mod:`workbench.tokenizer.gguf_vocab`).
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.tokenizer.assets import TokenizerAssets, load_folder
from workbench.tokenizer.gguf_vocab import read_vocab_gguf


def load(path: str | os.PathLike[str], *, require_ranks: bool = True) -> TokenizerAssets:
    """Tokenizer assets from an HF snapshot folder (or its ``tokenizer_config.json``) or a GGUF file.

    ``require_ranks=False`` accepts a folder without ``tiktoken.model`` (a user who fetched only
    the small config files): the assets then carry the config, its special tokens and the
    template, and ``has_ranks`` is False.
    """
    p = Path(path)
    if p.suffix == ".gguf":
        return read_vocab_gguf(p)
    return load_folder(p, require_ranks=require_ranks)
