"""GGUF files as the workbench reads and writes them, below every other package: nothing here knows Kimi.

- :mod:`.header`  the index of a header: keys with their types, values and byte offsets, tensor
  infos, arrays on demand, typed reads of the keys a caller interprets
- :mod:`.walk`    :func:`read_header`: the bounded walk that builds it from untrusted bytes
- :mod:`.lock`    one writer at a time (:func:`writing`); readers that never see half a patch
- :mod:`.bpe`     byte-level BPE vocabularies as vocab-only GGUFs (spelling, merges, the writer)

    >>> h = read_header("Kimi-K2-Thinking-UD-Q2_K_XL-00001-of-00008.gguf")   # doctest: +SKIP
    >>> h.int_value("tokenizer.ggml.eos_token_id")                           # doctest: +SKIP
    163586

Not here: inspecting split sets, patching, the Kimi fixes (``workbench.ggufio``); model
builders (``workbench.models``).
"""

from workbench.gguffile.header import Field, Header, Tensor, value_types
from workbench.gguffile.lock import Busy, consistent, writing
from workbench.gguffile.walk import read_header

__all__ = ["Busy", "Field", "Header", "Tensor", "consistent", "read_header", "value_types", "writing"]
