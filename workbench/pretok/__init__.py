"""Pre-tokenization analysis: how Kimi K2, GPT-4o and GPT-4 cut text before BPE.

- :mod:`.schemes`  the patterns as data (``SCHEMES``), each alternative named
- :mod:`.engines`  the libraries that run them (``ENGINES``: ``regex``, ``tokenizers``, and
                   ``llama.cpp``, ``gigatoken``, ``tiktoken`` from :mod:`.probed`, seen through
                   a probe vocabulary, :mod:`.probe`)
- :mod:`.pieces`   ``split`` / ``spans``: pieces with offsets and branch names
- :mod:`.align`    ``diff``: where two splits disagree, and why (:mod:`.causes`)
- :mod:`.corpus`   ``scan``: corpus statistics over files or strings
- :mod:`.fuzz`     ``find_divergences``: fuzzing with shrinking, grouped by cause
- :mod:`.parity`   ``engine_parity``: every engine pair on a corpus and fuzz, causes and minimal examples
- :mod:`.show`     pieces as terminal text, the split report, the catalogue of schemes and engines
"""

from workbench.pretok.align import Diff, Divergence, diff
from workbench.pretok.causes import CAUSES, classify
from workbench.pretok.corpus import ScanResult, scan
from workbench.pretok.engines import ENGINES, Engine
from workbench.pretok.fuzz import FuzzReport, find_divergences
from workbench.pretok.parity import ParityReport, engine_parity
from workbench.pretok.pieces import Piece, spans, split
from workbench.pretok.schemes import SCHEMES, Branch, Scheme, register_scheme

__all__ = [
    "CAUSES", "ENGINES", "SCHEMES", "Branch", "Diff", "Divergence", "Engine", "FuzzReport", "ParityReport",
    "Piece", "Scheme", "ScanResult", "classify", "diff", "engine_parity", "find_divergences",
    "register_scheme", "scan", "spans", "split",
]
