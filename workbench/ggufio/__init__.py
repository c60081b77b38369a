"""GGUF tools: inspect a file or split set, patch metadata in place or by a safe rewrite, the Kimi fixes.

This is the public API:

    >>> info = inspect("Kimi-K2-Thinking-UD-Q2_K_XL-00003-of-00008.gguf")     # doctest: +SKIP
    >>> patch(info.path, {"tokenizer.ggml.eos_token_id": 163586}, backup=True)   # doctest: +SKIP
    >>> fix_kimi(info.path)                                                      # doctest: +SKIP

- :mod:`.inspect`   ``inspect(path)``: keys, tensors, totals by type and role, split sets
- :mod:`.values`    metadata values as GGUF types (``parse_value``, padding a template)
- :mod:`.plan`      what a patch will do to each file: in place or a rewrite
- :mod:`.journal`   crash-safe in-place writes: the journal and the rollback
- :mod:`.rewrite`   a rewrite beside the file, tensor data streamed and hashed
- :mod:`.confirm`   the checks after a write (values re-read, layout, llama.cpp's reading)
- :mod:`.backup`    the header kept aside, and ``restore``
- :mod:`.patching`  ``patch(path, {key: value})``: the steps above under the write lock
- :mod:`.fixes`     ``fix_kimi``: the known fixes for old Kimi files
- :mod:`.mutate`    seeded mutants of a GGUF, for robustness tests

Named ``ggufio`` because ``gguf`` is the library underneath. Reading a header, the writer
locks and the BPE vocabulary writer are one layer down, in :mod:`workbench.gguffile`; the
models we build (tiny, sparse, Kimi-shaped) are in :mod:`workbench.models`.
"""

from workbench.ggufio.backup import backup_path, restore
from workbench.ggufio.fixes import fix_kimi, kimi_fixes
from workbench.ggufio.inspect import GGUFInfo, inspect, split_members
from workbench.ggufio.journal import recover
from workbench.ggufio.patching import Result, patch
from workbench.ggufio.plan import Change, Plan, plan
from workbench.ggufio.values import TEMPLATE_KEY, padded_template, parse_value

__all__ = ["TEMPLATE_KEY", "Change", "GGUFInfo", "Plan", "Result", "backup_path", "fix_kimi", "inspect", "kimi_fixes",
           "padded_template", "parse_value", "patch", "plan", "recover", "restore", "split_members"]
