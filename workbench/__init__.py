"""kimi-workbench: verify, inspect and run Kimi K2 GGUF quants locally.

Subpackages, one capability each:

- ``workbench.pretok``  pre-tokenization schemes (Kimi K2, GPT-4o, GPT-4), split engines,
  branch attribution, diffs, corpus statistics and divergence fuzzing.
- ``workbench.ui``      ipywidgets apps over the packages above (imported on demand).
- ``workbench.cli``     the ``kimi-wb`` command line, thin over the API.

Importing ``workbench`` is cheap: heavy libraries (llama_cpp, transformers, ipywidgets)
are imported only by the functions that need them.
"""

from workbench.errors import WorkbenchError

__version__ = "0.1.0"

__all__ = ["WorkbenchError", "__version__"]
