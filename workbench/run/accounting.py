"""llama.cpp's own memory accounting for a GGUF, to hold the planner to: ``llama-fit-params --fit-print``.

``llama-fit-params`` (built beside ``llama-server`` by :func:`workbench.run.llama_server.build`) loads
the model with ``no_alloc`` (every tensor created with its real shape and buffer type, no memory
allocated, the tensor data never read), creates a ``no_alloc`` context, reserves the compute graph,
and prints what each device would hold, in whole MiB: model weights, context (the KV cache) and
compute buffers. This is the reservation ``llama-server`` itself makes, and it takes half a
second on the 377 GB set, from the headers alone.

Two things to know when reading it:

- It sums host buffers only. On a CPU with weight repacking (``CPU_REPACK``: Q2_K, Q4_K, Q4_0, IQ4_NL…
  on AVX2), the repacked weights fall outside its ``Host`` line; :func:`llama_accounting` passes
  ``--no-repack`` by default so that every weight is counted.
- Without a GPU it shows the ``Host`` line only: the GPU side of a plan cannot be checked here.

    >>> llama_accounting("Kimi-K2-UD-Q2_K_XL-00001-of-00008.gguf", n_ctx=98304)       # doctest: +SKIP
    {'Host': Buffers(model=377198788608, context=6907969536, compute=494927872)}
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError, WorkbenchError

ENV_BINARY = "KIMI_WB_LLAMA_FIT_PARAMS"
MIB = 1 << 20


@dataclass(frozen=True)
class Buffers:
    """Bytes one device holds (whole MiB, as llama.cpp prints them)."""

    model: int
    context: int
    compute: int


def find_fit_params() -> Path | None:
    """``$KIMI_WB_LLAMA_FIT_PARAMS``, the build cache, then ``PATH``; None if none."""
    from workbench.run.llama_server import cached_binary

    named = os.environ.get(ENV_BINARY)
    if named:
        return Path(named)
    if os.access(cached_binary("llama-fit-params"), os.X_OK):
        return cached_binary("llama-fit-params")
    found = shutil.which("llama-fit-params")
    return Path(found) if found else None


def llama_accounting(path: str | os.PathLike[str], *, n_ctx: int = 8192, n_ubatch: int = 512,
                     args: tuple[str, ...] = ("--no-repack",), timeout: float = 300.0) -> dict[str, Buffers]:
    """Device (``Host``, ``CUDA0``, …) -> what llama.cpp would allocate for ``path`` (split 1 of a set, on disk).

    ``args`` go to ``llama-fit-params`` as they would to ``llama-server`` (``-ngl``, ``-ot``, ``--n-cpu-moe``…).
    """
    binary = find_fit_params()
    if binary is None:
        raise InputError("no llama-fit-params found (`kimi-wb build-llama-server` builds it beside llama-server; "
                         f"or set ${ENV_BINARY})")
    argv = [str(binary), "--fit-print", "on", "-m", str(path), "-c", str(n_ctx), "-ub", str(n_ubatch),
            "-b", str(max(n_ubatch, 2048)), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "GGML_NO_BACKTRACE": "1"})
    except subprocess.TimeoutExpired:
        raise WorkbenchError(f"llama-fit-params did not finish in {timeout:.0f} s on {path}") from None
    lines = [ln.split() for ln in done.stdout.splitlines() if ln.strip()]
    rows = {ln[0]: Buffers(*(int(v) * MIB for v in ln[1:4])) for ln in lines if len(ln) == 4
            and all(v.isdigit() for v in ln[1:4])}
    if done.returncode != 0 or "Host" not in rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WorkbenchError(f"llama-fit-params failed on {path} (exit {done.returncode}): {tail[0][:300]}")
    return rows
