"""kimi-workbench: verify, inspect and run Kimi K2 GGUF quants locally.

Subpackages, one capability each:

- ``workbench.pretok``    pre-tokenization schemes (Kimi K2, GPT-4o, GPT-4), split engines,
  branch attribution, diffs, corpus statistics and divergence fuzzing.
- ``workbench.tokenizer`` Kimi tokenizer assets (snapshot folders, GGUF metadata), the
  special-token layout, a small vocabulary builder.
- ``workbench.chat``      chat templates through each runtime's renderer, thinking/instant
  modes, renderer parity.
- ``workbench.verify``    ``check(path)``: findings on tokenizer assets and templates.
- ``workbench.ui``        ipywidgets apps over the packages above (imported on demand).
- ``workbench.cli``     the ``kimi-wb`` command line, thin over the API.

Importing ``workbench`` is cheap: heavy libraries (llama_cpp, transformers, ipywidgets)
are imported only by the functions that need them.
"""

import os

from workbench.errors import WorkbenchError

# transformers (used for its tokenizer converter and chat renderer) announces that PyTorch is
# absent on import; the workbench never needs PyTorch, so that advice is noise for our users
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

__version__ = "0.1.0"

__all__ = ["WorkbenchError", "__version__"]
