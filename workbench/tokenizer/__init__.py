"""Kimi tokenizer assets: the special-token layout, loaders, a small vocabulary builder.

- :mod:`.special` the 256 special ids after the ranks, as data
- :mod:`.train`   build a Kimi-layout vocabulary folder (``tiktoken.model`` + config)
- :mod:`.assets`  the assets of a folder; encode/decode through tiktoken, HF and llama.cpp with the same ids
- :mod:`.gguf_vocab` the same assets from a GGUF's metadata, and a Kimi vocabulary written as one
- :mod:`.loaders` ``load(path)``: either
- :mod:`.parity`  token-id parity of tiktoken, HF and llama.cpp on a corpus, with causes
  (:mod:`.encoders` the three behind one interface, :mod:`.causes` the evidence; llama.cpp's
  pre-tokens come from the pretok ``llama.cpp`` engine, :mod:`workbench.pretok.probe`)
"""

from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.gguf_vocab import write_vocab_gguf
from workbench.tokenizer.loaders import load
from workbench.tokenizer.parity import TokenParityReport, token_parity
from workbench.tokenizer.special import KIMI_N_RANKS, SpecialToken, special_tokens
from workbench.tokenizer.train import build_vocab

__all__ = ["KIMI_N_RANKS", "SpecialToken", "TokenParityReport", "TokenizerAssets", "build_vocab",
           "load", "special_tokens", "token_parity", "write_vocab_gguf"]
