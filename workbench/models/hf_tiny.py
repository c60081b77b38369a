"""A tiny Kimi K2-architecture model in Hugging Face format, for engines that read safetensors (vLLM).

Kimi K2's checkpoints are ``DeepseekV3ForCausalLM``: MLA attention (a compressed KV latent of
``kv_lora_rank`` plus a shared RoPE key of ``qk_rope_head_dim``), a dense first block, then MoE
blocks with a shared expert and sigmoid routing with a score-correction bias. :func:`make_hf_model`
writes that layout at toy size with random weights (numpy, no torch): ``config.json`` (model type
``deepseek_v3``, which transformers and vLLM know without remote code), ``model.safetensors``, and
the tokenizer as ``tokenizer.json`` (HF ``tokenizers``, converted from the same tiktoken ranks, the
Kimi specials at their ids) plus ``tokenizer_config.json`` with the chat template and
``<|im_end|>`` as EOS.

Two dimensions are not toy-sized: vLLM's CPU MLA kernel takes only a 576-wide cached latent,
so ``kv_lora_rank=512`` and ``qk_rope_head_dim=64``, as in Kimi K2 itself.

    >>> folder = make_hf_model("artifacts/kimi-tiny-hf")            # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())                     # doctest: +SKIP
    ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench.errors import InputError
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import BOS, EOS, PAD

#: the shape: Kimi K2's structure at toy size (the MLA latent at its real 512 + 64)
SHAPE = {"hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 2, "num_key_value_heads": 2, "n_routed_experts": 8, "num_experts_per_tok": 2,
         "n_shared_experts": 1, "first_k_dense_replace": 1, "q_lora_rank": None, "kv_lora_rank": 512,
         "qk_rope_head_dim": 64, "qk_nope_head_dim": 32, "v_head_dim": 32, "n_group": 1, "topk_group": 1,
         "routed_scaling_factor": 2.827, "norm_topk_prob": True, "max_position_embeddings": 4096,
         "rms_norm_eps": 1e-6, "rope_theta": 50000.0, "hidden_act": "silu", "tie_word_embeddings": False}


def _weights(cfg: dict, vocab: int, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)

    def w(*shape: int, scale: float = 0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    qk = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
    out = {"model.embed_tokens.weight": w(vocab, h), "model.norm.weight": np.ones(h, np.float32),
           "lm_head.weight": w(vocab, h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out |= {p + "input_layernorm.weight": np.ones(h, np.float32),
                p + "post_attention_layernorm.weight": np.ones(h, np.float32),
                p + "self_attn.q_proj.weight": w(heads * qk, h),
                p + "self_attn.kv_a_proj_with_mqa.weight": w(cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"], h),
                p + "self_attn.kv_a_layernorm.weight": np.ones(cfg["kv_lora_rank"], np.float32),
                p + "self_attn.kv_b_proj.weight": w(heads * (cfg["qk_nope_head_dim"] + cfg["v_head_dim"]),
                                                    cfg["kv_lora_rank"]),
                p + "self_attn.o_proj.weight": w(h, heads * cfg["v_head_dim"])}
        if i < cfg["first_k_dense_replace"]:
            f = cfg["intermediate_size"]
            out |= {p + "mlp.gate_proj.weight": w(f, h), p + "mlp.up_proj.weight": w(f, h),
                    p + "mlp.down_proj.weight": w(h, f)}
            continue
        f, e = cfg["moe_intermediate_size"], cfg["n_routed_experts"]
        out |= {p + "mlp.gate.weight": w(e, h), p + "mlp.gate.e_score_correction_bias": np.zeros(e, np.float32)}
        for j in range(e):
            q = f"{p}mlp.experts.{j}."
            out |= {q + "gate_proj.weight": w(f, h), q + "up_proj.weight": w(f, h), q + "down_proj.weight": w(h, f)}
        s = f * cfg["n_shared_experts"]
        out |= {p + "mlp.shared_experts.gate_proj.weight": w(s, h), p + "mlp.shared_experts.up_proj.weight": w(s, h),
                p + "mlp.shared_experts.down_proj.weight": w(h, s)}
    return out


def make_hf_model(out: str | os.PathLike[str], *, vocab: TokenizerAssets | None = None, chat_template: str | None = None,
                  seed: int = 0, weights=None) -> Path:
    """Write the tiny HF-format model folder ``out`` (replaced if it exists); returns it.

    ``vocab`` (a Kimi-layout tokenizer with ranks; default: a small one trained on the repository's corpus) and
    ``chat_template`` (default: the bundled K2.6-style hybrid) go into its tokenizer files. ``weights(config,
    random_weights) -> weights`` replaces the seeded random ones (the scripted model's).
    """
    import shutil
    import tempfile

    from safetensors.numpy import save_file

    from workbench.chat.bundled import bundled_template

    if vocab is None:
        from workbench.tokenizer import build_vocab, load

        with tempfile.TemporaryDirectory() as tmp:
            vocab = load(build_vocab(Path(tmp) / "vocab"))
            _ = vocab.hf  # built while the folder exists
    if not vocab.has_ranks:
        raise InputError(f"{vocab.path}: the vocabulary has no BPE ranks (tiktoken.model); an HF tokenizer needs them")
    target = Path(out)
    staging = Path(tempfile.mkdtemp(dir=target.parent if target.parent.exists() else None, prefix=".hf-tiny."))
    try:
        cfg = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", **SHAPE,
               "vocab_size": vocab.vocab_size, "bos_token_id": vocab.special_id(BOS), "eos_token_id": vocab.special_id(EOS),
               "pad_token_id": vocab.special_id(PAD), "torch_dtype": "float32", "scoring_func": "sigmoid",
               "topk_method": "noaux_tc"}
        (staging / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        (staging / "generation_config.json").write_text(json.dumps({"eos_token_id": cfg["eos_token_id"]}),
                                                        encoding="utf-8")
        tensors = _weights(cfg, vocab.vocab_size, seed)
        save_file(weights(cfg, tensors) if weights is not None else tensors, str(staging / "model.safetensors"))
        vocab.hf.save(str(staging / "tokenizer.json"))
        (staging / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
            "model_max_length": SHAPE["max_position_embeddings"], "add_bos_token": False,
            "chat_template": chat_template if chat_template is not None else bundled_template("kimi-k2-hybrid"),
        }, indent=2, ensure_ascii=False), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
