"""Load a GGUF with llama-cpp-python under a chosen offload, tensor overrides included.

llama-cpp-python's ``Llama`` has no parameter for llama.cpp's tensor buffer overrides
(``-ot``): it builds ``llama_model_params`` itself, leaves ``tensor_buft_overrides`` an
unused ``c_void_p`` and ignores unknown keyword arguments. :func:`load_model` fills that
field: a NULL-terminated array of ``{const char *pattern; ggml_backend_buffer_type_t buft}``
whose buffer types come from the devices of the ggml already loaded by llama-cpp-python
(``llama_cpp.llama_cpp._lib``; a second ``CDLL`` of ``libggml-base`` would be another copy
with other pointers), kept alive as long as the model. It is injected by wrapping
``llama_model_default_params`` for the duration of the ``Llama(...)`` call, under a lock.

llama.cpp's load log is captured (:attr:`LoadedModel.log`), so what it did is evidence, not
an assumption: :attr:`LoadedModel.overridden` lists the tensors it moved and where, and
:attr:`LoadedModel.buffers` the model buffer sizes it allocated per device.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InputError
from workbench.run.offload import Offload

_OVERRIDDEN = re.compile(r"tensor (\S+) \(.*\) buffer type overridden to (\S+)")
_BUFFER = re.compile(r"(\S+) model buffer size =\s+([\d.]+) MiB")


class _Override(ctypes.Structure):
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


def _lib():
    import llama_cpp

    lib = llama_cpp.llama_cpp._lib
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    lib.ggml_backend_dev_buffer_type.restype = ctypes.c_void_p
    lib.ggml_backend_dev_buffer_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_buft_name.restype = ctypes.c_char_p
    lib.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
    return lib


def buffer_types() -> dict[str, int]:
    """Buffer-type name -> pointer for every device this llama.cpp build has (``CPU``, ``CUDA0``, …)."""
    lib = _lib()
    out = {}
    for i in range(lib.ggml_backend_dev_count()):
        buft = lib.ggml_backend_dev_buffer_type(lib.ggml_backend_dev_get(i))
        if buft:
            out[lib.ggml_backend_buft_name(buft).decode()] = buft
    return out


@contextmanager
def _overrides_injected(array) -> Iterator[None]:
    import llama_cpp.llama_cpp as capi

    original = capi.llama_model_default_params

    def with_overrides():
        params = original()
        params.tensor_buft_overrides = ctypes.cast(array, ctypes.c_void_p) if array is not None else None
        return params

    capi.llama_model_default_params = with_overrides
    try:
        yield
    finally:
        capi.llama_model_default_params = original


@dataclass
class LoadedModel:
    """A loaded model, the offload it was loaded with, and what llama.cpp reported doing."""

    llm: object  # llama_cpp.Llama
    path: Path
    offload: Offload
    log: list[str] = field(repr=False)
    _keep: tuple = field(default=(), repr=False)  # the override array and its pattern bytes

    @property
    def overridden(self) -> dict[str, str]:
        """Tensor -> buffer type, for each tensor llama.cpp placed by an override (its load log)."""
        text = "".join(self.log)
        return {m[1]: m[2] for m in _OVERRIDDEN.finditer(text)}

    @property
    def buffers(self) -> dict[str, float]:
        """Model buffer sizes in MiB per buffer (``CPU_Mapped``, ``CUDA0``, …), from the load log."""
        out: dict[str, float] = {}
        for m in _BUFFER.finditer("".join(self.log)):
            out[m[1]] = out.get(m[1], 0.0) + float(m[2])
        return out

    def close(self) -> None:
        close = getattr(self.llm, "close", None)
        if close:
            close()


def load_model(path: str | os.PathLike[str], offload: Offload, *, n_ctx: int = 4096, n_threads: int | None = None,
               n_batch: int = 512, seed: int = 0, verbose: bool = False, **llama_kwargs) -> LoadedModel:
    """Load ``path`` (a GGUF, or split 1 of a set) with ``offload``; a bad path or buffer is an :class:`InputError`.

    llama.cpp's load log is kept in :attr:`LoadedModel.log`, never printed, unless ``verbose=True``
    (then it goes to stderr as well).

    Before the load, the header checks of :func:`~workbench.run.compat.check_compat` run, and
    llama.cpp reads the metadata in an isolated worker (:func:`workbench.llamacpp.check`): a
    file it would abort on is a one-line error, not a dead process.
    """
    from workbench import llamacpp
    from workbench.ggufio.inspect import split_members
    from workbench.run.compat import check_compat, raise_for_problems

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such model file")
    first = split_members(p)[0]  # a missing member is named here, before a long load fails
    raise_for_problems(check_compat(first))  # an unknown architecture, pre-tokenizer or expert count too
    available = buffer_types()
    keep: list = []
    array = None
    if offload.overrides:
        unknown = sorted({o.buffer for o in offload.overrides} - set(available))
        if unknown:
            raise InputError(f"unknown buffer type {', '.join(unknown)} for this llama.cpp build; "
                             f"available: {', '.join(available)}")
        patterns = [o.pattern.encode() for o in offload.overrides]
        array = (_Override * (len(patterns) + 1))(
            *[_Override(pat, available[o.buffer]) for pat, o in zip(patterns, offload.overrides)], _Override(None, None))
        keep = [array, patterns]
    with llamacpp.LOCK, _overrides_injected(array):
        llm = llamacpp.load_model(first, n_gpu_layers=offload.n_gpu_layers, n_ctx=n_ctx, n_threads=n_threads,
                                  n_batch=n_batch, seed=seed, **llama_kwargs)
    if verbose:
        sys.stderr.write("".join(llm.load_log))
    return LoadedModel(llm, first, offload, llm.load_log, tuple(keep))
