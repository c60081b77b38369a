"""Scripted models: real weights designed so the model writes a chosen reply, in any engine.

A random-weight model never reaches ``</think>`` or a tool call by itself, and a logits processor
(the demo's script) exists only where the workbench samples. To see real reasoning boundaries and
real tool calls from llama-server and vLLM, the weights themselves follow a script:

- every *input* token of the script has its own residual dimension; its embedding is that unit
  vector, and the output row of its successor reads it, so the last token decides the next (a
  bigram chain): ``<think>`` → reasoning → ``</think>`` → a tool-call section → ``<|im_end|>``;
- one branch needs context: after a tool result the same ``</think>`` must lead to the answer
  instead. Block 0's attention has zero queries, so it attends uniformly, and a value only on a
  *marker* token of the tool-result turn (``## Return of…``): its output is a flag in the residual
  stream wherever a tool result is in the context. Block 0's dense FFN (SwiGLU) multiplies "this
  is ``</think>``" by the flag into an AND dimension, and the answer's first token reads that one.
  Every other weight is zero (the MoE block and its experts add nothing).

So the model's first reply is ``reasoning</think>`` plus a call to the tool with the scripted
arguments; given the tool's result it replies ``reasoning</think>answer``. The margins are tens of
logits at temperature 1 for any context up to a few thousand tokens, so sampling does not matter.
:func:`make_scripted_model` writes the GGUF (llama.cpp, llama-server); :func:`make_scripted_hf_model`
the same program in Hugging Face format (vLLM). :func:`script_for` checks a script can be a chain
(no input token twice) before anything is written, and says which text to change.

    >>> (path,) = make_scripted_model("artifacts/Kimi-K2-Scripted.gguf")     # doctest: +SKIP
    >>> LocalChat(load_model(path, preset("cpu-only"))).run_tools(ask, {"get_weather": f}).reply.answer  # doctest: +SKIP
    ' Sunny and mild there'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from workbench.errors import InputError
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.special import EOS

#: the tool the default script calls, and how. The texts are chosen so no token repeats: each input token of a
#: bigram chain has one successor (a string argument would repeat '"' in this vocabulary)
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather forecast, some days ahead",
    "parameters": {"type": "object", "properties": {"days": {"type": "integer", "description": "days ahead"}},
                   "required": ["days"]}}}
ARGUMENTS = {"days": 3}
ASK = "What will the weather be in three days?"
REASONING = " I will look it up"
ANSWER = " Sunny and mild there"
#: magnitudes: embedding, output rows, the flag's gain per unit of (marker count / context), the AND's gate and up
A, W, FLAG_GAIN, GATE, UP = 1.0, 100.0, 2000.0, 10.0, 10.0


@dataclass(frozen=True)
class Script:
    """The token program: a dimension per input token, successor pairs, the branch and the marker."""

    dims: dict[int, int]  # token id -> its residual dimension
    pairs: list[tuple[int, int]]  # (token, successor) of the unconditional chain
    close: int  # </think>: its successor is the call, or the answer when the flag is up
    call_first: int
    answer_first: int
    marker: int
    width: int

    @property
    def d_marker(self) -> int:
        return len(self.dims)

    @property
    def d_flag(self) -> int:
        return len(self.dims) + 1

    @property
    def d_and(self) -> int:
        return len(self.dims) + 2


def call_text(tool: dict = WEATHER, arguments: dict | None = None) -> str:
    """The tool-call section the script writes: ``functions.NAME:0`` with compact JSON arguments."""
    arguments = ARGUMENTS if arguments is None else arguments
    return ("<|tool_calls_section_begin|><|tool_call_begin|>functions." + tool["function"]["name"] + ":0"
            "<|tool_call_argument_begin|>" + json.dumps(arguments, separators=(",", ":"))
            + "<|tool_call_end|><|tool_calls_section_end|>")


def script_for(assets: TokenizerAssets, template: str, *, width: int, tool: dict = WEATHER,
               arguments: dict | None = None, reasoning: str = REASONING, answer: str = ANSWER,
               ask: str = ASK) -> Script:
    """The program for this vocabulary and template; an :class:`InputError` names the text that cannot be a chain."""
    from workbench.chat import render

    def ids(text: str) -> list[int]:
        return assets.encode(text)

    def one(text: str) -> int:
        (i,) = ids(text)
        return i

    think, close, end = one("<think>"), one("</think>"), one(EOS)
    parts = {"reasoning": ids(reasoning), "call": ids(call_text(tool, arguments)), "answer": ids(answer)}
    chain = [think, *parts["reasoning"], close, *parts["call"], end]
    second = [close, *parts["answer"], end]
    inputs = chain[:-1] + second[1:-1]
    seen: dict[int, int] = {}
    for i in inputs:
        seen[i] = seen.get(i, 0) + 1
    twice = [i for i, n in seen.items() if n > 1]
    if twice:
        pieces = ", ".join(repr(assets.decode([i])) for i in twice)
        raise InputError(f"the script repeats the token(s) {pieces}: each input token has one successor in a "
                         "scripted model; change the reasoning, answer or arguments text")
    dims = {t: k for k, t in enumerate(dict.fromkeys(inputs + [close]))}
    if len(dims) + 3 > width:
        raise InputError(f"the script has {len(dims)} input tokens; width {width} holds {width - 3}: shorten it")
    user = [{"role": "user", "content": ask}]
    first_prompt = set(ids(render(template, user, tools=[tool], renderer="moonshot")))
    tool_turn = ids("## Return of functions.")
    marker = next((t for t in tool_turn if t not in first_prompt and t not in dims), None)
    if marker is None:
        raise InputError("no token of the tool-result turn is absent from the first prompt: the model could not tell "
                         "a tool result is in its context")
    pairs = [(a, b) for a, b in zip(chain, chain[1:]) if a != close] + list(zip(second[1:], second[2:]))
    return Script(dims, pairs, close, parts["call"][0], parts["answer"][0], marker, width)


def _embed(emb: np.ndarray, script: Script) -> None:
    """Each input token its own unit dimension; the marker its own (rows are tokens, in both formats)."""
    for t, d in script.dims.items():
        emb[t, d] = A
    emb[script.marker, script.d_marker] = A


def _successors(head: np.ndarray, script: Script) -> None:
    """Output rows: each successor reads its token's dimension; after </think>, the call reads </think> and the
    answer the AND dimension."""
    for a, b in script.pairs:
        head[b, script.dims[a]] += W
    head[script.call_first, script.dims[script.close]] += W
    head[script.answer_first, script.d_and] += W


def gguf_weights(table, script: Script) -> list[np.ndarray]:
    """The scripted weights for a ``deepseek2`` tensor table (numpy order), one F32 array per tensor."""
    out = []
    for spec in table:
        w = np.ones(spec.shape, np.float32) if spec.name.endswith("norm.weight") else np.zeros(spec.shape, np.float32)
        name = spec.name
        if name == "token_embd.weight":
            _embed(w, script)
        elif name == "output.weight":
            _successors(w, script)
        elif name == "blk.0.attn_kv_a_mqa.weight":
            w[0, script.d_marker] = 1.0  # the latent's first dimension: "this is the marker"
        elif name == "blk.0.attn_v_b.weight":
            w[0, 0, 0] = 1.0  # head 0's first value dimension reads it
        elif name == "blk.0.attn_output.weight":
            # the latent of a marker is normalised to sqrt(kv_lora); averaged over t positions and scaled, the flag is
            # FLAG_GAIN x (markers / t): about A at 2,000 tokens of context, more in shorter ones
            w[script.d_flag, 0] = FLAG_GAIN / np.sqrt(_kv_lora(table))
        elif name == "blk.0.ffn_gate.weight":
            w[0, script.dims[script.close]] = GATE
        elif name == "blk.0.ffn_up.weight":
            w[0, script.d_flag] = UP
        elif name == "blk.0.ffn_down.weight":
            w[script.d_and, 0] = 1.0
        out.append(w)
    return out


def _kv_lora(table) -> int:
    return next(t.shape[0] for t in table if t.name == "blk.0.attn_kv_a_norm.weight")


def make_scripted_model(out: str | os.PathLike[str], *, vocab: TokenizerAssets | str | os.PathLike[str] | None = None,
                        chat_template: str | None = None, **script) -> list[Path]:
    """Write the scripted GGUF (the tiny Kimi K2 shape; the K2.6-style hybrid template unless given)."""
    import gguf

    from workbench.chat.bundled import bundled_template
    from workbench.models.shape import tensor_table, tiny
    from workbench.models.tiny import check_target, vocab_assets, write_shaped

    target = check_target(out)
    assets = vocab_assets(vocab)
    template = chat_template if chat_template is not None else bundled_template("kimi-k2-hybrid")
    shape = replace(tiny(layers=2, width=64), vocab=assets.vocab_size, name="Kimi K2 Scripted")
    program = script_for(assets, template, width=shape.hidden, **script)
    table = tensor_table(shape)
    planned = [(spec, gguf.GGMLQuantizationType.F32, data.nbytes, data)
               for spec, data in zip(table, gguf_weights(table, program))]
    return write_shaped(target, shape, planned, assets=assets, eos=EOS, chat_template=template,
                        file_type=gguf.LlamaFileType.ALL_F32, control_all=False)


def hf_weights(cfg: dict, tensors: dict, script: Script) -> dict:
    """The same program in a ``DeepseekV3ForCausalLM`` state dict (``tensors`` give the names and shapes)."""
    out = {k: (np.ones_like(v) if k.endswith("norm.weight") else np.zeros_like(v)) for k, v in tensors.items()}
    _embed(out["model.embed_tokens.weight"], script)
    _successors(out["lm_head.weight"], script)
    p = "model.layers.0."
    out[p + "self_attn.kv_a_proj_with_mqa.weight"][0, script.d_marker] = 1.0
    out[p + "self_attn.kv_b_proj.weight"][cfg["qk_nope_head_dim"], 0] = 1.0  # head 0: its first value dimension
    out[p + "self_attn.o_proj.weight"][script.d_flag, 0] = FLAG_GAIN / np.sqrt(cfg["kv_lora_rank"])
    out[p + "mlp.gate_proj.weight"][0, script.dims[script.close]] = GATE
    out[p + "mlp.up_proj.weight"][0, script.d_flag] = UP
    out[p + "mlp.down_proj.weight"][script.d_and, 0] = 1.0
    return out


def make_scripted_hf_model(out: str | os.PathLike[str], *, vocab: TokenizerAssets | None = None,
                           chat_template: str | None = None, **script) -> Path:
    """Write the scripted model in Hugging Face format (:func:`workbench.models.hf_tiny.make_hf_model`), for vLLM."""
    from workbench.chat.bundled import bundled_template
    from workbench.models.hf_tiny import SHAPE, make_hf_model
    from workbench.models.tiny import vocab_assets

    assets = vocab_assets(vocab)
    template = chat_template if chat_template is not None else bundled_template("kimi-k2-hybrid")
    program = script_for(assets, template, width=SHAPE["hidden_size"], **script)
    return make_hf_model(out, vocab=assets, chat_template=template,
                         weights=lambda cfg, tensors: hf_weights(cfg, tensors, program))
