"""``kimi-wb server-check``: what an OpenAI-compatible server does with Kimi's thinking, tools and streaming.

Servers differ where Kimi needs care: which field carries the reasoning (vLLM's ``reasoning``,
llama-server's and SGLang's ``reasoning_content``, or ``<think>`` left inline in the content),
whether ``thinking`` or ``enable_thinking`` reaches the template, what a tool call looks like
and which id it gets, whether markers leak into the text. :func:`check_server` sends a fixed
probe set, each with a fixed seed, temperature 0 and a few tokens:

- thinking on and off through ``chat_template_kwargs`` ``thinking``, then ``enable_thinking``;
- a declared tool (a weather function) and a tool-result round trip (an assistant tool call with
  a canonical id, then its ``tool`` message);
- each streamed and not streamed.

A toggle *takes effect* when the prompt the server built changes with it (its reported
``prompt_tokens`` differ between on and off): a template that reads the other switch ignores
it, whatever the model then writes. The report lists, per probe, the HTTP outcome, where the
reasoning came, content and reasoning lengths, leaked markers (``<think>``, ``</think>``,
``<|tool_call…``, ``<|im_end|>``), tool calls and their id forms, the finish reason and the
prompt tokens; then the conclusions. :meth:`RemoteChat.learn <workbench.run.remote.RemoteChat.learn>`
takes them (for example, the switch to send).

    >>> report = check_server("http://127.0.0.1:8080/v1")              # doctest: +SKIP
    >>> report.reasoning_field, report.effective_switches              # doctest: +SKIP
    ('reasoning_content', ['thinking'])
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from workbench.chat.tool_ids import is_canonical
from workbench.errors import InputError

MARKERS = ("<think>", "</think>", "<|tool_call", "<|tool_calls_section", "<|im_end|>", "<|im_assistant|>")
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
ROUND_TRIP = ASK + [
    {"role": "assistant", "content": "", "tool_calls": [{"id": "functions.get_weather:0", "type": "function",
                                                         "function": {"name": "get_weather",
                                                                      "arguments": '{"city":"Paris"}'}}]},
    {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": '{"temperature": 18}'},
]


@dataclass
class Probe:
    """One request and what came back."""

    name: str
    stream: bool
    ok: bool = False
    error: str = ""
    reasoning_field: str = "none"  # reasoning | reasoning_content | inline | none
    reasoning: str = field(default="", repr=False)
    content: str = field(default="", repr=False)
    leaks: list[str] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str = ""
    prompt_tokens: int | None = None

    def to_dict(self) -> dict:
        return {"probe": self.name, "stream": self.stream, "ok": self.ok, "error": self.error,
                "reasoning_field": self.reasoning_field, "reasoning_chars": len(self.reasoning),
                "content_chars": len(self.content), "leaks": self.leaks,
                "tool_calls": [{"name": c.get("name", ""), "id": c.get("id", ""),
                                "id_canonical": is_canonical(c.get("id", "") or "")} for c in self.tool_calls],
                "finish_reason": self.finish_reason, "prompt_tokens": self.prompt_tokens}


@dataclass
class ServerReport:
    url: str
    model: str
    probes: list[Probe]
    seconds: float = 0.0

    def _get(self, name: str, stream: bool) -> Probe | None:
        return next((p for p in self.probes if p.name == name and p.stream == stream), None)

    @property
    def reasoning_field(self) -> str:
        """Where reasoning arrives (``reasoning``, ``reasoning_content``, ``inline``, ``none``), from the thinking probes."""
        seen = [p.reasoning_field for p in self.probes if p.ok and p.name.endswith("-on") and p.reasoning_field != "none"]
        return max(set(seen), key=seen.count) if seen else "none"

    def switch_effect(self, switch: str) -> bool | None:
        """Whether the switch changes the prompt the server built (None: it could not be told)."""
        on, off = self._get(f"{switch}-on", False), self._get(f"{switch}-off", False)
        if not (on and off and on.ok and off.ok) or on.prompt_tokens is None or off.prompt_tokens is None:
            return None
        return on.prompt_tokens != off.prompt_tokens

    def parser_follows(self, switch: str) -> bool | None:
        """The switch leaves the prompt alone, yet reasoning arrives with it on and not with it off: the server's
        reasoning parser reads the switch, so with it off a model that still thinks has its reasoning delivered
        as the answer (None: it could not be told)."""
        on, off = self._get(f"{switch}-on", False), self._get(f"{switch}-off", False)
        if self.switch_effect(switch) is not False or not (on and off):
            return None
        return bool(on.reasoning) and not off.reasoning

    @property
    def effective_switches(self) -> list[str]:
        return [s for s in ("thinking", "enable_thinking") if self.switch_effect(s)]

    @property
    def stream_agrees(self) -> bool | None:
        """Streamed and non-streamed replies of each probe give the same text (None: nothing to compare)."""
        pairs = [(self._get(p.name, False), p) for p in self.probes if p.stream]
        pairs = [(a, b) for a, b in pairs if a and a.ok and b.ok]
        if not pairs:
            return None
        return all((a.reasoning + a.content).strip() == (b.reasoning + b.content).strip() for a, b in pairs)

    def conclusions(self) -> dict:
        tools = [c for p in self.probes if p.ok for c in p.tool_calls]
        return {"reasoning_field": self.reasoning_field,
                "thinking_switch": {s: self.switch_effect(s) for s in ("thinking", "enable_thinking")},
                "parser_follows": {s: self.parser_follows(s) for s in ("thinking", "enable_thinking")},
                "tool_calls": "structured" if tools else "none seen",
                "tool_call_ids": sorted({("canonical" if is_canonical(c.get("id", "") or "") else "other")
                                         for c in tools}),
                "leaks": sorted({m for p in self.probes for m in p.leaks}),
                "finish_reasons": sorted({p.finish_reason for p in self.probes if p.finish_reason}),
                "tool_round_trip": all(p.ok for p in self.probes if p.name == "tool-result"),
                "answered": sum(p.ok for p in self.probes), "hung": next((p.error for p in self.probes
                                                                        if p.error.startswith("no reply")), None),
                "stream_agrees": self.stream_agrees}

    def to_dict(self) -> dict:
        return {"url": self.url, "model": self.model, "seconds": round(self.seconds, 2),
                "conclusions": self.conclusions(), "probes": [p.to_dict() for p in self.probes]}

    def format(self) -> str:
        c = self.conclusions()
        head = f"{'probe':<22} {'stream':<6} {'ok':<3} {'reasoning in':<18} {'reason':>6} {'text':>5} " \
               f"{'prompt':>6} {'finish':<7} tool calls / leaks"
        lines = [f"{self.url} · model {self.model} · {len(self.probes)} probes in {self.seconds:.1f} s", "", head]
        for p in self.probes:
            calls = ", ".join(f"{t.get('name')} id={t.get('id')!r}" for t in p.tool_calls)
            extra = "; ".join(x for x in (calls, ("leaks " + " ".join(p.leaks)) if p.leaks else "", p.error) if x)
            lines.append(f"{p.name:<22} {'yes' if p.stream else 'no':<6} {'ok' if p.ok else 'NO':<3} "
                         f"{p.reasoning_field:<18} {len(p.reasoning):>6} {len(p.content):>5} "
                         f"{p.prompt_tokens if p.prompt_tokens is not None else '-':>6} {p.finish_reason:<7} {extra}")
        switch = {True: "changes the prompt", False: "ignored", None: "could not tell"}
        lines += ["", f"answered: {c['answered']} of {len(self.probes)} probes"
                  + (f" ({c['hung']}; the rest were not sent)" if c["hung"] else ""),
                  f"reasoning arrives in: {c['reasoning_field']}",
                  *(f"{s}=: {switch[v]}" + ("; yet the server's reasoning parser follows it: off, the reasoning "
                                             "of a model that still thinks arrives as the answer"
                                             if c["parser_follows"][s] else "")
                    for s, v in c["thinking_switch"].items()),
                  f"tool calls: {c['tool_calls']}" + (f" (ids: {', '.join(c['tool_call_ids'])})"
                                                      if c["tool_call_ids"] else ""),
                  f"tool-result round trip: {'accepted' if c['tool_round_trip'] else 'REFUSED'}",
                  f"markers leaking into text: {', '.join(c['leaks']) or 'none'}",
                  f"finish reasons: {', '.join(c['finish_reasons']) or '-'}",
                  "streamed and not streamed agree: "
                  + {True: "yes", False: "NO", None: "could not tell"}[c["stream_agrees"]]]
        return "\n".join(lines)


def _leaks(*texts: str) -> list[str]:
    return [m for m in MARKERS if any(m in t for t in texts)]


_INLINE = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)


def _fill(p: Probe, reasoning: str, content: str, field_name: str | None, calls: list[dict]) -> None:
    inline = _INLINE.search(content) if "<think>" in content or "</think>" in content else None
    if reasoning:
        p.reasoning_field = field_name or "reasoning_content"
    elif inline is not None or "</think>" in content:
        p.reasoning_field = "inline"
    p.reasoning, p.content = reasoning, content
    p.leaks = _leaks(reasoning, content)
    p.tool_calls = calls
    p.ok = True


def check_server(url: str, model: str | None = None, *, api_key: str | None = None, max_tokens: int = 24,
                 timeout: float = 60.0, seed: int = 7) -> ServerReport:
    """Send the probe set to ``url`` (``http://host:port/v1``) and report; an unreachable or non-OpenAI server is
    one line. A probe with no reply within ``timeout`` seconds is reported as such, and the probes after it are
    not sent (a server that stopped answering would take a timeout each)."""
    import openai

    from workbench.run.remote import RemoteChat

    chat = RemoteChat(url, model=model, api_key=api_key, timeout=timeout)
    name = chat.model  # reachability and the key are checked here, in one line
    client = chat.client
    started = time.perf_counter()
    probes: list[Probe] = []
    plan = [(f"{s}-{'on' if v else 'off'}", ASK[:1], None, {s: v}) for s in ("thinking", "enable_thinking")
            for v in (True, False)]
    plan += [("tool-declared", ASK, [WEATHER], {}), ("tool-result", ROUND_TRIP, [WEATHER], {})]
    hung = ""
    for probe_name, messages, tools, kwargs in plan:
        for stream in (False, True):
            p = Probe(probe_name, stream)
            probes.append(p)
            if hung:
                p.error = f"not sent: {hung}"
                continue
            body = dict(model=name, messages=messages, max_tokens=max_tokens, temperature=0, seed=seed,
                        extra_body={"chat_template_kwargs": kwargs} if kwargs else None)
            if tools:
                body["tools"] = tools
            try:
                if stream:
                    _streamed(client, body, p)
                else:
                    _whole(client, body, p)
            except openai.APITimeoutError:
                p.error = f"no reply within {timeout:g} s"
                hung = f"the server stopped answering at {probe_name}{' (streamed)' if stream else ''}"
            except openai.APIConnectionError as e:
                raise InputError(f"cannot reach {chat.base_url}: {e.__cause__ or e}") from None
            except openai.AuthenticationError:
                raise InputError(f"{chat.base_url} refused the API key (401): pass the server's key "
                                 "(--api-key, or OPENAI_API_KEY in the environment)") from None
            except openai.APIStatusError as e:
                p.error = f"HTTP {e.status_code}: {' '.join(str(e.message).split())[:160]}"
            except openai.OpenAIError as e:
                p.error = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return ServerReport(chat.base_url, name, probes, time.perf_counter() - started)


def _extra(obj) -> tuple[str, str | None]:
    extra = getattr(obj, "model_extra", None) or {}
    for key in ("reasoning", "reasoning_content"):
        if extra.get(key):
            return str(extra[key]), key
    return "", None


def _whole(client, body: dict, p: Probe) -> None:
    r = client.chat.completions.create(**{k: v for k, v in body.items() if v is not None})
    choice = r.choices[0]
    reasoning, field_name = _extra(choice.message)
    calls = [{"name": c.function.name, "id": c.id, "arguments": c.function.arguments}
             for c in choice.message.tool_calls or []]
    _fill(p, reasoning, choice.message.content or "", field_name, calls)
    p.finish_reason = choice.finish_reason or ""
    p.prompt_tokens = r.usage.prompt_tokens if r.usage else None


def _streamed(client, body: dict, p: Probe) -> None:
    response = client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                              **{k: v for k, v in body.items() if v is not None})
    reasoning, content, field_name = [], [], None
    calls: dict[int, dict] = {}
    try:
        for chunk in response:
            if chunk.usage:
                p.prompt_tokens = chunk.usage.prompt_tokens
            for choice in chunk.choices:
                text, key = _extra(choice.delta)
                if text:
                    reasoning.append(text)
                    field_name = field_name or key
                if choice.delta.content:
                    content.append(choice.delta.content)
                for tc in choice.delta.tool_calls or []:
                    c = calls.setdefault(tc.index, {"name": "", "id": "", "arguments": ""})
                    c["id"] = tc.id or c["id"]
                    if tc.function is not None:
                        c["name"] += tc.function.name or ""
                        c["arguments"] += tc.function.arguments or ""
                if choice.finish_reason:
                    p.finish_reason = choice.finish_reason
    finally:
        response.close()
    _fill(p, "".join(reasoning), "".join(content), field_name, list(calls.values()))

