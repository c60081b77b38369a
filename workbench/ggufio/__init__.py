"""GGUF files: inspect headers, patch metadata in place or by a safe rewrite, Kimi-shaped models.

- :mod:`.kimi_shape` Kimi K2's tensor table as data, at real scale or toy size
- :mod:`.tiny`       ``make_tiny_model``: a small Kimi-architecture model llama.cpp runs on CPU
- :mod:`.sparse`     real-scale Kimi-shaped files whose tensor data is a sparse hole
- :mod:`.inspect`    ``inspect(path)``: keys, tensors, totals by type and role, split sets
- :mod:`.patch`      ``patch(path, {key: value})`` in place or by rewrite, backup/restore
- :mod:`.journal`    crash-safe in-place writes: the journal and the rollback
- :mod:`.fixes`      ``fix_kimi``: the known fixes for old Kimi files
- :mod:`.mutate`     seeded mutants of a GGUF, for robustness tests

Named ``ggufio`` because ``gguf`` is the library underneath. Reading a header, the writer
locks and the BPE vocabulary writer are one layer down, in :mod:`workbench.gguffile`.
"""
