"""How a quant types a Kimi K2 file: a GGML type per tensor, llama.cpp's fallbacks, the bytes it takes.

- :data:`RECIPES` — a ``gguf.GGMLQuantizationType`` per tensor for ``UD-Q2_K_XL``, ``UD-TQ1_0``,
  ``Q8_0`` and ``BF16`` (:func:`recipe` by name, :func:`typed_table` over a shape);
- :func:`tensor_bytes` sizes a tensor in a type (block sizes from ``gguf.GGML_QUANT_SIZES``);
- :func:`keeps_f32`, :func:`fallback`: what conversions keep in F32, and what llama.cpp does with
  rows a type's block does not divide.

    >>> fallback(next(t for t in tensor_table() if t.name == "blk.3.attn_k_b.weight"), Q.Q6_K).name
    'Q8_0'

Where the facts come from (llama.cpp as vendored in llama-cpp-python 0.3.36):

- what stays F32: ``conversion/base.py`` (1-D tensors, ``*_norm.weight``, ``ffn_gate_inp``,
  non-``.weight`` tensors such as ``exp_probs_b.bias``) and ``src/llama-quant.cpp``
  ``tensor_allows_quantization`` (norms and ``ffn_gate_inp`` are never quantized);
- fallbacks: ``src/llama-quant.cpp`` ``tensor_type_fallback`` — a row length not divisible by
  the target's block size demotes the type (``Q4_K -> Q5_0``, ``Q6_K -> Q8_0``, ``Q2_K/Q3_K/TQ1_0
  -> Q4_0``, ``IQ* -> IQ4_NL``, else F16). In Kimi K2 that is ``attn_k_b`` (rows of
  ``qk_nope_head_dim = 128``: llama.cpp warns "ncols 128 not divisible by 256", older builds
  "tensor cols 128 x 512 are not divisible by 256");

Not here: the tensor table itself (:mod:`.shape`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import gguf
from gguf import GGMLQuantizationType as Q

from workbench.errors import InputError
from workbench.models.shape import KIMI_K2, KimiShape, TensorSpec, tensor_table

#: llama.cpp's tensor_type_fallback (src/llama-quant.cpp): type -> type tried when rows do not fit
FALLBACK: dict[Q, Q] = {
    **{t: Q.IQ4_NL for t in (Q.IQ1_S, Q.IQ1_M, Q.IQ2_XXS, Q.IQ2_XS, Q.IQ2_S, Q.IQ3_XXS, Q.IQ3_S, Q.IQ4_XS)},
    **{t: Q.Q4_0 for t in (Q.Q2_K, Q.Q3_K, Q.TQ1_0, Q.TQ2_0)},
    Q.Q4_K: Q.Q5_0, Q.Q5_K: Q.Q5_1, Q.Q6_K: Q.Q8_0,
}


def fits(spec: TensorSpec, qtype: Q) -> bool:
    """Whether ``spec``'s rows are a whole number of ``qtype`` blocks."""
    return spec.row % gguf.GGML_QUANT_SIZES[qtype][0] == 0


def fallback(spec: TensorSpec, qtype: Q) -> Q:
    """``qtype``, or what llama.cpp's quantizer uses instead when ``spec``'s rows do not fit it.

    ``(attn_k_b with rows of 128, Q4_K) -> Q5_0``; when even the fallback does not fit, F16.
    """
    if fits(spec, qtype):
        return qtype
    demoted = FALLBACK.get(qtype, qtype)
    return demoted if fits(spec, demoted) else Q.F16


def tensor_bytes(spec: TensorSpec, qtype: Q) -> int:
    """Bytes of ``spec`` stored as ``qtype`` (``gguf.GGML_QUANT_SIZES``: elements per block, bytes per block)."""
    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    if spec.row % block:
        raise InputError(f"{spec.name}: row length {spec.row} is not a multiple of {qtype.name}'s block size "
                         f"{block}; use fallback(spec, {qtype.name}) -> {fallback(spec, qtype).name}")
    return spec.n_elements // block * type_size


def keeps_f32(spec: TensorSpec) -> bool:
    """Tensors every conversion keeps in F32: 1-D ones (norms, ``exp_probs_b``) and the router."""
    return len(spec.shape) == 1 or spec.name.endswith("_norm.weight") or spec.kind == "ffn_gate_inp"


@dataclass(frozen=True)
class Recipe:
    """A quant mix: a type per role, overrides per tensor kind (``ffn_down_exps``), F32 where conversions keep it."""

    name: str
    file_type: gguf.LlamaFileType
    by_role: Mapping[str, Q]
    by_kind: Mapping[str, Q] = field(default_factory=dict)
    about: str = ""

    def target(self, spec: TensorSpec) -> Q:
        """The type the recipe asks for, before any fallback."""
        if keeps_f32(spec):
            return Q.F32
        return self.by_kind.get(spec.kind, self.by_role[spec.role])

    def qtype(self, spec: TensorSpec) -> Q:
        """The type the tensor is stored in: the target, or llama.cpp's fallback when rows do not fit."""
        return fallback(spec, self.target(spec))

    def __call__(self, spec: TensorSpec) -> Q:
        return self.qtype(spec)


def _mix(routed: Q, rest: Q, *, embd: Q, out: Q) -> dict[str, Q]:
    return {"embeddings": embd, "output": out, "attention": rest, "dense-ffn": rest, "shared-experts": rest,
            "routed-experts": routed, "router": Q.F32, "norm": Q.F32}


#: recipe name -> :class:`Recipe`. The ``UD-*`` mixes only APPROXIMATE Unsloth's dynamic recipes:
#: the published files vary types per layer in ways they do not document; these use one type per
#: role (and one for ``ffn_down_exps``) and land a few percent under the published totals:
#: UD-Q2_K_XL 377.2 GB of tensors (published ~381 GB), UD-TQ1_0 237.4 GB (~245 GB).
#: Q8_0 (1,091 GB) and BF16 (2,053 GB) are what ``convert_hf_to_gguf.py`` writes for those outtypes.
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("UD-Q2_K_XL", gguf.LlamaFileType.MOSTLY_Q2_K,
           _mix(Q.Q2_K, Q.Q6_K, embd=Q.Q4_K, out=Q.Q6_K), {"ffn_down_exps": Q.Q3_K},
           "routed gate/up Q2_K, down Q3_K (llama.cpp's own Q2_K mix puts ffn_down at Q3_K); attention, "
           "dense FFN and shared experts Q6_K (attn_k_b falls back to Q8_0); token_embd Q4_K, output Q6_K"),
    Recipe("UD-TQ1_0", gguf.LlamaFileType.MOSTLY_TQ1_0,
           _mix(Q.TQ1_0, Q.Q4_K, embd=Q.Q4_K, out=Q.Q6_K), {"ffn_down_exps": Q.IQ2_XXS},
           "routed gate/up TQ1_0, down IQ2_XXS; attention, dense FFN and shared experts Q4_K (attn_k_b "
           "falls back to Q5_0); token_embd Q4_K, output Q6_K"),
    Recipe("Q8_0", gguf.LlamaFileType.MOSTLY_Q8_0, _mix(Q.Q8_0, Q.Q8_0, embd=Q.Q8_0, out=Q.Q8_0),
           about="what convert_hf_to_gguf --outtype q8_0 writes: every matrix Q8_0"),
    Recipe("BF16", gguf.LlamaFileType.MOSTLY_BF16, _mix(Q.BF16, Q.BF16, embd=Q.BF16, out=Q.BF16),
           about="what convert_hf_to_gguf --outtype bf16 writes"),
)}


def recipe(name: str) -> Recipe:
    """A recipe by name, or an :class:`InputError` listing the valid ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise InputError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}") from None


def typed_table(shape: KimiShape = KIMI_K2, mix: Recipe | Callable[[TensorSpec], Q] | str = "UD-Q2_K_XL"
                ) -> list[tuple[TensorSpec, Q, int]]:
    """``(spec, type, bytes)`` for every tensor of ``shape`` under a recipe (name, :class:`Recipe` or function)."""
    pick = recipe(mix) if isinstance(mix, str) else mix
    out = []
    for spec in tensor_table(shape):
        qtype = pick(spec)
        out.append((spec, qtype, tensor_bytes(spec, qtype)))
    return out
