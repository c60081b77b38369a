"""Kimi K2's GGUF structure as data: dimensions, ``deepseek2.*`` keys, tensor table.

A Kimi K2 GGUF is a ``deepseek2`` file. Everything here is derived from one frozen
:class:`KimiShape`, so the real model (:data:`KIMI_K2`) and a toy one (:func:`tiny`) go
through the same code path:

- :func:`metadata` — every ``deepseek2.*`` key a Kimi conversion writes, with its GGUF type
  (:func:`add_metadata` puts them on a ``gguf.GGUFWriter``);
- :func:`tensor_table` — every tensor llama.cpp's ``deepseek2`` loader creates for it, with its
  GGUF name, its shape in numpy order (what ``GGUFWriter.add_tensor_info`` takes; llama.cpp
  prints the reverse) and its role (``embeddings``, ``output``, ``attention``, ``dense-ffn``,
  ``routed-experts``, ``shared-experts``, ``router``, ``norm``);
How a quant types each tensor is :mod:`workbench.models.recipes`.

    >>> round(parameter_count(KIMI_K2) / 1e12, 2), round(active_parameter_count(KIMI_K2) / 1e9, 1)
    (1.03, 32.9)
    >>> next(t for t in tensor_table(KIMI_K2) if t.name == "blk.3.ffn_up_exps.weight").shape
    (384, 2048, 7168)

Where the facts come from (llama.cpp as vendored in llama-cpp-python 0.3.36):

- tensors and their shapes: ``src/models/deepseek2.cpp`` ``load_arch_tensors`` (ggml order
  ``{ne0, ne1, ne2}``; numpy order is the reverse); names: ``src/llama-arch.cpp``
  (``exp_probs_b`` takes the suffix ``.bias``);
- keys: ``conversion/deepseek.py`` ``DeepseekV2Model.set_gguf_parameters`` (MLA written as
  MQA: ``head_count_kv = 1``, ``key_length = kv_lora + rope``, ``value_length = kv_lora``,
  ``key_length_mla = nope + rope``, ``value_length_mla = v_head_dim``; ``yarn_log_multiplier =
  0.1 * mscale_all_dim``) and ``conversion/base.py`` ``TextModel.set_gguf_parameters``
  (context, rope/yarn, experts, ``scoring_func = sigmoid`` -> ``expert_gating_func = 2``);
- dimensions: the Kimi K2 ``config.json`` (``hidden_size 7168``, ``intermediate_size 18432``,
  ``moe_intermediate_size 2048``, ``num_hidden_layers 61``, ``first_k_dense_replace 1``,
  ``n_routed_experts 384``, ``n_shared_experts 1``, ``num_experts_per_tok 8``,
  ``num_attention_heads 64``, ``q_lora_rank 1536``, ``kv_lora_rank 512``, ``qk_rope_head_dim 64``,
  ``qk_nope_head_dim 128``, ``v_head_dim 128``, ``vocab_size 163840``, ``rope_theta 50000``, yarn
  ``factor 32`` over ``original_max_position_embeddings 4096`` with ``beta_fast = beta_slow =
  mscale_all_dim = 1``, ``routed_scaling_factor 2.827``, ``norm_topk_prob true``, ``n_group =
  topk_group = 1``, ``rms_norm_eps 1e-6``); ``max_position_embeddings`` is 131,072 in the first
  K2-Instruct and 262,144 in K2-Instruct-0905 and K2-Thinking (the value used here). The config
  itself is not available offline: these are its published values, the structural ones
  cross-checked by llama.cpp loading the table (1.03 T params); the yarn betas, ``n_group`` and
  ``norm_topk_prob`` are worth confirming against a real file's header.

Not here: quant types (:mod:`.recipes`), writing files (:mod:`.tiny`, :mod:`.sparse`), reading
them (``workbench.ggufio.inspect``),
MTP/NextN layers (Kimi K2 has none), the unsplit legacy ``attn_kv_b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import gguf
from gguf import GGUFValueType as V

from workbench.errors import InputError

ARCH = "deepseek2"
ROLES = ("embeddings", "output", "attention", "dense-ffn", "routed-experts", "shared-experts", "router", "norm")
#: llama.cpp's ``LLAMA_MAX_EXPERTS`` (src/llama-hparams.h)
MAX_EXPERTS = 1024


@dataclass(frozen=True)
class KimiShape:
    """The dimensions of a Kimi K2-architecture model (HF config names in the comments)."""

    blocks: int = 61                    # num_hidden_layers
    dense_blocks: int = 1               # first_k_dense_replace: leading blocks with a dense FFN
    hidden: int = 7168                  # hidden_size
    dense_ffn: int = 18432              # intermediate_size (the dense blocks' FFN)
    expert_ffn: int = 2048              # moe_intermediate_size (each routed and shared expert)
    experts: int = 384                  # n_routed_experts
    experts_used: int = 8               # num_experts_per_tok
    shared_experts: int = 1             # n_shared_experts
    heads: int = 64                     # num_attention_heads
    q_lora_rank: int = 1536
    kv_lora_rank: int = 512
    rope_dim: int = 64                  # qk_rope_head_dim
    nope_dim: int = 128                 # qk_nope_head_dim
    v_head_dim: int = 128
    vocab: int = 163_840                # vocab_size: 163,584 BPE ranks + 256 special ids
    context: int = 262_144              # max_position_embeddings (K2-0905 / Thinking)
    rope_theta: float = 50_000.0
    yarn_factor: float = 32.0
    yarn_original_context: int = 4096
    yarn_beta_fast: float = 1.0
    yarn_beta_slow: float = 1.0
    yarn_mscale_all_dim: float = 1.0
    routed_scaling: float = 2.827       # routed_scaling_factor -> expert_weights_scale
    norm_topk_prob: bool = True         # -> expert_weights_norm
    expert_groups: int = 1              # n_group
    expert_groups_used: int = 1         # topk_group
    rms_eps: float = 1e-6
    name: str = field(default="Kimi K2", compare=False)

    @property
    def moe_blocks(self) -> int:
        return self.blocks - self.dense_blocks

    @property
    def head_k_dim(self) -> int:
        """Per-head query/key size once decompressed: nope + rope (192 in K2)."""
        return self.nope_dim + self.rope_dim


#: Kimi K2 (Instruct-0905 / Thinking) at real scale
KIMI_K2 = KimiShape()


def tiny(*, layers: int = 3, experts: int = 8, experts_used: int = 2, width: int = 64, vocab: int = 4352,
         context: int = 4096) -> KimiShape:
    """A toy shape with Kimi K2's structure: block 0 dense, MLA, shared + routed experts, sigmoid routing.

    ``width`` is the hidden size (a multiple of 16, at least 32); heads = width / 16, per-head
    dims 16, both LoRA ranks and the expert FFN width / 2, the dense FFN 2 x width.
    ``tiny(width=64).heads == 4``.
    """
    if layers < 2:
        raise InputError(f"layers={layers}: a Kimi-shaped model needs at least 2 (block 0 dense, then MoE blocks)")
    if not 2 <= experts <= MAX_EXPERTS:
        raise InputError(f"experts={experts}: need 2 to {MAX_EXPERTS} routed experts (llama.cpp asserts 1 group < experts)")
    if not 1 <= experts_used <= experts:
        raise InputError(f"experts_used={experts_used}: must be between 1 and experts ({experts})")
    if width < 32 or width % 16:
        raise InputError(f"width={width}: must be a multiple of 16, at least 32")
    if vocab < 1:
        raise InputError(f"vocab={vocab}: must be positive")
    return replace(KIMI_K2, blocks=layers, hidden=width, dense_ffn=2 * width, expert_ffn=width // 2,
                   experts=experts, experts_used=experts_used, heads=width // 16, q_lora_rank=width // 2,
                   kv_lora_rank=width // 2, rope_dim=16, nope_dim=16, v_head_dim=16, vocab=vocab,
                   context=context, name="Kimi K2 Tiny")


# --- metadata ---------------------------------------------------------------------------------

def metadata(shape: KimiShape = KIMI_K2) -> list[tuple[str, Any, V]]:
    """``(key, value, GGUF type)`` for every ``deepseek2.*`` key of a Kimi conversion, in the converter's order."""
    K, A, R = gguf.Keys.LLM, gguf.Keys.Attention, gguf.Keys.Rope
    s = shape
    rows = [
        (K.BLOCK_COUNT, s.blocks, V.UINT32),
        (K.CONTEXT_LENGTH, s.context, V.UINT32),
        (K.EMBEDDING_LENGTH, s.hidden, V.UINT32),
        (K.FEED_FORWARD_LENGTH, s.dense_ffn, V.UINT32),
        (A.HEAD_COUNT, s.heads, V.UINT32),
        (A.HEAD_COUNT_KV, 1, V.UINT32),                         # MLA stored as MQA
        (R.SCALING_TYPE, gguf.RopeScalingType.YARN.value, V.STRING),
        (R.SCALING_FACTOR, s.yarn_factor, V.FLOAT32),
        (R.SCALING_ORIG_CTX_LEN, s.yarn_original_context, V.UINT32),
        (R.SCALING_YARN_BETA_FAST, s.yarn_beta_fast, V.FLOAT32),
        (R.SCALING_YARN_BETA_SLOW, s.yarn_beta_slow, V.FLOAT32),
        (R.FREQ_BASE, s.rope_theta, V.FLOAT32),
        (A.LAYERNORM_RMS_EPS, s.rms_eps, V.FLOAT32),
        (K.EXPERT_COUNT, s.experts, V.UINT32),
        (K.EXPERT_USED_COUNT, s.experts_used, V.UINT32),
        (K.EXPERT_GROUP_COUNT, s.expert_groups, V.UINT32),
        (K.EXPERT_GROUP_USED_COUNT, s.expert_groups_used, V.UINT32),
        (K.EXPERT_GATING_FUNC, gguf.ExpertGatingFuncType.SIGMOID.value, V.UINT32),
        (K.LEADING_DENSE_BLOCK_COUNT, s.dense_blocks, V.UINT32),
        (K.VOCAB_SIZE, s.vocab, V.UINT32),
        (A.Q_LORA_RANK, s.q_lora_rank, V.UINT32),
        (A.KV_LORA_RANK, s.kv_lora_rank, V.UINT32),
        (A.KEY_LENGTH, s.kv_lora_rank + s.rope_dim, V.UINT32),  # the compressed "head" MLA attends with
        (A.VALUE_LENGTH, s.kv_lora_rank, V.UINT32),
        (A.KEY_LENGTH_MLA, s.head_k_dim, V.UINT32),             # per-head dims after decompression
        (A.VALUE_LENGTH_MLA, s.v_head_dim, V.UINT32),
        (K.EXPERT_FEED_FORWARD_LENGTH, s.expert_ffn, V.UINT32),
        (K.EXPERT_SHARED_COUNT, s.shared_experts, V.UINT32),
        (K.EXPERT_WEIGHTS_SCALE, s.routed_scaling, V.FLOAT32),
        (K.EXPERT_WEIGHTS_NORM, s.norm_topk_prob, V.BOOL),
        (R.DIMENSION_COUNT, s.rope_dim, V.UINT32),
        (R.SCALING_YARN_LOG_MUL, 0.1 * s.yarn_mscale_all_dim, V.FLOAT32),
    ]
    return [(key.format(arch=ARCH), value, vtype) for key, value, vtype in rows]


def add_metadata(writer: gguf.GGUFWriter, shape: KimiShape = KIMI_K2) -> None:
    """Put :func:`metadata` on a ``GGUFWriter`` (arch ``deepseek2``)."""
    for key, value, vtype in metadata(shape):
        writer.add_key_value(key, value, vtype)


# --- tensors ----------------------------------------------------------------------------------

class TensorSpec(NamedTuple):
    """One tensor: GGUF name, shape in numpy order (rows last), role."""

    name: str
    shape: tuple[int, ...]
    role: str

    @property
    def kind(self) -> str:
        """The name without block and suffix: ``blk.3.ffn_up_exps.weight -> ffn_up_exps``."""
        return re.sub(r"^blk\.\d+\.", "", self.name).rsplit(".", 1)[0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def row(self) -> int:
        """Row length (ggml ``ne[0]``), what a block-quantized type must divide."""
        return self.shape[-1]


def _block(i: int, s: KimiShape) -> list[TensorSpec]:
    """The tensors of block ``i``, in the order the loader creates them (deepseek2.cpp)."""
    b = f"blk.{i}."
    t = [
        TensorSpec(b + "attn_norm.weight", (s.hidden,), "norm"),
        TensorSpec(b + "attn_q_a_norm.weight", (s.q_lora_rank,), "norm"),
        TensorSpec(b + "attn_kv_a_norm.weight", (s.kv_lora_rank,), "norm"),
        TensorSpec(b + "attn_q_a.weight", (s.q_lora_rank, s.hidden), "attention"),
        TensorSpec(b + "attn_q_b.weight", (s.heads * s.head_k_dim, s.q_lora_rank), "attention"),
        TensorSpec(b + "attn_kv_a_mqa.weight", (s.kv_lora_rank + s.rope_dim, s.hidden), "attention"),
        TensorSpec(b + "attn_k_b.weight", (s.heads, s.kv_lora_rank, s.nope_dim), "attention"),
        TensorSpec(b + "attn_v_b.weight", (s.heads, s.v_head_dim, s.kv_lora_rank), "attention"),
        TensorSpec(b + "attn_output.weight", (s.hidden, s.heads * s.v_head_dim), "attention"),
        TensorSpec(b + "ffn_norm.weight", (s.hidden,), "norm"),
    ]
    if i < s.dense_blocks:
        return t + [
            TensorSpec(b + "ffn_gate.weight", (s.dense_ffn, s.hidden), "dense-ffn"),
            TensorSpec(b + "ffn_down.weight", (s.hidden, s.dense_ffn), "dense-ffn"),
            TensorSpec(b + "ffn_up.weight", (s.dense_ffn, s.hidden), "dense-ffn"),
        ]
    shexp = s.expert_ffn * s.shared_experts
    return t + [
        TensorSpec(b + "ffn_gate_inp.weight", (s.experts, s.hidden), "router"),
        TensorSpec(b + "exp_probs_b.bias", (s.experts,), "router"),
        TensorSpec(b + "ffn_down_exps.weight", (s.experts, s.hidden, s.expert_ffn), "routed-experts"),
        TensorSpec(b + "ffn_gate_exps.weight", (s.experts, s.expert_ffn, s.hidden), "routed-experts"),
        TensorSpec(b + "ffn_up_exps.weight", (s.experts, s.expert_ffn, s.hidden), "routed-experts"),
        TensorSpec(b + "ffn_gate_shexp.weight", (shexp, s.hidden), "shared-experts"),
        TensorSpec(b + "ffn_down_shexp.weight", (s.hidden, shexp), "shared-experts"),
        TensorSpec(b + "ffn_up_shexp.weight", (shexp, s.hidden), "shared-experts"),
    ]


def tensor_table(shape: KimiShape = KIMI_K2) -> list[TensorSpec]:
    """Every tensor of a Kimi conversion: ``token_embd``, ``output_norm``, ``output``, then block by block."""
    head = [
        TensorSpec("token_embd.weight", (shape.vocab, shape.hidden), "embeddings"),
        TensorSpec("output_norm.weight", (shape.hidden,), "norm"),
        TensorSpec("output.weight", (shape.vocab, shape.hidden), "output"),
    ]
    return head + [t for i in range(shape.blocks) for t in _block(i, shape)]


def parameter_count(shape: KimiShape = KIMI_K2) -> int:
    """All weights: 1,026,408,232,448 for Kimi K2 (Moonshot's "1T", HF's "1.03T params")."""
    return sum(t.n_elements for t in tensor_table(shape))


def active_parameter_count(shape: KimiShape = KIMI_K2) -> int:
    """Weights one token uses: everything but the routed experts, plus ``experts_used`` of them (~32.9 B)."""
    routed = sum(t.n_elements for t in tensor_table(shape) if t.role == "routed-experts")
    return parameter_count(shape) - routed + routed * shape.experts_used // shape.experts
