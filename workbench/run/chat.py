"""Chat with a loaded Kimi model: sampling presets, the template's own mode switch, streamed events.

- :data:`PRESETS`: thinking (temperature 1.0, top_p 0.95, min_p 0.01) and instant
  (temperature 0.6, top_p 0.95, min_p 0.01), Moonshot's recommended settings; copy and edit
  with :func:`dataclasses.replace`.
- :class:`LocalChat` renders the conversation with the model's own template (from the GGUF,
  or one passed in) through the workbench's HF renderer, passing the switch *that template*
  reads for the mode; streams tokens from llama-cpp-python with special tokens rendered (so
  ``<think>`` is visible) through :class:`~workbench.run.stream.ReplyParser`; stops on
  llama.cpp's end-of-generation tokens (``<|im_end|>`` among them); can be cancelled with
  a ``threading.Event``; reports prompt and generation tokens per second.
- On the demo model (its metadata names demo words) :class:`~workbench.run.demo.DemoScript`
  restricts sampling so replies are real words in Kimi's structure; ``script=False`` turns it off.
- :meth:`LocalChat.mode_note` says in one line when a template has no thinking switch (the
  mode then changes only the sampling).

    >>> chat = LocalChat(load_model("artifacts/Kimi-K2-Tiny.gguf", preset("cpu-only")))   # doctest: +SKIP
    >>> reply = chat.reply([{"role": "user", "content": "Hi"}], mode="instant", max_tokens=32)  # doctest: +SKIP
    >>> reply.answer, reply.generation_tokens_per_s                                    # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from gguf import Keys

from workbench.errors import InputError
from workbench.run.stream import Event, ReplyParser


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    min_p: float
    top_k: int = 0  # 0: off (the recommended settings name none)

    def cli_args(self) -> list[str]:
        """The same settings as ``llama-server`` / ``llama-cli`` flags."""
        return ["--temp", f"{self.temperature:g}", "--top-p", f"{self.top_p:g}", "--min-p", f"{self.min_p:g}",
                "--top-k", str(self.top_k)]


PRESETS: dict[str, Sampling] = {
    "thinking": Sampling(temperature=1.0, top_p=0.95, min_p=0.01),
    "instant": Sampling(temperature=0.6, top_p=0.95, min_p=0.01),
}
MODES = tuple(PRESETS)


@dataclass
class Reply:
    reasoning: str = ""
    answer: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str = ""  # stop | length | cancelled
    n_prompt_tokens: int = 0
    n_generated_tokens: int = 0
    prompt_tokens_per_s: float = 0.0
    generation_tokens_per_s: float = 0.0
    prompt: str = field(default="", repr=False)
    first_token_at: float | None = field(default=None, repr=False)
    #: of the generated tokens, those inside the reasoning (local chat; what a reasoning budget counts)
    n_reasoning_tokens: int = field(default=0, repr=False)

    def as_message(self) -> dict:
        """This reply as the next turn's history: ``{"role": "assistant", "content", "reasoning_content"[, "tool_calls"]}``."""
        message = {"role": "assistant", "content": self.answer, "reasoning_content": self.reasoning}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message

    def to_dict(self) -> dict:
        return {"reasoning": self.reasoning, "answer": self.answer, "tool_calls": self.tool_calls,
                "finish_reason": self.finish_reason, "n_prompt_tokens": self.n_prompt_tokens,
                "n_generated_tokens": self.n_generated_tokens,
                "prompt_tokens_per_s": round(self.prompt_tokens_per_s, 2),
                "generation_tokens_per_s": round(self.generation_tokens_per_s, 2)}


class _Budget:
    """A logits processor that allows only ``</think>`` while :attr:`force` is set (the budget is spent)."""

    def __init__(self, limit: int, llm) -> None:
        if limit < 0:
            raise InputError(f"reasoning_budget must be >= 0 (or None for no limit), got {limit}")
        ids = llm.tokenize(b"</think>", add_bos=False, special=True)
        if len(ids) != 1:
            raise InputError("this model has no </think> token: a reasoning budget cannot end its reasoning")
        self.limit, self.close, self.force = limit, ids[0], False

    def __call__(self, _input_ids, scores):
        if self.force:
            keep = scores[self.close]
            scores[:] = -float("inf")
            scores[self.close] = keep if keep > -float("inf") else 0.0
        return scores


def check_mode(mode: str) -> str:
    """``mode`` when it names a sampling preset, else a one-line :class:`InputError`."""
    if mode not in PRESETS:
        raise InputError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    return mode


class LocalChat:
    """Chat through llama-cpp-python with a loaded model (see the module docstring)."""

    def __init__(self, model, *, template: str | None = None) -> None:
        self.model = model
        self.llm = getattr(model, "llm", model)
        self.template = template if template is not None else self.llm.metadata.get(Keys.Tokenizer.CHAT_TEMPLATE)
        if not self.template:
            raise InputError("the model has no tokenizer.chat_template; pass template=")
        self.last: Reply | None = None
        from workbench.run.demo import DemoScript

        self.demo = DemoScript.from_model(self.llm)

    def mode_note(self, mode: str) -> str | None:
        """One line when the mode does not reach the template (it reads no thinking switch); None when it does."""
        from workbench.chat import thinking_switches

        if thinking_switches(self.template):
            return None
        s = PRESETS[check_mode(mode)]
        return (f"this template reads no thinking switch: {mode} mode changes only the sampling "
                f"(temperature {s.temperature:g}, top_p {s.top_p:g}, min_p {s.min_p:g}); the prompt is the same")

    def count(self, messages: list[dict], *, mode: str = "thinking", tools: list[dict] | None = None,
              preserve_thinking: bool = False) -> int:
        """Tokens of the prompt for ``messages`` in ``mode`` (what :meth:`stream` would feed the model)."""
        prompt = self.render(messages, mode=mode, tools=tools, preserve_thinking=preserve_thinking)
        return len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def n_ctx(self) -> int:
        return self.llm.n_ctx()

    def render(self, messages: list[dict], *, mode: str = "thinking", tools: list[dict] | None = None,
               preserve_thinking: bool = False) -> str:
        """The prompt for ``messages`` in ``mode``, fed as Moonshot's tokenizer feeds the template: the switch
        it reads, ``tools_ts_str`` and key-sorted tools where it reads that, ``preserve_thinking`` (earlier
        turns keep their reasoning) where it reads that."""
        from workbench.chat import render, template_kwargs

        tools, kwargs = template_kwargs(self.template, thinking=check_mode(mode) == "thinking", tools=tools,
                                        preserve_thinking=preserve_thinking)
        return render(self.template, messages, tools=tools, add_generation_prompt=True, **kwargs)

    def stream(self, messages: list[dict], *, mode: str = "thinking", sampling: Sampling | None = None,
               tools: list[dict] | None = None, max_tokens: int = 1024, seed: int | None = None,
               stop: threading.Event | None = None, logit_bias: dict[int, float] | None = None,
               logits_processors: list | None = None, script: bool = True,
               preserve_thinking: bool = False, reasoning_budget: int | None = None) -> Iterator[Event]:
        """Events as tokens arrive; the finished :class:`Reply` is then in :attr:`last`.

        ``logit_bias`` adds to chosen tokens' logits; ``logits_processors`` are llama-cpp-python
        ``(input_ids, scores) -> scores`` callables, applied after it; the demo script (when the
        model has one and ``script`` is true) comes next. ``reasoning_budget=N`` ends the
        reasoning after N reasoning tokens: the next token is ``</think>``, then the answer
        follows (as ``llama-server --reasoning-budget N``; 0 answers at once; ``None``: no limit).
        While it streams, :attr:`last` counts the tokens so far (``n_generated_tokens``, of them
        ``n_reasoning_tokens``) and when the first one came (``first_token_at``, ``time.perf_counter``).
        """
        import llama_cpp
        import numpy as np

        sampling = sampling or PRESETS[check_mode(mode)]
        prompt = self.render(messages, mode=mode, tools=tools, preserve_thinking=preserve_thinking)
        llm = self.llm
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) + 1 > llm.n_ctx():
            raise InputError(f"the prompt has {len(tokens)} tokens; the context holds {llm.n_ctx()}")
        if seed is not None:
            llm.set_seed(seed)
        chain = list(logits_processors or [])
        if logit_bias:
            ids, bias = np.array(list(logit_bias), dtype=np.int64), np.array(list(logit_bias.values()), dtype=np.float32)

            def add_bias(_ids, scores):
                scores[ids] += bias
                return scores

            chain.insert(0, add_bias)
        thinking = prompt.rstrip().endswith("<think>")
        if script and self.demo is not None:
            text = self.demo.tool_call_text(messages, tools)
            call = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) if text else None
            chain.append(self.demo.processor(n_prompt=len(tokens), thinking=thinking, messages=messages, seed=seed,
                                             call=call))
        parser = ReplyParser(in_reasoning=thinking)
        budget = _Budget(reasoning_budget, llm) if reasoning_budget is not None else None
        if budget is not None:
            chain.append(budget)
            budget.force = parser.thinking and budget.limit == 0
        processors = llama_cpp.LogitsProcessorList(chain) if chain else None
        reply = Reply(n_prompt_tokens=len(tokens), prompt=prompt)
        self.last = reply
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llm._model.vocab
        start = time.perf_counter()
        first = None
        n = 0
        reply.finish_reason = "length"
        for token in llm.generate(tokens, temp=sampling.temperature, top_p=sampling.top_p, min_p=sampling.min_p,
                                  top_k=sampling.top_k, reset=True, logits_processor=processors):
            if first is None:
                first = reply.first_token_at = time.perf_counter()
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                reply.finish_reason = "stop"
                break
            n = reply.n_generated_tokens = n + 1
            was_thinking = parser.thinking
            text = decoder.decode(llm.detokenize([token], special=True))
            yield from parser.feed(text)
            if was_thinking and parser.thinking:  # the closing </think> is not reasoning
                reply.n_reasoning_tokens += 1
            if budget is not None:
                budget.force = parser.thinking and reply.n_reasoning_tokens >= budget.limit
            if parser.done:
                reply.finish_reason = "stop"
                break
            if stop is not None and stop.is_set():
                reply.finish_reason = "cancelled"
                break
            if n >= max_tokens or len(tokens) + n >= llm.n_ctx():
                break
        end = time.perf_counter()
        yield from parser.feed(decoder.decode(b"", final=True))
        yield from parser.finish()
        reply.reasoning, reply.answer, reply.tool_calls = parser.reasoning, parser.answer, parser.tool_calls
        reply.n_generated_tokens = n
        if first is not None:
            reply.prompt_tokens_per_s = len(tokens) / max(first - start, 1e-9)
            reply.generation_tokens_per_s = (n - 1) / (end - first) if n > 1 and end > first else 0.0

    def run_tools(self, messages: list[dict], tools, *, max_steps: int = 5, **kwargs):
        """The tool loop (:func:`workbench.run.tools.run_tools`): call, run your callables, answer."""
        from workbench.run.tools import run_tools

        return run_tools(self, messages, tools, max_steps=max_steps, **kwargs)

    def reply(self, messages: list[dict], **kwargs) -> Reply:
        """The whole reply at once (same arguments as :meth:`stream`)."""
        for _ in self.stream(messages, **kwargs):
            pass
        return self.last
