"""The engines that see pre-tokens through probe vocabularies (:mod:`workbench.pretok.probed`), for ``ENGINES``."""

from workbench.pretok.probed import GigatokenEngine, LlamaCppEngine, TiktokenEngine

ENGINES = {"llama.cpp": LlamaCppEngine, "gigatoken": GigatokenEngine, "tiktoken": TiktokenEngine}
