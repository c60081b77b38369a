"""Kimi K2's GGUF structure as data: parameter counts, tensor shapes, MLA keys, recipes and fallbacks.

Expected values are written by hand from the Kimi K2 config and llama.cpp's deepseek2 loader
(src/models/deepseek2.cpp, ggml order reversed to numpy order).
"""

from __future__ import annotations

import gguf
import pytest
from gguf import GGMLQuantizationType as Q

from workbench.errors import InputError
from workbench.models.recipes import RECIPES, fallback, recipe, tensor_bytes, typed_table
from workbench.models.shape import (
    KIMI_K2,
    ROLES,
    TensorSpec,
    active_parameter_count,
    metadata,
    parameter_count,
    tensor_table,
    tiny,
)


def _by_name(shape=KIMI_K2) -> dict[str, TensorSpec]:
    return {t.name: t for t in tensor_table(shape)}


def test_parameter_counts_match_the_config_by_hand():
    hidden, vocab, heads = 7168, 163_840, 64
    attention = (1536 * hidden + heads * 192 * 1536 + 576 * hidden + heads * 512 * 128 + heads * 128 * 512
                 + hidden * heads * 128)
    norms = 2 * hidden + 1536 + 512
    dense = 3 * 18432 * hidden
    moe = 384 * hidden + 384 + 3 * 384 * 2048 * hidden + 3 * 2048 * hidden
    expected = 2 * vocab * hidden + hidden + 61 * (attention + norms) + dense + 60 * moe
    assert parameter_count(KIMI_K2) == expected == 1_026_408_232_448  # HF: "1.03T params"
    assert 1.02e12 < parameter_count(KIMI_K2) < 1.045e12
    routed = 60 * 3 * 384 * 2048 * hidden
    assert active_parameter_count(KIMI_K2) == expected - routed + routed * 8 // 384
    assert 32e9 < active_parameter_count(KIMI_K2) < 33e9  # "32B activated"


def test_tensor_table_has_what_the_deepseek2_loader_creates():
    table = tensor_table(KIMI_K2)
    assert len(table) == 3 + 61 * 10 + 3 + 60 * 8 == 1096
    t = _by_name()
    assert t["token_embd.weight"].shape == t["output.weight"].shape == (163_840, 7168)
    assert t["blk.0.attn_q_a.weight"].shape == (1536, 7168)
    assert t["blk.0.attn_q_b.weight"].shape == (64 * 192, 1536)
    assert t["blk.0.attn_kv_a_mqa.weight"].shape == (512 + 64, 7168)
    assert t["blk.0.attn_k_b.weight"].shape == (64, 512, 128)  # ggml {nope, kv_lora, heads}
    assert t["blk.0.attn_v_b.weight"].shape == (64, 128, 512)  # ggml {kv_lora, v_head, heads}
    assert t["blk.0.attn_output.weight"].shape == (7168, 64 * 128)
    assert t["blk.0.ffn_gate.weight"].shape == (18432, 7168) and t["blk.0.ffn_down.weight"].shape == (7168, 18432)
    assert t["blk.3.ffn_up_exps.weight"].shape == (384, 2048, 7168)
    assert t["blk.3.ffn_down_exps.weight"].shape == (384, 7168, 2048)
    assert t["blk.60.exp_probs_b.bias"].shape == (384,) and t["blk.60.ffn_gate_inp.weight"].shape == (384, 7168)
    assert t["blk.1.ffn_down_shexp.weight"].shape == (7168, 2048)
    assert not {"blk.0.ffn_gate_exps.weight", "blk.1.ffn_gate.weight", "blk.61.attn_norm.weight"} & set(t)
    assert {s.role for s in table} == set(ROLES)
    roles = {"blk.5.exp_probs_b.bias": "router", "blk.5.attn_q_a_norm.weight": "norm", "output_norm.weight": "norm",
             "blk.5.ffn_gate_shexp.weight": "shared-experts", "blk.0.ffn_up.weight": "dense-ffn",
             "blk.5.attn_k_b.weight": "attention", "output.weight": "output", "token_embd.weight": "embeddings"}
    assert {n: t[n].role for n in roles} == roles


def test_metadata_is_mla_written_as_mqa():
    rows = metadata(KIMI_K2)
    keys = {k: (v, vt) for k, v, vt in rows}
    assert len(keys) == len(rows) and all(k.startswith("deepseek2.") for k in keys)
    V = gguf.GGUFValueType
    assert keys["deepseek2.attention.head_count_kv"] == (1, V.UINT32)
    assert keys["deepseek2.attention.key_length"][0] == 576 and keys["deepseek2.attention.value_length"][0] == 512
    assert keys["deepseek2.attention.key_length_mla"][0] == 192
    assert keys["deepseek2.attention.value_length_mla"][0] == 128
    assert keys["deepseek2.expert_gating_func"] == (2, V.UINT32)  # sigmoid
    assert keys["deepseek2.expert_weights_norm"] == (True, V.BOOL)
    assert keys["deepseek2.expert_weights_scale"] == (2.827, V.FLOAT32)
    assert keys["deepseek2.rope.scaling.type"] == ("yarn", V.STRING)
    assert keys["deepseek2.rope.scaling.yarn_log_multiplier"][0] == pytest.approx(0.1)
    for key in ("attention.layer_norm_rms_epsilon", "attention.q_lora_rank", "attention.kv_lora_rank",
                "expert_feed_forward_length", "expert_shared_count", "leading_dense_block_count"):
        assert f"deepseek2.{key}" in keys, key  # what the deepseek2 loader requires


def test_tensor_bytes_and_llama_cpp_fallbacks():
    t = _by_name()
    assert tensor_bytes(t["blk.1.ffn_gate_exps.weight"], Q.Q2_K) == 384 * 2048 * 7168 // 256 * 84
    assert tensor_bytes(t["blk.1.exp_probs_b.bias"], Q.F32) == 384 * 4
    k_b = t["blk.1.attn_k_b.weight"]  # rows of qk_nope_head_dim = 128
    with pytest.raises(InputError, match=r"attn_k_b.weight: row length 128 is not a multiple of Q4_K's block size 256"):
        tensor_bytes(k_b, Q.Q4_K)
    targets = (Q.Q4_K, Q.Q6_K, Q.Q2_K, Q.IQ2_XXS, Q.Q8_0)
    assert [fallback(k_b, q) for q in targets] == [Q.Q5_0, Q.Q8_0, Q.Q4_0, Q.IQ4_NL, Q.Q8_0]
    assert fallback(t["blk.1.attn_v_b.weight"], Q.Q4_K) == Q.Q4_K  # rows of kv_lora_rank = 512 fit
    assert fallback(TensorSpec("x.weight", (4, 16), "attention"), Q.Q4_K) == Q.F16  # even Q5_0 does not fit


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_types_every_tensor_validly(name):
    rows = typed_table(KIMI_K2, name)
    assert len(rows) == 1096
    for spec, qtype, _nbytes in rows:
        assert spec.row % gguf.GGML_QUANT_SIZES[qtype][0] == 0, spec.name
        if len(spec.shape) == 1 or spec.kind == "ffn_gate_inp":
            assert qtype == Q.F32, spec.name


def test_ud_recipes_approximate_the_published_sizes():
    types = {s.name: q for s, q, _ in typed_table(KIMI_K2, "UD-Q2_K_XL")}
    assert (types["blk.7.ffn_gate_exps.weight"], types["blk.7.ffn_up_exps.weight"]) == (Q.Q2_K, Q.Q2_K)
    assert types["blk.7.ffn_down_exps.weight"] == Q.Q3_K
    assert types["blk.7.attn_k_b.weight"] == Q.Q8_0  # Q6_K does not fit rows of 128: llama.cpp's fallback
    assert types["blk.7.attn_v_b.weight"] == Q.Q6_K
    total = {name: sum(b for _, _, b in typed_table(KIMI_K2, name)) for name in RECIPES}
    assert 360e9 < total["UD-Q2_K_XL"] < 390e9  # Unsloth: ~381 GB
    assert 225e9 < total["UD-TQ1_0"] < 250e9    # Unsloth: ~245 GB
    assert 1.08e12 < total["Q8_0"] < 1.10e12 and 2.04e12 < total["BF16"] < 2.06e12


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(InputError, match="unknown recipe 'Q3'; valid: UD-Q2_K_XL, UD-TQ1_0, Q8_0, BF16"):
        recipe("Q3")


def test_tiny_shape_goes_through_the_same_table():
    small = tiny()
    def kinds(shape):
        return {t.kind for t in tensor_table(shape)}

    assert kinds(small) == kinds(KIMI_K2)
    assert (small.blocks, small.hidden, small.heads, small.experts, small.experts_used) == (3, 64, 4, 8, 2)
    assert _by_name(small)["blk.2.ffn_up_exps.weight"].shape == (8, 32, 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": 1}, "layers=1"), ({"experts": 8, "experts_used": 9}, "experts_used=9"),
    ({"experts": 1, "experts_used": 1}, "experts=1"), ({"width": 40}, "width=40"),
], ids=["layers", "used>experts", "one-expert", "width"])
def test_tiny_rejects_bad_sizes(kwargs, message):
    with pytest.raises(InputError, match=message):
        tiny(**kwargs)
