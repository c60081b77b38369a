"""Chat with a Kimi model behind an OpenAI-compatible server (llama-server, vLLM, SGLang, llama_cpp.server).

:class:`RemoteChat` has :class:`~workbench.run.chat.LocalChat`'s API (``stream``, ``reply``,
``last``) over the ``openai`` client with streaming. Reasoning comes from the server's
``reasoning_content`` deltas when it separates it (llama-server ``--jinja``, vLLM/SGLang
reasoning parsers), else from ``<think>`` tags in the content, through the same
:class:`~workbench.run.stream.ReplyParser`; streamed ``tool_calls`` deltas are assembled
into OpenAI-style calls whose ids are made canonical (``functions.NAME:IDX``, whatever the
server sent). The mode switch goes to the template as
``chat_template_kwargs`` (``thinking`` and ``enable_thinking``: servers pass it to the template,
which reads the one it knows); min_p goes in the request body, as llama.cpp and vLLM accept it.

A server started with ``--api-key`` takes ``api_key=`` (or ``OPENAI_API_KEY`` from the
environment); a wrong or missing key is one line naming the server, never the key.

    >>> chat = RemoteChat("http://127.0.0.1:8080/v1")                    # doctest: +SKIP
    >>> chat.reply([{"role": "user", "content": "Hi"}], mode="instant").answer   # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

from workbench.chat.tool_ids import canonical_id
from workbench.errors import InputError
from workbench.run.chat import PRESETS, Reply, Sampling, check_mode
from workbench.run.stream import Event, ReplyParser


class RemoteChat:
    """Streaming chat against ``base_url`` (``http://host:port/v1``)."""

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout: float = 600.0):
        import openai

        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY") or "none"  # the key is never printed or kept elsewhere
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=0)
        self._model = model
        self.last: Reply | None = None
        #: the thinking switches sent in chat_template_kwargs (:meth:`learn` keeps the ones that take effect)
        self.switches: tuple[str, ...] = ("thinking", "enable_thinking")

    def learn(self, report) -> None:
        """Use what :func:`workbench.run.conformance.check_server` found: send only the switch that changes
        this server's prompt (both when it could not tell)."""
        self.switches = tuple(report.effective_switches) or ("thinking", "enable_thinking")

    @property
    def model(self) -> str:
        """The served model's id (the first the server lists, unless given)."""
        if self._model is None:
            models = self._call(lambda: self.client.models.list())
            if not models.data:
                raise InputError(f"{self.base_url}: the server lists no model")
            self._model = models.data[0].id
        return self._model

    def _call(self, fn):
        import openai

        try:
            return fn()
        except openai.APIConnectionError as e:
            raise InputError(f"cannot reach {self.base_url}: {e.__cause__ or e}") from e
        except openai.AuthenticationError as e:
            raise InputError(f"{self.base_url} refused the API key ({e.status_code}): pass the server's key "
                             "(--api-key, or OPENAI_API_KEY in the environment)") from None
        except openai.APIStatusError as e:
            raise InputError(f"{self.base_url} answered {e.status_code}: {e.message}") from e

    def stream(self, messages: list[dict], *, mode: str = "thinking", sampling: Sampling | None = None,
               tools: list[dict] | None = None, max_tokens: int = 1024, seed: int | None = None,
               stop: threading.Event | None = None, logit_bias: dict[int, float] | None = None,
               preserve_thinking: bool = False) -> Iterator[Event]:
        """Events as chunks arrive; the finished :class:`~workbench.run.chat.Reply` is then in :attr:`last`.

        The template kwargs go in ``chat_template_kwargs`` (llama-server and vLLM pass them to the template):
        the mode switch, ``preserve_thinking`` (and llama-server's ``preserve_reasoning``) as asked, since
        llama-server keeps earlier reasoning unless told not to (``--reasoning-preserve`` is its default:
        common/arg.cpp, common/chat.cpp), and with tools their ``tools_ts_str``, which a K2.5/K2.6 template
        prints instead of JSON and any other template ignores.
        """
        from workbench.chat.tools_ts import declare

        sampling = sampling or PRESETS[check_mode(mode)]
        thinking = mode == "thinking"
        # preserve_* always: llama-server defines preserve_thinking=true unless told (--reasoning-preserve is its
        # default), while Moonshot's tokenizer defaults to false
        template_kwargs: dict = {**{s: thinking for s in self.switches},
                                 "preserve_thinking": preserve_thinking, "preserve_reasoning": preserve_thinking}
        if tools:
            text = declare(tools)[1]
            if text:
                template_kwargs["tools_ts_str"] = text
        body: dict = {"min_p": sampling.min_p, "chat_template_kwargs": template_kwargs}
        if sampling.top_k:
            body["top_k"] = sampling.top_k
        kwargs: dict = dict(model=self.model, messages=messages, stream=True, max_tokens=max_tokens,
                            stream_options={"include_usage": True},  # the prompt and reply token counts
                            temperature=sampling.temperature, top_p=sampling.top_p, extra_body=body)
        if tools:
            kwargs["tools"] = tools
        if seed is not None:
            kwargs["seed"] = seed
        if logit_bias:
            kwargs["logit_bias"] = {str(k): v for k, v in logit_bias.items()}
        start = time.perf_counter()
        response = self._call(lambda: self.client.chat.completions.create(**kwargs))
        parser = ReplyParser()
        reply = Reply()
        self.last = reply
        calls: dict[int, dict] = {}
        first = None
        chunks = 0
        try:
            for chunk in self._call(lambda: iter(response)):
                if first is None:
                    first = reply.first_token_at = time.perf_counter()
                if chunk.usage:
                    reply.n_prompt_tokens = chunk.usage.prompt_tokens or 0
                    reply.n_generated_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    delta = choice.delta
                    extra = getattr(delta, "model_extra", None) or {}
                    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                    if reasoning:
                        chunks = reply.n_generated_tokens = chunks + 1  # live: about a token a chunk
                        parser.reasoning += reasoning
                        yield Event("reasoning", reasoning)
                    if delta.content:
                        chunks = reply.n_generated_tokens = chunks + 1
                        yield from parser.feed(delta.content)
                    for tc in delta.tool_calls or []:
                        call = calls.setdefault(tc.index, {"id": "", "type": "function", "index": tc.index,
                                                           "function": {"name": "", "arguments": ""}})
                        call["id"] = tc.id or call["id"]
                        if tc.function is not None:
                            call["function"]["name"] += tc.function.name or ""
                            call["function"]["arguments"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        reply.finish_reason = "length" if choice.finish_reason == "length" else "stop"
                if stop is not None and stop.is_set():
                    reply.finish_reason = "cancelled"
                    break
        finally:
            response.close()
        end = time.perf_counter()
        yield from parser.finish()
        for call in calls.values():  # whatever id the server sent (call_…, functionsexec5, 5), the canonical one
            call["id"] = canonical_id(call["id"], call["function"]["name"], call["index"])
            yield Event("tool_call", call=call)
        reply.reasoning, reply.answer = parser.reasoning, parser.answer
        reply.tool_calls = parser.tool_calls + list(calls.values())
        reply.n_generated_tokens = reply.n_generated_tokens or chunks
        reply.finish_reason = reply.finish_reason or "stop"
        if first is not None:
            reply.prompt_tokens_per_s = reply.n_prompt_tokens / max(first - start, 1e-9)
            n = reply.n_generated_tokens
            reply.generation_tokens_per_s = (n - 1) / (end - first) if n > 1 and end > first else 0.0

    def run_tools(self, messages: list[dict], tools, *, max_steps: int = 5, **kwargs):
        """The tool loop (:func:`workbench.run.tools.run_tools`) against the server."""
        from workbench.run.tools import run_tools

        return run_tools(self, messages, tools, max_steps=max_steps, **kwargs)

    def reply(self, messages: list[dict], **kwargs) -> Reply:
        for _ in self.stream(messages, **kwargs):
            pass
        return self.last
