"""Kimi tokenizer assets: the special-token layout, loaders, a small vocabulary builder.

- :mod:`.special` the 256 special ids after the ranks, as data
- :mod:`.train`   build a Kimi-layout vocabulary folder (``tiktoken.model`` + config)
- :mod:`.assets`  load a folder; encode/decode through tiktoken and HF with the same ids
"""

from workbench.tokenizer.assets import TokenizerAssets, load
from workbench.tokenizer.special import KIMI_N_RANKS, SpecialToken, special_tokens
from workbench.tokenizer.train import build_vocab

__all__ = ["KIMI_N_RANKS", "SpecialToken", "TokenizerAssets", "build_vocab", "load", "special_tokens"]
