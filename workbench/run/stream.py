"""Split a streamed Kimi reply into reasoning, answer and tool calls, token by token.

Kimi K2 Thinking / K2.5 / K2.6 replies look like
``<think>reasoning</think>answer<|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0
<|tool_call_argument_begin|>{"city":"Paris"}<|tool_call_end|><|tool_calls_section_end|><|im_end|>``
(with special tokens rendered as text). :class:`ReplyParser` consumes that text in whatever
pieces the runtime delivers and emits :class:`Event` s as soon as they are certain:

- a tag cut across pieces (``</th`` + ``ink>``) is held back until it is complete or
  proven not to be a tag, so no half tag ever reaches the screen;
- ``in_reasoning=True`` when the prompt already ended in ``<think>`` (K2.5/K2.6 thinking
  mode): the model emits only ``</think>``;
- reasoning also ends at the tool-calls section when the model skips ``</think>``;
- tool calls (``<|tool_calls_section_begin|>`` and the singular
  ``<|tool_call_section_begin|>`` some checkpoints emit) become OpenAI-style calls
  ``{"id", "type": "function", "index", "function": {"name", "arguments"}}`` with the
  canonical id ``functions.NAME:IDX`` (:func:`workbench.chat.tool_ids.canonical_id`) and never
  leak into the reasoning or the answer;
- ``<|im_end|>`` ends the reply (anything after it is ignored).

    >>> p = ReplyParser()
    >>> [e.kind for e in p.feed("<think>hm</th") + p.feed("ink>Hi") + p.finish()]
    ['reasoning', 'answer']
    >>> p.reasoning, p.answer
    ('hm', 'Hi')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from workbench.chat.tool_ids import canonical_id

THINK_OPEN, THINK_CLOSE, IM_END = "<think>", "</think>", "<|im_end|>"
SECTION_BEGIN = ("<|tool_calls_section_begin|>", "<|tool_call_section_begin|>")
SECTION_END = ("<|tool_calls_section_end|>", "<|tool_call_section_end|>")
CALL_BEGIN, ARG_BEGIN, CALL_END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
TAGS = (THINK_OPEN, THINK_CLOSE, IM_END, *SECTION_BEGIN, *SECTION_END, CALL_BEGIN, ARG_BEGIN, CALL_END)
_CALL_ID = re.compile(r"^\s*(?:functions\.)?(?P<name>[^:\s]+?)(?::(?P<index>\d+))?\s*$")


@dataclass(frozen=True)
class Event:
    kind: str  # "reasoning" | "answer" | "tool_call" | "end"
    text: str = ""
    call: dict | None = None


@dataclass
class ReplyParser:
    """Incremental reasoning / answer / tool-call splitter; see the module docstring."""

    in_reasoning: bool = False
    reasoning: str = ""
    answer: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    done: bool = False
    _state: str = field(default="", repr=False)  # start | reasoning | answer | section | call-id | call-args
    _buf: str = field(default="", repr=False)
    _call_id: str = field(default="", repr=False)
    _call_args: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self._state = "reasoning" if self.in_reasoning else "start"

    # -- public

    @property
    def thinking(self) -> bool:
        """Inside the reasoning now (what a reasoning budget counts)."""
        return self._state == "reasoning"

    def feed(self, text: str) -> list[Event]:
        """Consume the next piece of the reply; returns what became certain."""
        if self.done:
            return []
        self._buf += text
        return self._drain(final=False)

    def finish(self) -> list[Event]:
        """End of stream: flush what was held back (an unterminated tool call is kept as an error call)."""
        if self.done:
            return []
        events = self._drain(final=True)
        if self._state in ("call-id", "call-args"):
            events.append(self._close_call(complete=False))
        self.done = True
        return events

    # -- machinery

    def _emit(self, text: str) -> list[Event]:
        if not text:
            return []
        if self._state == "start":  # leading whitespace is held back by _drain until it knows what follows
            self._state = "answer"
        if self._state == "reasoning":
            self.reasoning += text
            return [Event("reasoning", text)]
        if self._state == "answer":
            self.answer += text
            return [Event("answer", text)]
        if self._state == "call-id":
            self._call_id += text
        elif self._state == "call-args":
            self._call_args += text
        return []  # text between calls inside the section is dropped

    def _drain(self, *, final: bool) -> list[Event]:
        events: list[Event] = []
        while self._buf and not self.done:
            lt = self._buf.find("<")
            if lt < 0:
                text, self._buf = self._buf, ""
                if self._state == "start" and not text.strip() and not final:
                    self._buf = text
                    break
                events += self._emit(text)
                continue
            if lt > 0:
                head, self._buf = self._buf[:lt], self._buf[lt:]
                if self._state == "start" and not head.strip():
                    pass  # whitespace before a possible <think>: decide with the tag
                else:
                    events += self._emit(head)
                    continue
                tag = self._match(self._buf)
                if tag is None:
                    events += self._emit(head)
                    continue
                if tag == "":
                    if final:
                        events += self._emit(head)
                        continue
                    self._buf = head + self._buf
                    break
                self._buf = self._buf[len(tag):]
                events += self._tag(tag, leading=head)
                continue
            tag = self._match(self._buf)
            if tag == "":  # a possible tag, cut off: wait for more
                if not final:
                    break
                tag = None
            if tag is None:
                events += self._emit("<")
                self._buf = self._buf[1:]
                continue
            self._buf = self._buf[len(tag):]
            events += self._tag(tag)
        return events

    @staticmethod
    def _match(buf: str) -> str | None:
        """The complete tag at the start of ``buf``; ``""`` when ``buf`` may still become one; None when not a tag."""
        for tag in TAGS:
            if buf.startswith(tag):
                return tag
        if any(tag.startswith(buf) for tag in TAGS):
            return ""
        return None

    def _tag(self, tag: str, leading: str = "") -> list[Event]:
        state = self._state
        if tag == IM_END:
            events = self._emit(leading) if state != "start" else []
            if state in ("call-id", "call-args"):
                events.append(self._close_call(complete=False))
            self.done = True
            return [*events, Event("end")]
        if state == "start":
            if tag == THINK_OPEN:
                self._state = "reasoning"
                return []
            self._state = "answer"
            return self._emit(leading) + self._tag(tag)
        events = self._emit(leading)
        if tag in SECTION_BEGIN and state in ("reasoning", "answer"):
            self._state = "section"  # also ends reasoning when the model skipped </think>
        elif tag == THINK_CLOSE and state == "reasoning":
            self._state = "answer"
        elif tag == THINK_OPEN and state == "answer" and not self.answer.strip():
            self._state = "reasoning"
        elif tag == CALL_BEGIN and state in ("section", "answer", "reasoning"):
            self._state, self._call_id, self._call_args = "call-id", "", ""
        elif tag == ARG_BEGIN and state == "call-id":
            self._state = "call-args"
        elif tag == CALL_END and state in ("call-id", "call-args"):
            events.append(self._close_call(complete=True))
        elif tag in SECTION_END and state == "section":
            self._state = "answer"
        elif state in ("reasoning", "answer"):
            events += self._emit(tag)  # a tag out of place is text (e.g. </think> in an answer)
        return events

    def _close_call(self, *, complete: bool) -> Event:
        m = _CALL_ID.match(self._call_id)
        name = m["name"] if m else self._call_id.strip()
        index = int(m["index"]) if m and m["index"] is not None else len(self.tool_calls)
        args = self._call_args.strip()
        call: dict = {"id": canonical_id(self._call_id, name, index), "type": "function", "index": index,
                      "function": {"name": name, "arguments": args}}
        try:
            json.loads(args or "{}")
        except json.JSONDecodeError as e:
            call["error"] = f"arguments are not JSON: {e.msg}"
        if not complete:
            call["error"] = "tool call cut off before <|tool_call_end|>"
        self.tool_calls.append(call)
        self._state = "section"
        return Event("tool_call", call=call)
