"""A conversation with a local model: its messages, what fits the context, retry and edit, and its exports.

:class:`Conversation` keeps every message in the OpenAI shape (assistant turns carry
``reasoning_content`` and ``tool_calls``) and which of them are still in the context. A turn is
added only once its reply exists, so a message that failed to send never stays behind to grow
the next prompt.

When the conversation no longer fits (:meth:`Conversation.fit`): the prompt plus room for the
reply (``max_tokens``, at most a quarter of the context) must be within ``n_ctx``. With
``overflow="drop"`` the oldest turns leave the context one user turn at a time (a leading system
message always stays; the dropped messages stay in :attr:`messages` and are listed by
:meth:`dropped`); with ``overflow="stop"`` nothing is sent and a :class:`ContextFull` says how
many tokens the turn needs and what to do.

Exports: :meth:`request` is the OpenAI chat-completions request body that continues the
conversation (it replays against llama-server, vLLM or SGLang as it is); :attr:`prompt` is the
exact text the model read last.

    >>> conv = Conversation()
    >>> conv.add({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"})
    >>> conv.undo()                  # edit or retry the last turn: its user text comes back
    'Hi'
    >>> conv.messages
    []
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from workbench.errors import InputError

OVERFLOW = ("drop", "stop")


class ContextFull(InputError):
    """The next turn does not fit the context and the overflow choice is to stop."""


@dataclass(frozen=True)
class Fit:
    """What :meth:`Conversation.fit` decided: the messages to send, their prompt tokens, the new context start."""

    messages: list[dict]
    n_prompt: int
    start: int
    dropped: int  # messages that leave the context with this turn


def reserve_for(max_tokens: int, n_ctx: int) -> int:
    """Room a turn keeps for its reply: ``max_tokens``, at most a quarter of the context (at least 1)."""
    return max(1, min(max_tokens, n_ctx // 4))


@dataclass
class Conversation:
    """Messages, oldest first, and the index of the first one still in the context (see the module docstring)."""

    messages: list[dict] = field(default_factory=list)
    start: int = 0
    prompt: str = ""  # the exact prompt the model read for the last reply

    @property
    def has_system(self) -> bool:
        return bool(self.messages) and self.messages[0].get("role") == "system"

    def context(self) -> list[dict]:
        """The messages the next prompt holds: a leading system message, then ``messages[start:]``."""
        head = self.messages[:1] if self.has_system and self.start > 0 else []
        return head + self.messages[self.start:]

    def dropped(self) -> list[dict]:
        """Messages that have left the context (oldest turns dropped to fit)."""
        lo = 1 if self.has_system else 0
        return self.messages[lo:self.start] if self.start > lo else []

    def _next_turn(self, start: int) -> int | None:
        """Where the context starts once the oldest turn from ``start`` is dropped; None when nothing can go."""
        later = [i for i in range(start + 1, len(self.messages)) if self.messages[i].get("role") == "user"]
        return later[0] if later else (len(self.messages) if start < len(self.messages) else None)

    def fit(self, chat, user: dict, *, mode: str, max_tokens: int, overflow: str = "drop", **count) -> Fit:
        """The messages to send for ``user`` (not yet added), dropping the oldest turns or refusing per ``overflow``.

        ``chat`` needs ``count(messages, mode=, **count)`` and ``n_ctx()`` (:class:`~workbench.run.chat.LocalChat`);
        ``count`` are what else shapes the prompt (``tools=``, ``preserve_thinking=``).
        """
        if overflow not in OVERFLOW:
            raise InputError(f"unknown overflow choice {overflow!r}; valid: {', '.join(OVERFLOW)}")
        if not hasattr(chat, "count"):  # a server counts its own context: everything in context goes, the server judges
            return Fit(self.context() + [user], 0, self.start, 0)
        n_ctx = chat.n_ctx()
        reserve = reserve_for(max_tokens, n_ctx)
        first = start = max(self.start, 1 if self.has_system else 0)
        while True:
            messages = self.messages[:1 if self.has_system else 0] + self.messages[start:] + [user]
            n = chat.count(messages, mode=mode, **count)
            if n + reserve <= n_ctx:
                return Fit(messages, n, start, start - first)
            nxt = self._next_turn(start) if overflow == "drop" else None
            if nxt is None:
                break
            start = nxt
        if overflow == "stop" and self.messages[self.start:]:
            raise ContextFull(f"the conversation with this message needs {n:,} tokens plus {reserve:,} for the reply; "
                              f"the context holds {n_ctx:,}: start a New chat, drop the oldest turns, or load with a "
                              "larger context")
        raise ContextFull(f"this message alone needs {n:,} tokens plus {reserve:,} for the reply; the context holds "
                          f"{n_ctx:,}: shorten it, lower max tokens, or load with a larger context")

    def add(self, user: dict, reply: dict | list[dict], *, start: int | None = None, prompt: str | None = None) -> None:
        """Record a finished turn: the user message and the reply, or every message a tool loop added (and the
        context start :meth:`fit` chose for it)."""
        self.messages += [user, *(reply if isinstance(reply, list) else [reply])]
        if start is not None:
            self.start = start
        if prompt is not None:
            self.prompt = prompt

    def undo(self) -> str | None:
        """Remove the last user turn and what followed it; its text (None when there is no user turn)."""
        users = [i for i, m in enumerate(self.messages) if m.get("role") == "user"]
        if not users:
            return None
        last = users[-1]
        content = self.messages[last].get("content")
        del self.messages[last:]
        self.start = min(self.start, last)
        return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)

    def clear(self) -> None:
        self.messages, self.start, self.prompt = [], 0, ""

    def request(self, *, model: str, mode: str, sampling, max_tokens: int) -> dict:
        """The OpenAI chat-completions request body that continues this conversation (messages in context)."""
        messages = []
        for m in self.context():
            m = dict(m)
            if m.get("tool_calls"):
                m["tool_calls"] = [{"id": c["id"], "type": "function", "function": dict(c["function"])}
                                   for c in m["tool_calls"]]
            if not m.get("reasoning_content"):
                m.pop("reasoning_content", None)
            messages.append(m)
        return {"model": model, "messages": messages, "temperature": sampling.temperature, "top_p": sampling.top_p,
                "min_p": sampling.min_p, "max_tokens": max_tokens,
                "chat_template_kwargs": {"thinking": mode == "thinking", "enable_thinking": mode == "thinking"}}


def export(conversation: Conversation, folder, *, model: str, mode: str, sampling, max_tokens: int,
           stem: str | None = None):
    """Write ``STEM.json`` (:meth:`Conversation.request`) and ``STEM.prompt.txt`` (the last prompt) in ``folder``.

    ``stem`` defaults to ``chat-YYYYmmdd-HHMMSS``; returns both paths. Each file is written
    atomically; the folder is created.
    """
    import time
    from pathlib import Path

    from workbench.files import write_text_atomic

    if not conversation.messages:
        raise InputError("nothing to export yet: the conversation is empty")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{folder}: cannot create the export folder ({e.strerror})") from e
    stem = stem or time.strftime("chat-%Y%m%d-%H%M%S")
    body = conversation.request(model=model, mode=mode, sampling=sampling, max_tokens=max_tokens)
    paths = folder / f"{stem}.json", folder / f"{stem}.prompt.txt"
    write_text_atomic(paths[0], json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    write_text_atomic(paths[1], conversation.prompt)
    return paths
