"""The demo model's script: readable replies in Kimi's reply structure from random weights.

The demo model (:func:`workbench.models.demo.make_demo_model`) has random weights: left alone it
samples any of its tokens, ``<|reserved_token_…|>`` and tool-call markers included. Its
metadata lists real words that are one token each. :class:`DemoScript` reads them and makes,
per reply, a llama-cpp-python logits processor (:meth:`DemoScript.processor`) that
**restricts** the logits; it never picks for the model:

- at a word slot only the listed words stay (the model's logits, then the sampler's
  temperature, top_p and min_p, choose among them), never the word just written;
- a sentence starts with a capitalised word and ends with ``.`` after 5 to 9 words;
- in thinking mode (the prompt ended in ``<think>``) two or three sentences of reasoning,
  then ``</think>``; then one or two sentences of answer, then ``<|im_end|>``;
- a last user message that asks for a length ("in 300 words") gets an answer that long,
  which is how the tests and a curious user get a reply long enough to Stop;
- with tools declared and the user speaking last, the reply after the reasoning is a call to
  the first tool (:meth:`DemoScript.tool_call_text`), so the tool loop can be shown; after the
  tool's result it answers.

Lengths come from a ``random.Random`` seeded with the reply's seed, or with the prompt's
token count when there is none. Only models whose metadata carries the
``workbench.demo.words`` key get a script; on any other model :meth:`DemoScript.from_model`
is None.

    >>> DemoScript.asked_words([{"role": "user", "content": "Explain MLA in 300 words"}])
    300
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from workbench.models.demo import ABOUT_KEY, STARTERS_KEY, WORDS_KEY

_ASKED = re.compile(r"(\d[\d,_]{0,9})\s*words?\b", re.IGNORECASE)
#: most words a metadata list may name (the key comes from a user's file like any other)
MAX_WORDS = 4096
#: longest answer a request for a length gets
MAX_ASKED = 1_000_000

WORD, STARTER, PERIOD, END_THINK, END = "word", "starter", "period", "end-think", "end"


@dataclass(frozen=True)
class DemoScript:
    """Token ids the script allows, read from the model (see the module docstring)."""

    about: str
    words: tuple[int, ...]
    starters: tuple[int, ...]
    period: int
    end_think: int
    end: int

    @classmethod
    def from_model(cls, llm) -> DemoScript | None:
        """The script for a llama-cpp-python ``Llama`` whose metadata names demo words; None otherwise."""
        meta = getattr(llm, "metadata", None) or {}
        if WORDS_KEY not in meta:
            return None

        def single(text: str, *, special: bool = False) -> int | None:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
            return ids[0] if len(ids) == 1 else None

        def listed(key: str) -> tuple[int, ...]:
            ids = (single(f" {w}") for w in str(meta.get(key, "")).split()[:MAX_WORDS])
            return tuple(dict.fromkeys(i for i in ids if i is not None))

        words, starters = listed(WORDS_KEY), listed(STARTERS_KEY)
        fixed = [single("."), single("</think>", special=True), single("<|im_end|>", special=True)]
        if len(words) < 2 or not starters or None in fixed:
            return None
        return cls(str(meta.get(ABOUT_KEY, "demo model")), words, starters, *fixed)

    @staticmethod
    def tool_call_text(messages: list[dict], tools: list[dict] | None) -> str | None:
        """The tool-call section the demo makes when tools are declared and the user spoke last: a call to the
        first tool, its required arguments filled (a string from the message's last capitalised word, else
        "Paris"; numbers 1; booleans true; enums their first value). None when it should answer instead."""
        if not tools or not messages or messages[-1].get("role") != "user":
            return None
        fn = next((t.get("function") for t in tools if isinstance(t, dict) and t.get("type") == "function"), None)
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return None
        content = messages[-1].get("content")
        words = re.findall(r"\b[A-Z][a-z]+\b", content if isinstance(content, str) else "")
        word = words[-1] if len(words) > 1 else "Paris"
        params = fn.get("parameters") if isinstance(fn.get("parameters"), dict) else {}
        props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
        args = {}
        for name in params.get("required") or []:
            spec = props.get(name) if isinstance(props.get(name), dict) else {}
            if spec.get("enum"):
                args[name] = spec["enum"][0]
            else:
                args[name] = {"integer": 1, "number": 1, "boolean": True}.get(spec.get("type"), word)
        return (f"<|tool_calls_section_begin|><|tool_call_begin|>functions.{fn['name']}:0<|tool_call_argument_begin|>"
                f"{json.dumps(args, separators=(',', ':'))}<|tool_call_end|><|tool_calls_section_end|>")

    @staticmethod
    def asked_words(messages: list[dict]) -> int | None:
        """The answer length the last user message asks for ("in 300 words"), if any."""
        for m in reversed(messages):
            if m.get("role") == "user":
                content = m.get("content")
                text = content if isinstance(content, str) else " ".join(
                    p.get("text", "") for p in content or [] if isinstance(p, dict))
                found = _ASKED.search(text)
                return min(int(re.sub(r"[,_]", "", found[1])), MAX_ASKED) if found else None
        return None

    def plan(self, *, thinking: bool, rng: random.Random, answer_words: int | None = None,
             call: list[int] | None = None) -> list:
        """The slots of one reply: starter, word…, period, …, end-think, …, end; with ``call`` (token ids of a
        tool-call section) the reply is the reasoning, then that call, then end."""
        def sentences(n: int) -> list[str]:
            out = []
            for _ in range(n):
                out += [STARTER] + [WORD] * (rng.randint(5, 9) - 1) + [PERIOD]
            return out

        slots = sentences(rng.randint(2, 3)) + [END_THINK] if thinking else []
        if call:
            return [*slots, *call, END]
        if answer_words:
            answer, n = [], 0
            while n < answer_words:
                for slot in sentences(1):
                    if n == answer_words:
                        break
                    answer.append(slot)
                    n += slot != PERIOD
            slots += answer + ([PERIOD] if answer[-1] != PERIOD else [])
        else:
            slots += sentences(rng.randint(1, 2))
        return [*slots, END]

    def processor(self, *, n_prompt: int, thinking: bool, messages: list[dict], seed: int | None = None,
                  call: list[int] | None = None) -> Callable:
        """A ``(input_ids, scores) -> scores`` processor for one reply whose prompt has ``n_prompt`` tokens;
        ``call`` (from :meth:`tool_call_ids`) scripts a tool call instead of an answer."""
        import numpy as np

        slots = self.plan(thinking=thinking, rng=random.Random(n_prompt if seed is None else seed),
                          answer_words=self.asked_words(messages), call=call)
        pools = {WORD: np.array(self.words), STARTER: np.array(self.starters)}
        fixed = {PERIOD: self.period, END_THINK: self.end_think, END: self.end}

        think_at = slots.index(END_THINK) if END_THINK in slots else None
        shift = [0]  # a </think> forced early (a reasoning budget) moves the plan on to the answer

        def restrict(input_ids, scores):
            step = len(input_ids) - n_prompt
            if think_at is not None and step > 0 and input_ids[-1] == self.end_think:
                shift[0] = step - 1 - think_at
            at = step - shift[0]
            slot = slots[at] if 0 <= at < len(slots) else END
            out = np.full_like(scores, -np.inf)
            if isinstance(slot, int):  # a token of a scripted tool call
                out[slot] = 0.0
                return out
            if slot in fixed:
                out[fixed[slot]] = 0.0
                return out
            pool = pools[slot]
            out[pool] = scores[pool]
            if step > 0 and len(pool) > 1:
                out[pool[pool == input_ids[-1]]] = -np.inf  # never the word just written
            return out

        return restrict
