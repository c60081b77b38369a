"""GGUF tools: inspect a file or split set, patch metadata in place or by a safe rewrite, the Kimi fixes.

- :mod:`.inspect`    ``inspect(path)``: keys, tensors, totals by type and role, split sets
- :mod:`.patch`      ``patch(path, {key: value})`` in place or by rewrite, backup/restore
- :mod:`.journal`    crash-safe in-place writes: the journal and the rollback
- :mod:`.fixes`      ``fix_kimi``: the known fixes for old Kimi files
- :mod:`.mutate`     seeded mutants of a GGUF, for robustness tests

Named ``ggufio`` because ``gguf`` is the library underneath. Reading a header, the writer
locks and the BPE vocabulary writer are one layer down, in :mod:`workbench.gguffile`; the
models we build (tiny, sparse, Kimi-shaped) are in :mod:`workbench.models`.
"""
