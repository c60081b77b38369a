"""The standard conversations every Kimi template must render, as data.

Each case is a name, messages, optional tools and whether the generation prompt is asked
for; the checks and the renderer-parity table run all of them. Tool-call arguments are
given as JSON strings where clients send strings and as objects where they send objects,
so a template that re-serialises them shows its JSON style.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _call(i: int, city: str) -> dict:
    return {"id": f"functions.get_weather:{i}", "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": city}}}


@dataclass(frozen=True)
class Case:
    name: str
    messages: list[dict]
    tools: list[dict] | None = None
    add_generation_prompt: bool = True
    #: features a renderer must support for this case (for parity reporting)
    needs: frozenset[str] = field(default_factory=frozenset)


SUITE: tuple[Case, ...] = (
    Case("single-turn", [{"role": "user", "content": "Hello"}]),
    Case("with-system", [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hello"}]),
    Case("multi-turn", [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Name a prime."},
    ]),
    Case("thinking-history", [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4.", "reasoning_content": "Add two and two."},
        {"role": "user", "content": "And 3+3?"},
    ], needs=frozenset({"fields"})),
    Case("tool-declaration", [{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL],
         needs=frozenset({"tools"})),
    Case("one-tool-call", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [_call(0, "Paris")]},
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": '{"temp":"18C"}'},
    ], tools=[WEATHER_TOOL], needs=frozenset({"tools", "fields"})),
    Case("several-tool-calls", [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [_call(0, "Paris"), _call(1, "Tokyo")]},
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": '{"temp":"18C"}'},
        {"role": "tool", "tool_call_id": "functions.get_weather:1", "content": '{"temp":"22C"}'},
    ], tools=[WEATHER_TOOL], needs=frozenset({"tools", "fields"})),
    Case("content-parts-with-image", [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "image": "file:///tmp/cat.png"},
    ]}], needs=frozenset({"parts"})),
)
