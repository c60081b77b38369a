"""Kimi-architecture models we build ourselves: the shape as data, how quants type it, tiny and sparse files.

This is the public API:

- :mod:`.shape`    Kimi K2's tensor table and ``deepseek2.*`` keys from one :class:`KimiShape`,
  at real scale (:data:`KIMI_K2`) or toy size (:func:`tiny`)
- :mod:`.recipes`  a GGML type per tensor for the Unsloth-style quants (:data:`RECIPES`)
- :mod:`.tiny`     :func:`make_tiny_model`: a small model llama.cpp loads and runs on CPU
- :mod:`.demo`     :func:`make_demo_model`: the tiny model with a thinking switch and a sampling script (``make lab``)
- :mod:`.sparse`   :func:`write_kimi_shaped`: a real-scale file whose tensor data is a sparse hole
- :mod:`.hf_tiny`  :func:`make_hf_model`: the tiny model in Hugging Face format (safetensors), for vLLM

    >>> (path,) = make_tiny_model("artifacts/Kimi-K2-Tiny.gguf")      # doctest: +SKIP
    >>> write_kimi_shaped("artifacts/Kimi-K2-UD-Q2_K_XL.gguf", split=8)   # doctest: +SKIP

They sit above ``tokenizer`` and ``chat`` (a model carries a vocabulary and a template) and
below the GGUF tools, which never need them.
"""

from workbench.models.demo import make_demo_model
from workbench.models.hf_tiny import make_hf_model
from workbench.models.recipes import RECIPES, Recipe, recipe, tensor_bytes, typed_table
from workbench.models.shape import KIMI_K2, KimiShape, TensorSpec, tensor_table, tiny
from workbench.models.sparse import allocated_bytes, write_kimi_shaped
from workbench.models.tiny import make_tiny_model

__all__ = ["KIMI_K2", "RECIPES", "KimiShape", "Recipe", "TensorSpec", "allocated_bytes", "make_demo_model",
           "make_hf_model", "make_tiny_model", "recipe", "tensor_bytes", "tensor_table", "tiny", "typed_table",
           "write_kimi_shaped"]
